/*
 * warren-reconciler: makes Docker match the desired state in PostgreSQL.
 * Level-triggered: a full pass compares everything on a timer; NOTIFY
 * wakes a pass for just the workspace that changed.  One active instance
 * per Docker host, elected with an advisory lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "conf.h"
#include "converge.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "secretbox.h"
#include "state.h"
#include "traefik.h"
#include "util.h"

#define MAX_INFLIGHT	4096

struct job {
	struct job	*next;
	struct arena	*a;
	struct desired	 d;
	struct actual	 act;
	bool		 observed;
};

static struct conf		 conf;
static const char		*conf_path = CONF_DEFAULT_FILE;
static struct recon_shared	 shared;
static volatile sig_atomic_t	 stopping;
static int			 wake[2] = { -1, -1 };
/* Written at the first signal and never read: readable from then on. */
static int			 stop_pipe[2] = { -1, -1 };

static pthread_mutex_t	 qmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 qcv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 idle_cv = PTHREAD_COND_INITIALIZER;
static struct job	*qhead, *qtail;
static int		 busy;
static char		 inflight[MAX_INFLIGHT][40];
static bool		 dirty[MAX_INFLIGHT];
static char		 retry[MAX_INFLIGHT][40];
static int		 nretry;
/*
 * The last workspaces whose runs ended, by a sequence number: a state read
 * before a run on its workspace ended is stale (the run may have finished
 * the very build it names) and is read again instead of acted on.
 */
#define RECENT		256
static uint64_t		 release_seq;
static struct {
	char		 id[40];
	uint64_t	 seq;
}			 recent[RECENT];
static bool		 quitting;
/* Set by the workers as a run ends, taken by the main thread. */
static atomic_bool	 routes_dirty = true;
/* Set by a worker that resumed a claimed pool member. */
static atomic_bool	 refill = false;

static const struct db_stmt q_lock = {
	"recon_lock",
	"SELECT pg_try_advisory_lock(hashtextextended('warren-reconciler:'"
	" || $1, 0))", 1
};

static const struct db_stmt q_host = {
	"recon_host",
	"SELECT endpoint, tls_ca, tls_cert, tls_key FROM docker_hosts"
	" WHERE name = $1 AND enabled", 1
};

static bool	q_true(PGresult *);

static void
on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	stopping = 1;
	if (wake[1] != -1)
		(void)!write(wake[1], "x", 1);
	if (stop_pipe[1] != -1)
		(void)!write(stop_pipe[1], "x", 1);
	errno = saved;
}

static void
poke(void)
{
	(void)!write(wake[1], "x", 1);
}

void
pool_refill_soon(void)
{
	atomic_store(&refill, true);
	poke();
}

/* Puts id on the retry list, read afresh by run_retries (qmu held). */
static void
retry_later(const char *id)
{
	if (nretry < MAX_INFLIGHT)
		snprintf(retry[nretry++], sizeof(retry[0]), "%s", id);
}

/* True when a run on workspace id ended after sequence number snap. */
static bool
ended_since(const char *id, uint64_t snap)
{
	int i;

	if (release_seq - snap >= RECENT)
		return true;	/* no longer known: read again */
	for (i = 0; i < RECENT; i++)
		if (recent[i].seq > snap && strcmp(recent[i].id, id) == 0)
			return true;
	return false;
}

/*
 * Marks a workspace in flight; false when it already is (then dirty), or
 * when the state read at snap is stale (then read again).
 */
static bool
claim(const char *id, uint64_t snap)
{
	int i, free_slot = -1;

	if (ended_since(id, snap)) {
		retry_later(id);
		poke();
		return false;
	}
	for (i = 0; i < MAX_INFLIGHT; i++) {
		if (inflight[i][0] == '\0') {
			if (free_slot == -1)
				free_slot = i;
		} else if (strcmp(inflight[i], id) == 0) {
			dirty[i] = true;
			return false;
		}
	}
	if (free_slot == -1)
		return false;
	snprintf(inflight[free_slot], sizeof(inflight[0]), "%s", id);
	dirty[free_slot] = false;
	return true;
}

static void
release(const char *id)
{
	int i;

	for (i = 0; i < MAX_INFLIGHT; i++)
		if (strcmp(inflight[i], id) == 0) {
			release_seq++;
			snprintf(recent[release_seq % RECENT].id,
			    sizeof(recent[0].id), "%s", id);
			recent[release_seq % RECENT].seq = release_seq;
			if (dirty[i])
				retry_later(id);
			inflight[i][0] = '\0';
			dirty[i] = false;
			atomic_store(&routes_dirty, true);
			poke();
			if (nretry > 0)
				poke();
			return;
		}
}

/* The sequence number to read the state at, for dispatch. */
static uint64_t
snapshot(void)
{
	uint64_t snap;

	pthread_mutex_lock(&qmu);
	snap = release_seq;
	pthread_mutex_unlock(&qmu);
	return snap;
}

/* Copies d, read at snap (its strings into a job arena), and queues it. */
static void
dispatch(const struct desired *d, const struct actual *a, uint64_t snap)
{
	struct job *j;

	pthread_mutex_lock(&qmu);
	if (!claim(d->id, snap)) {
		pthread_mutex_unlock(&qmu);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("job");
	j->a = arena_new(8192);
	j->d = *d;
#define DUP(f) j->d.f = d->f ? arena_strdup(j->a, d->f) : NULL
	DUP(image); DUP(command); DUP(args); DUP(env); DUP(ports); DUP(probe);
	DUP(capabilities); DUP(restart_policy); DUP(home_path);
	DUP(parameters); DUP(secret_names);
#undef DUP
	if (a != NULL) {
		j->act = *a;
		j->observed = true;
	}
	if (qtail)
		qtail->next = j;
	else
		qhead = j;
	qtail = j;
	pthread_cond_signal(&qcv);
	pthread_mutex_unlock(&qmu);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct plan p;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&qmu);
		while (qhead == NULL && !quitting)
			pthread_cond_wait(&qcv, &qmu);
		if (qhead == NULL) {
			pthread_mutex_unlock(&qmu);
			return NULL;
		}
		j = qhead;
		if ((qhead = j->next) == NULL)
			qtail = NULL;
		busy++;
		pthread_mutex_unlock(&qmu);

		arena_reset(w->a);
		if (j->observed || converge_observe(w, &j->d, &j->act) == 0) {
			plan_decide(&j->d, &j->act, (int64_t)time(NULL), &p);
			if (p.n > 0)
				(void)converge_run(w, &j->d, &j->act, &p);
		} else
			log_warnx("workspace %s: Docker did not answer: %s",
			    j->d.short_id, docker_error(w->docker));

		pthread_mutex_lock(&qmu);
		release(j->d.id);
		busy--;
		if (busy == 0 && qhead == NULL)
			pthread_cond_broadcast(&idle_cv);
		pthread_mutex_unlock(&qmu);
		arena_free(j->a);
		free(j);
	}
}

static void
wait_idle(void)
{
	pthread_mutex_lock(&qmu);
	while (busy > 0 || qhead != NULL)
		pthread_cond_wait(&idle_cv, &qmu);
	pthread_mutex_unlock(&qmu);
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
	snap = snapshot();
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
			dispatch(&ds[i], &acts[i], snap);
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
	snap = snapshot();
	if (state_desired(main_w->db, main_w->a, id, &ds, &n) == 0 && n == 1)
		dispatch(&ds[0], NULL, snap);
}

static struct worker *
worker_new(const char *endpoint, const struct docker_tls *tls)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		fatal("worker");
	w->db = db_new(conf.db_conninfo, "warren-reconciler",
	    (int)conf.db_connect_timeout, (int)conf.db_query_timeout);
	if ((w->docker = docker_new(endpoint, tls, conf.docker_timeout))
	    == NULL)
		fatalx("docker_host: cannot use %s", endpoint);
	w->a = arena_new(64 * 1024);
	w->shared = &shared;
	return w;
}

static void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	db_free(w->db);
	docker_free(w->docker);
	arena_free(w->a);
	free(w);
}

/* Waits for the advisory lock of this Docker host; false when stopping. */
static bool	once;

static bool
lead(struct worker *w)
{
	const char *p[] = { conf.reconciler_host_name };
	bool said_lock = false, said_db = false;
	enum db_status st;
	int tries = 0;
	PGresult *r;

	while (!stopping) {
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

/* The endpoint of this host: its docker_hosts row, else the config. */
static void
endpoint(struct worker *w, char *out, size_t outlen, struct docker_tls *tls)
{
	const char *p[] = { conf.reconciler_host_name };
	PGresult *r;

	snprintf(out, outlen, "%s", conf.docker_host);
	memset(tls, 0, sizeof(*tls));
	if (db_query(w->db, w->a, &q_host, p, &r) != DB_OK ||
	    PQntuples(r) != 1)
		return;
	snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
	tls->ca = PQgetisnull(r, 0, 1) ? NULL : strdup(PQgetvalue(r, 0, 1));
	tls->cert = PQgetisnull(r, 0, 2) ? NULL : strdup(PQgetvalue(r, 0, 2));
	tls->key = PQgetisnull(r, 0, 3) ? NULL : strdup(PQgetvalue(r, 0, 3));
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

	pthread_mutex_lock(&qmu);
	n = nretry < 64 ? nretry : 64;
	for (i = 0; i < n; i++)
		memcpy(ids[i], retry[i], sizeof(ids[0]));
	nretry = 0;
	pthread_mutex_unlock(&qmu);
	for (i = 0; i < n; i++)
		targeted(w, ids[i]);
	return n;
}

static void
daemon_loop(struct worker *w)
{
	int64_t next_full = 0, t;
	struct pollfd pfd[2];
	unsigned gen = 0;
	char buf[64];
	int timeout;

	while (!stopping) {
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
			if (gen != 0 && !lead(w))
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
		if (stopping)
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

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: warren-reconciler [-n] [--once] [-c file]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct docker_tls tls;
	struct sigaction sa;
	struct worker *w, **pool;
	pthread_t *threads;
	bool check = false;
	char ep[CONF_STR_MAX], err[256];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf_path = argv[++i];
		else if (strcmp(argv[i], "--once") == 0)
			once = true;
		else if (strcmp(argv[i], "-n") == 0)
			check = true;
		else if (strcmp(argv[i], "-V") == 0) {
			printf("warren-reconciler %s\n", PACKAGE_VERSION);
			return 0;
		} else
			usage();
	}
	if (conf_load(&conf, conf_path, conf_print_error, NULL) == -1)
		return 1;
	if (check) {
		printf("%s: configuration OK\n", conf_path);
		return 0;
	}
	log_init("warren-reconciler", (enum log_level)conf.log_level);
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("could not initialise libsodium or libcurl");
	shared.conf = &conf;
	shared.host = conf.reconciler_host_name;
	shared.have_key = secretbox_load(conf.secret_key_file, shared.key, err,
	    sizeof(err)) == 0;
	if (!shared.have_key)
		log_warnx("secret_key_file: %s: workspaces that select secrets "
		    "will fail to start", err);
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	shared.stop_fd = stop_pipe[0];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (conf.traefik_file[0] != '\0')
		traefik_clean(conf.traefik_file);
	w = worker_new(conf.docker_host, NULL);
	if (!lead(w)) {
		worker_free(w);
		curl_global_cleanup();
		return once && !stopping ? 1 : 0;
	}
	if (state_instance(w->db, w->a, shared.instance,
	    sizeof(shared.instance)) == -1)
		fatalx("could not read this installation's id from the database "
		    "(table instance): run warrenctl migrate");
	log_info("installation %s: its Docker objects only", shared.instance);
	endpoint(w, ep, sizeof(ep), &tls);
	docker_free(w->docker);
	if ((w->docker = docker_new(ep, &tls, conf.docker_timeout)) == NULL)
		fatalx("cannot use Docker endpoint %s", ep);
	if (docker_negotiate(w->docker, w->a) == -1)
		log_warnx("Docker at %s does not answer yet: %s", ep,
		    docker_error(w->docker));
	else
		(void)converge_network(w);
	pool = calloc((size_t)conf.reconciler_threads, sizeof(*pool));
	threads = calloc((size_t)conf.reconciler_threads, sizeof(*threads));
	if (pool == NULL || threads == NULL)
		fatal("threads");
	for (i = 0; i < conf.reconciler_threads; i++) {
		pool[i] = worker_new(ep, &tls);
		(void)docker_negotiate(pool[i]->docker, pool[i]->a);
		if (pthread_create(&threads[i], NULL, worker_main, pool[i]))
			fatalx("could not start a thread");
	}
	int rc = 0;
	if (once) {
		rc = full_pass(w) == -1 ? 1 : 0;
		wait_idle();
		/* What was stale or busy in the pass, read afresh. */
		for (int round = 0; round < 3 && run_retries(w) > 0; round++)
			wait_idle();
		atomic_store(&routes_dirty, true);
		write_routes(w);
		write_metrics(w->a);
	} else
		daemon_loop(w);
	/*
	 * Stop: the steps in progress finish (readiness waits are cut short
	 * and left for the next run), the queue is dropped.
	 */
	pthread_mutex_lock(&qmu);
	quitting = true;
	while (qhead != NULL) {
		struct job *j = qhead;
		qhead = j->next;
		arena_free(j->a);
		free(j);
	}
	qtail = NULL;
	pthread_cond_broadcast(&qcv);
	pthread_mutex_unlock(&qmu);
	for (i = 0; i < conf.reconciler_threads; i++) {
		pthread_join(threads[i], NULL);
		worker_free(pool[i]);
	}
	free(pool);
	free(threads);
	worker_free(w);
	free((char *)tls.ca);
	free((char *)tls.cert);
	free((char *)tls.key);
	curl_global_cleanup();
	log_info("stopped");
	return rc;
}
