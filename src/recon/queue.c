/*
 * The work queue and its worker threads.  The main thread queues a run of
 * a workspace (queue_dispatch); a worker takes it, observes the workspace
 * unless the full pass just did, plans and converges.  A workspace has one
 * run at a time: one asked for while it runs is run again after it ends.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "leader.h"
#include "log.h"
#include "queue.h"
#include "recon.h"

#define MAX_INFLIGHT	4096

struct job {
	struct job	*next;
	struct arena	*a;
	struct desired	 d;
	struct actual	 act;
	bool		 observed;
};

/*
 * qmu guards everything from here to the next comment: the queue, the
 * workspaces in flight and those to read again, the recent ends and the
 * quitting flag.  qcv wakes a worker for a job, idle_cv the main thread
 * in queue_wait_idle.
 */
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

/* The threads, started and joined by the main thread only: no lock. */
static pthread_t	*threads;
static int		 nthreads;

/* Puts id on the retry list, taken by queue_retries (qmu held). */
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
		recon_wake();
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
			leader_routes_changed();
			recon_wake();
			if (nretry > 0)
				recon_wake();
			return;
		}
}

uint64_t
queue_snapshot(void)
{
	uint64_t snap;

	pthread_mutex_lock(&qmu);
	snap = release_seq;
	pthread_mutex_unlock(&qmu);
	return snap;
}

/* Copies d (its strings into a job arena) and queues it. */
void
queue_dispatch(const struct desired *d, const struct actual *a, uint64_t snap)
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

void
queue_wait_idle(void)
{
	pthread_mutex_lock(&qmu);
	while (busy > 0 || qhead != NULL)
		pthread_cond_wait(&idle_cv, &qmu);
	pthread_mutex_unlock(&qmu);
}

int
queue_retries(char (*ids)[40], int max)
{
	int n, i;

	pthread_mutex_lock(&qmu);
	n = nretry < max ? nretry : max;
	for (i = 0; i < n; i++)
		memcpy(ids[i], retry[i], sizeof(ids[0]));
	nretry = 0;
	pthread_mutex_unlock(&qmu);
	return n;
}

void
queue_start(struct worker **pool, int n)
{
	int i;

	if ((threads = calloc((size_t)n, sizeof(*threads))) == NULL)
		fatal("threads");
	for (i = 0; i < n; i++)
		if (pthread_create(&threads[i], NULL, worker_main, pool[i]))
			fatalx("could not start a thread");
	nthreads = n;
}

void
queue_stop(void)
{
	int i;

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
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	nthreads = 0;
}
