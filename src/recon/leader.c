/*
 * The active reconciler of a Docker host, on the main thread.  Level-
 * triggered: a full pass compares everything on a timer; NOTIFY wakes a
 * pass for just the workspace that changed.  The passes read the state
 * and queue the runs (queue.c); the workers carry them out.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leader.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "queue.h"
#include "recon.h"
#include "state.h"
#include "traefik.h"
#include "util.h"

/* Set by the workers as a run ends, taken by the main thread. */
static atomic_bool	 routes_dirty = true;
/* Set by a worker that resumed a claimed pool member. */
static atomic_bool	 refill = false;

static const struct db_stmt q_lock = {
	"recon_lock",
	"SELECT pg_try_advisory_lock(hashtextextended('warren-reconciler:'"
	" || $1, 0))", 1
};

static bool	q_true(PGresult *);

void
pool_refill_soon(void)
{
	atomic_store(&refill, true);
	recon_wake();
}

void
leader_routes_changed(void)
{
	atomic_store(&routes_dirty, true);
}

/*
 * Whether Docker answers, recorded when it changes: a running workspace on
 * a host that does not answer is "unknown" in the API, and each build
 * waiting for the host says so in its log, once.  Full passes only (the
 * main thread).
 */
#define MAX_TOLD	256
static int	docker_up = -1;		/* -1: not yet recorded */
static char	told[MAX_TOLD][40];

static bool
host_answers(struct worker *w, bool up, const struct desired *ds, int n)
{
	bool changed = false;
	const char *why = up ? NULL : docker_error(w->docker);
	int i, k, free_slot;

	if (docker_up != (int)up && state_host_status(w->db, w->a,
	    conf.reconciler_host_name, up, why) == 0) {
		if (docker_up != -1)
			log_info("Docker host %s %s", conf.reconciler_host_name,
			    up ? "answers again" : "does not answer: workspaces "
			    "on it are unknown until it does");
		docker_up = up;
		changed = true;
	}
	metrics_docker_up(up);
	if (up) {
		memset(told, 0, sizeof(told));
		return changed;
	}
	for (i = 0; i < n; i++) {
		if (!ds[i].has_build)
			continue;
		for (k = 0, free_slot = -1; k < MAX_TOLD; k++) {
			if (strcmp(told[k], ds[i].build_id) == 0)
				break;
			if (told[k][0] == '\0' && free_slot == -1)
				free_slot = k;
		}
		if (k < MAX_TOLD || free_slot == -1)
			continue;
		snprintf(told[free_slot], sizeof(told[0]), "%s", ds[i].build_id);
		state_log(w->db, w->a, ds[i].build_id, "system", "waiting for "
		    "the Docker host %s, which does not answer; the %s goes on "
		    "when it does", conf.reconciler_host_name,
		    ds[i].transition);
	}
	return changed;
}

/*
 * Workspaces by the status the view gives them (pool members are nobody's:
 * counted apart), read again when this pass changed what the view says of
 * the host.
 */
static int
count_statuses(struct worker *w, struct desired *ds, int n, bool reread)
{
	int i;

	if (reread && state_desired(w->db, w->a, NULL, &ds, &n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (!ds[i].pooled)
			metrics_status(ds[i].status, 1);
	return 0;
}

/* Schedules due now become builds (each audited and notified). */
static int
schedules(struct db *db, struct arena *a, struct desired *ds, int n)
{
	const char *reason;
	int i, made = 0;

	for (i = 0; i < n; i++)
		switch (plan_schedule(&ds[i], (int64_t)time(NULL),
		    conf.dormancy_after_days, conf.dormancy_delete_after_days,
		    &reason)) {
		case SCHED_NONE:
			break;
		case SCHED_STOP:
			log_info("workspace %s: stopping (%s)", ds[i].short_id,
			    reason);
			made += state_schedule(db, a, &ds[i], "stop", reason)
			    == 0;
			break;
		case SCHED_DORMANT:
			log_info("workspace %s: dormant", ds[i].short_id);
			made += state_dormant(db, a, &ds[i]) == 0;
			break;
		case SCHED_DELETE:
			log_info("workspace %s: deleting (dormancy)",
			    ds[i].short_id);
			made += state_schedule(db, a, &ds[i], "delete",
			    reason) == 0;
			break;
		}
	return made;
}

/* The Traefik snapshot, when Traefik is the data plane. */
static void
write_routes(struct worker *w)
{
	struct traefik_route *r;
	int n;

	if (conf.traefik_file[0] == '\0' || !atomic_exchange(&routes_dirty,
	    false))
		return;
	arena_reset(w->a);
	if (state_routes(w->db, w->a, conf.docker_publish_address, &r, &n)
	    == -1) {
		atomic_store(&routes_dirty, true);
		return;
	}
	if (traefik_write(conf.traefik_file, traefik_render(w->a, r, n,
	    conf.base_domain, conf.traefik_forward_url,
	    (int)conf.traefik_version)) == 1)
		log_info("wrote %d routes to %s", n, conf.traefik_file);
}

static void
write_metrics(struct arena *a)
{
	char *text;

	if (conf.reconciler_metrics_file[0] == '\0')
		return;
	text = metrics_text(a);
	if (atomic_write(conf.reconciler_metrics_file, text, strlen(text),
	    0644) == -1)
		log_warn("could not write %s", conf.reconciler_metrics_file);
}

static int
full_pass(struct worker *main_w)
{
	struct timespec t0, t1;
	struct observation o;
	struct desired *ds;
	struct actual *acts;
	struct plan p;
	uint64_t snap;
	int n, i, made, gone;
	bool changed;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	arena_reset(main_w->a);
	/* Warm pools to their size first: new members start in this pass. */
	if (state_pools(main_w->db, main_w->a, &made, &gone) == -1)
		log_warnx("could not bring the warm pools to their size");
	else if (made > 0 || gone > 0)
		log_info("warm pools: %d members made, %d asked to go", made,
		    gone);
	if (state_expire_windows(main_w->db, main_w->a) == -1)
		log_warnx("could not remove old rate-limit windows");
	snap = queue_snapshot();
	if (state_desired(main_w->db, main_w->a, NULL, &ds, &n) == -1)
		return -1;
	if (schedules(main_w->db, main_w->a, ds, n) > 0 &&
	    state_desired(main_w->db, main_w->a, NULL, &ds, &n) == -1)
		return -1;
	acts = arena_alloc(main_w->a, sizeof(*acts) * (size_t)(n ? n : 1));
	if (observe_all(main_w, ds, n, acts, &o) == -1) {
		log_warnx("Docker did not answer: %s",
		    docker_error(main_w->docker));
		changed = host_answers(main_w, false, ds, n);
		metrics_pass(0, n);
		count_statuses(main_w, ds, n, changed);
		write_metrics(main_w->a);
		return -1;
	}
	changed = host_answers(main_w, true, ds, n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_pass((double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, n);
	if (count_statuses(main_w, ds, n, changed) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (ds[i].pooled)
			metrics_pool_member(acts[i].paused && !ds[i].has_build,
			    ds[i].has_build && strcmp(ds[i].transition,
			    "start") == 0);
		plan_decide(&ds[i], &acts[i], (int64_t)time(NULL), &p);
		if (p.n > 0)
			queue_dispatch(&ds[i], &acts[i], snap);
	}
	atomic_store(&routes_dirty, true);
	write_metrics(main_w->a);
	return 0;
}

static void
targeted(struct worker *main_w, const char *id)
{
	struct desired *ds;
	uint64_t snap;
	int n;

	arena_reset(main_w->a);
	snap = queue_snapshot();
	if (state_desired(main_w->db, main_w->a, id, &ds, &n) == 0 && n == 1)
		queue_dispatch(&ds[0], NULL, snap);
}

/* Waits for the advisory lock of this Docker host; false when stopping. */
bool
leader_elect(struct worker *w, bool once)
{
	const char *p[] = { conf.reconciler_host_name };
	bool said_lock = false, said_db = false;
	enum db_status st;
	int tries = 0;
	PGresult *r;

	while (!atomic_load(&stopping)) {
		arena_reset(w->a);
		if ((st = db_query(w->db, w->a, &q_lock, p, &r)) == DB_OK &&
		    q_true(r)) {
			log_info("active reconciler for Docker host %s",
			    conf.reconciler_host_name);
			return true;
		}
		if (st == DB_OK && !said_lock) {
			log_info("another reconciler is active for %s: waiting",
			    conf.reconciler_host_name);
			said_lock = true;
		} else if (st != DB_OK && !said_db) {
			log_warnx("the database does not answer: waiting");
			said_db = true;
		}
		/* One-shot runs from cron or a timer do not wait forever. */
		if (once && ++tries >= 30) {
			log_warnx("giving up: not the active reconciler");
			return false;
		}
		(void)poll(NULL, 0, 1000);
	}
	return false;
}

static bool
q_true(PGresult *r)
{
	return PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
}

static bool
listen_wakeups(struct worker *w)
{
	PGresult *r;

	return db_exec(w->db, w->a, "LISTEN warren_reconcile", &r) == DB_OK;
}

static void
drain_notifications(struct worker *w)
{
	PGconn *c = db_conn(w->db);
	char ids[64][40];
	int n = 0, i, k;
	PGnotify *note;

	if (c == NULL || !PQconsumeInput(c))
		return;
	while ((note = PQnotifies(c)) != NULL) {
		/* A template changed what the warm pools want. */
		if (strcmp(note->extra, "pools") == 0) {
			atomic_store(&refill, true);
			PQfreemem(note);
			continue;
		}
		for (k = 0; k < n && strcmp(ids[k], note->extra) != 0; k++)
			;
		if (k == n && n < 64 && strlen(note->extra) < sizeof(ids[0]))
			snprintf(ids[n++], sizeof(ids[0]), "%s", note->extra);
		PQfreemem(note);
	}
	for (i = 0; i < n; i++)
		targeted(w, ids[i]);
}

/* Reads afresh and dispatches what is on the retry list; how many. */
static int
run_retries(struct worker *w)
{
	char ids[64][40];
	int n, i;

	n = queue_retries(ids, 64);
	for (i = 0; i < n; i++)
		targeted(w, ids[i]);
	return n;
}

void
leader_loop(struct worker *w)
{
	int64_t next_full = 0, t;
	struct pollfd pfd[2];
	unsigned gen = 0;
	char buf[64];
	int timeout;

	while (!atomic_load(&stopping)) {
		if (db_conn(w->db) == NULL ||
		    PQstatus(db_conn(w->db)) != CONNECTION_OK) {
			/* Back as soon as the database is: LISTEN is gone. */
			PGresult *r;
			arena_reset(w->a);
			if (db_exec(w->db, w->a, "SELECT 1", &r) != DB_OK) {
				(void)poll(NULL, 0, 1000);
				continue;
			}
		}
		if (db_generation(w->db) != gen) {
			/* A new session: the lock and LISTEN are gone. */
			if (gen != 0 && !leader_elect(w, false))
				break;
			if (!listen_wakeups(w)) {
				(void)poll(NULL, 0, 1000);
				continue;
			}
			gen = db_generation(w->db);
			next_full = 0;
		}
		if (atomic_exchange(&refill, false))
			next_full = 0;
		if ((t = now_ms()) >= next_full) {
			if (full_pass(w) == -1)
				next_full = t + 1000;	/* retry soon */
			else
				next_full = t + conf.reconciler_resync * 1000;
		}
		/*
		 * A notification that came in with a query's answer waits in
		 * libpq, not on the socket: poll() would not wake for it.
		 */
		drain_notifications(w);
		timeout = (int)(next_full - now_ms());
		if (timeout < 0)
			timeout = 0;
		pfd[0].fd = wake[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = db_conn(w->db) ? PQsocket(db_conn(w->db)) : -1;
		pfd[1].events = POLLIN;
		if (pfd[1].fd < 0 && timeout > 1000)
			timeout = 1000;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			fatal("poll");
		while (read(wake[0], buf, sizeof(buf)) > 0)
			;
		if (atomic_load(&stopping))
			break;
		if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP |
		    POLLERR))) {
			drain_notifications(w);
			if (PQstatus(db_conn(w->db)) != CONNECTION_OK) {
				PGresult *r;
				arena_reset(w->a);
				if (db_exec(w->db, w->a, "SELECT 1", &r)
				    != DB_OK)
					log_debug("database not back yet");
			}
		}
		(void)run_retries(w);
		write_routes(w);
	}
}

int
leader_once(struct worker *w)
{
	int rc;

	rc = full_pass(w) == -1 ? 1 : 0;
	queue_wait_idle();
	/* What was stale or busy in the pass, read afresh. */
	for (int round = 0; round < 3 && run_retries(w) > 0; round++)
		queue_wait_idle();
	atomic_store(&routes_dirty, true);
	write_routes(w);
	write_metrics(w->a);
	return rc;
}
