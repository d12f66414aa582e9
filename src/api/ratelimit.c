/*
 * Places this host's workers share, in a table mapped by the master before
 * forking and guarded by a robust process-shared mutex.  (Rate limits are
 * counted in PostgreSQL, across hosts: throttle.h.)
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

struct table {
	pthread_mutex_t	mu;
	pid_t		holders[SLOT_KINDS][64];	/* pids holding a place */
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
