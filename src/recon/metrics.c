/* The reconciler's Prometheus metrics, shared by its threads. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "converge.h"
#include "metrics.h"
#include "wstatus.h"

#define NB	12
static const double le[NB - 1] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10 };

struct hist {
	unsigned long long	b[NB];
	double			sum;
	unsigned long long	n;
};

static const char *const transitions[] = { "start", "stop", "restart",
	"update", "delete" };
#define NT	5

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long steps[STEP_COUNT][2];
static struct hist docker_h, pass_h, build_h[NT][2];
static int by_status[WS_STATUS_COUNT];
/* Warm pools' unclaimed members: ready (paused), starting, other. */
static int pool_members[3];
static int last_workspaces;
static struct {
	int	foreign_containers, foreign_volumes, orphan_volumes, held;
	int	adopted;
} own;
static int docker_up = 1;

static void
observe(struct hist *h, double v)
{
	int i;

	for (i = 0; i < NB - 1 && v > le[i]; i++)
		;
	h->b[i]++;
	h->sum += v;
	h->n++;
}

void
metrics_step(enum step s, bool ok)
{
	pthread_mutex_lock(&mu);
	steps[s][ok ? 0 : 1]++;
	pthread_mutex_unlock(&mu);
}

void
metrics_docker(double seconds)
{
	pthread_mutex_lock(&mu);
	observe(&docker_h, seconds);
	pthread_mutex_unlock(&mu);
}

void
metrics_build(const char *transition, double seconds, bool ok)
{
	int i;

	for (i = 0; i < NT && strcmp(transitions[i], transition) != 0; i++)
		;
	if (i == NT)
		return;
	pthread_mutex_lock(&mu);
	observe(&build_h[i][ok ? 0 : 1], seconds);
	pthread_mutex_unlock(&mu);
}

void
metrics_pass(double seconds, int workspaces)
{
	pthread_mutex_lock(&mu);
	observe(&pass_h, seconds);
	last_workspaces = workspaces;
	memset(by_status, 0, sizeof(by_status));
	memset(pool_members, 0, sizeof(pool_members));
	pthread_mutex_unlock(&mu);
}

void
metrics_status(int status, int n)
{
	if (status < 0 || status >= WS_STATUS_COUNT)
		return;
	pthread_mutex_lock(&mu);
	by_status[status] += n;
	pthread_mutex_unlock(&mu);
}

void
metrics_pool_member(bool ready, bool starting)
{
	pthread_mutex_lock(&mu);
	pool_members[ready ? 0 : starting ? 1 : 2]++;
	pthread_mutex_unlock(&mu);
}

void
metrics_docker_up(bool up)
{
	pthread_mutex_lock(&mu);
	docker_up = up;
	pthread_mutex_unlock(&mu);
}

void
metrics_observation(int foreign_containers, int foreign_volumes,
    int orphan_volumes, int held_containers, int adopted)
{
	pthread_mutex_lock(&mu);
	own.foreign_containers = foreign_containers;
	own.foreign_volumes = foreign_volumes;
	own.orphan_volumes = orphan_volumes;
	own.held = held_containers;
	own.adopted = adopted;
	pthread_mutex_unlock(&mu);
}

static char *
hist(struct arena *a, char *out, const char *name, const char *labels,
    const struct hist *h)
{
	unsigned long long cum = 0;
	int i;

	for (i = 0; i < NB; i++) {
		cum += h->b[i];
		if (i < NB - 1)
			out = arena_printf(a, "%s%s_bucket{%s%sle=\"%g\"} %llu\n",
			    out, name, labels, *labels ? "," : "", le[i], cum);
		else
			out = arena_printf(a, "%s%s_bucket{%s%sle=\"+Inf\"} "
			    "%llu\n", out, name, labels, *labels ? "," : "", cum);
	}
	return arena_printf(a, "%s%s_sum{%s} %.6f\n%s_count{%s} %llu\n", out,
	    name, labels, h->sum, name, labels, h->n);
}

char *
metrics_text(struct arena *a)
{
	char *out;
	int i, k;

	pthread_mutex_lock(&mu);
	out = arena_strdup(a, "# HELP warren_reconciler_pass_seconds Time of "
	    "a full pass.\n# TYPE warren_reconciler_pass_seconds histogram\n");
	out = hist(a, out, "warren_reconciler_pass_seconds", "", &pass_h);
	out = arena_printf(a, "%s# HELP warren_reconciler_actions_total Steps "
	    "taken, by type and result.\n# TYPE warren_reconciler_actions_total"
	    " counter\n", out);
	for (i = 0; i < STEP_COUNT; i++)
		for (k = 0; k < 2; k++)
			out = arena_printf(a, "%swarren_reconciler_actions_total"
			    "{action=\"%s\",result=\"%s\"} %llu\n", out,
			    step_names[i], k ? "failure" : "success",
			    steps[i][k]);
	out = arena_printf(a, "%s# HELP warren_reconciler_docker_seconds Docker "
	    "API call latency.\n# TYPE warren_reconciler_docker_seconds "
	    "histogram\n", out);
	out = hist(a, out, "warren_reconciler_docker_seconds", "", &docker_h);
	out = arena_printf(a, "%s# HELP warren_reconciler_build_seconds Build "
	    "durations by transition.\n# TYPE warren_reconciler_build_seconds "
	    "histogram\n", out);
	for (i = 0; i < NT; i++)
		for (k = 0; k < 2; k++)
			out = hist(a, out, "warren_reconciler_build_seconds",
			    arena_printf(a, "transition=\"%s\",result=\"%s\"",
			    transitions[i], k ? "failed" : "succeeded"),
			    &build_h[i][k]);
	out = arena_printf(a, "%s# HELP warren_workspaces Workspaces by status "
	    "at the last full pass.\n# TYPE warren_workspaces gauge\n", out);
	for (i = 0; i < WS_STATUS_COUNT; i++)
		out = arena_printf(a, "%swarren_workspaces{status=\"%s\"} %d\n",
		    out, ws_status_name(i), by_status[i]);
	out = arena_printf(a, "%swarren_reconciler_workspaces %d\n", out,
	    last_workspaces);
	out = arena_printf(a, "%s# HELP warren_pool_members Unclaimed members "
	    "of warm pools at the last full pass: ready (paused), starting, "
	    "other (failed, being removed).\n# TYPE warren_pool_members gauge\n"
	    "warren_pool_members{state=\"ready\"} %d\n"
	    "warren_pool_members{state=\"starting\"} %d\n"
	    "warren_pool_members{state=\"other\"} %d\n", out,
	    pool_members[0], pool_members[1], pool_members[2]);
	out = arena_printf(a, "%s# HELP warren_reconciler_foreign_objects "
	    "Docker objects of other installations (or unowned), left alone."
	    "\n# TYPE warren_reconciler_foreign_objects gauge\n"
	    "warren_reconciler_foreign_objects{kind=\"container\"} %d\n"
	    "warren_reconciler_foreign_objects{kind=\"volume\"} %d\n"
	    "# HELP warren_reconciler_orphan_volumes Home volumes of this "
	    "installation whose workspace the database does not know, kept.\n"
	    "# TYPE warren_reconciler_orphan_volumes gauge\n"
	    "warren_reconciler_orphan_volumes %d\n"
	    "# HELP warren_reconciler_removals_held Orphan containers the "
	    "removal fuse holds back (0: none).\n"
	    "# TYPE warren_reconciler_removals_held gauge\n"
	    "warren_reconciler_removals_held %d\n"
	    "# HELP warren_reconciler_adopted_objects Objects made before "
	    "instance labels, adopted.\n"
	    "# TYPE warren_reconciler_adopted_objects gauge\n"
	    "warren_reconciler_adopted_objects %d\n"
	    "# HELP warren_reconciler_docker_up Whether the Docker host "
	    "answered the last full pass.\n"
	    "# TYPE warren_reconciler_docker_up gauge\n"
	    "warren_reconciler_docker_up %d\n", out,
	    own.foreign_containers, own.foreign_volumes, own.orphan_volumes,
	    own.held, own.adopted, docker_up);
	pthread_mutex_unlock(&mu);
	return out;
}
