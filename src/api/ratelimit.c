/*
 * What this host's workers share, in a table mapped by the master before
 * forking and guarded by a robust process-shared mutex: places for
 * bounded work, and the parts of rate-limit windows this host has taken
 * from PostgreSQL and not used yet (throttle.h).  The lease table is
 * bounded: when a probe sequence is full, its lease nearest its end is
 * dropped (its units are only given back to no one).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "ratelimit.h"

#define NLEASES		4096
#define PROBE		8

struct lease {
	uint64_t	key;
	int64_t		until;	/* seconds of CLOCK_MONOTONIC */
	long		left;
};

struct table {
	pthread_mutex_t	mu;
	pid_t		holders[SLOT_KINDS][64];	/* pids holding a place */
	struct lease	leases[NLEASES];
};

static struct table *t;

void
ratelimit_init(void)
{
	pthread_mutexattr_t at;

	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		fatal("ratelimit: mmap");
	/* Robust: a worker killed while holding the lock cannot wedge us. */
	if (pthread_mutexattr_init(&at) != 0 ||
	    pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&t->mu, &at) != 0)
		fatalx("ratelimit: could not create the shared lock");
	pthread_mutexattr_destroy(&at);
}

static void
lock(void)
{
	if (pthread_mutex_lock(&t->mu) == EOWNERDEAD)
		pthread_mutex_consistent(&t->mu);
}

static void
unlock(void)
{
	pthread_mutex_unlock(&t->mu);
}

/* Places held by workers that died are taken back. */
bool
ratelimit_acquire_slot(enum slot_kind kind, long max)
{
	pid_t me = getpid();
	long i;
	bool ok = false;

	if (t == NULL)
		return true;
	if (max > 64)
		max = 64;
	lock();
	for (i = 0; i < max && !ok; i++)
		if (t->holders[kind][i] == 0 ||
		    (kill(t->holders[kind][i], 0) == -1 && errno == ESRCH)) {
			t->holders[kind][i] = me;
			ok = true;
		}
	unlock();
	return ok;
}

void
ratelimit_release_slot(enum slot_kind kind)
{
	pid_t me = getpid();
	size_t i;

	if (t == NULL)
		return;
	lock();
	for (i = 0; i < 64; i++)
		if (t->holders[kind][i] == me) {
			t->holders[kind][i] = 0;
			break;
		}
	unlock();
}

/* FNV-1a: the keys are Warren's own ("token:<id>"), never a client's. */
static uint64_t
key_hash(const char *key)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return h ? h : 1;
}

/* key's lease, or the place to put it: under the lock. */
static struct lease *
lease_find(uint64_t h, int64_t now, bool make)
{
	struct lease *l, *victim = NULL;
	size_t i;

	for (i = 0; i < PROBE; i++) {
		l = &t->leases[(h + i) % NLEASES];
		if (l->key == h)
			return l;
		if (victim == NULL || l->key == 0 || l->until <= now ||
		    (victim->key != 0 && victim->until > now &&
		    l->until < victim->until))
			victim = l;
	}
	if (!make)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->key = h;
	return victim;
}

bool
ratelimit_lease_take(const char *key, int64_t now)
{
	struct lease *l;
	bool ok = false;

	if (t == NULL)
		return false;
	lock();
	if ((l = lease_find(key_hash(key), now, false)) != NULL &&
	    l->until > now && l->left > 0) {
		l->left--;
		ok = true;
	}
	unlock();
	return ok;
}

void
ratelimit_lease_add(const char *key, int64_t until, long units, int64_t now)
{
	struct lease *l;

	if (t == NULL || units <= 0)
		return;
	lock();
	l = lease_find(key_hash(key), now, true);
	/* A lease of a window that is over is worth nothing. */
	if (l->until <= now)
		l->left = 0;
	l->left += units;
	if (until > l->until)
		l->until = until;
	unlock();
}
