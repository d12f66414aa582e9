/*
 * Fixed windows keyed by a 64-bit hash of the key, in a table mapped by the
 * master before forking and guarded by a robust process-shared mutex.
 * When the table is full the oldest window in the probe sequence is
 * reused, so memory is bounded whatever the load.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#include "log.h"
#include "ratelimit.h"

#define NBUCKETS	16384
#define PROBE		16

struct bucket {
	uint64_t	key;
	int64_t		start;
	long		window;
	long		count;
};

struct table {
	pthread_mutex_t	mu;
	pid_t		holders[SLOT_KINDS][64];	/* pids holding a place */
	unsigned char	key[crypto_shorthash_KEYBYTES];
	struct bucket	b[NBUCKETS];
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
	randombytes_buf(t->key, sizeof(t->key));
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

static uint64_t
hash(const char *key)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	/* Keyed, so clients cannot aim collisions at someone's bucket. */
	crypto_shorthash(out, (const unsigned char *)key, strlen(key), t->key);
	memcpy(&h, out, sizeof(h));
	return h ? h : 1;
}

/* The bucket for key, reset when its window is over; under the lock. */
static struct bucket *
find(uint64_t h, long window, int64_t now)
{
	struct bucket *b, *victim = NULL;
	bool victim_free = false, is_free;
	size_t i;

	for (i = 0; i < PROBE; i++) {
		b = &t->b[(h + i) % NBUCKETS];
		if (b->key == h)
			goto found;
		is_free = b->key == 0 || b->start + b->window <= now;
		if (victim == NULL || (is_free && !victim_free) ||
		    (is_free == victim_free && b->start < victim->start)) {
			victim = b;
			victim_free = is_free;
		}
	}
	b = victim;
	b->key = h;
	b->start = now;
	b->count = 0;
found:
	b->window = window;
	if (b->start + window <= now) {
		b->start = now;
		b->count = 0;
	}
	return b;
}

static bool
count(const char *key, long limit, long window, int64_t now,
    long *retry_after, bool add)
{
	struct bucket *b;
	bool ok;

	if (t == NULL)
		return true;
	lock();
	b = find(hash(key), window, now);
	ok = b->count < limit;
	if (ok && add)
		b->count++;
	*retry_after = ok ? 0 : (long)(b->start + window - now);
	if (*retry_after < 1 && !ok)
		*retry_after = 1;
	unlock();
	return ok;
}

bool
ratelimit_hit(const char *key, long limit, long window, int64_t now,
    long *retry_after)
{
	return count(key, limit, window, now, retry_after, true);
}

bool
ratelimit_check(const char *key, long limit, long window, int64_t now,
    long *retry_after)
{
	return count(key, limit, window, now, retry_after, false);
}

void
ratelimit_clear(const char *key)
{
	uint64_t h;
	size_t i;

	if (t == NULL)
		return;
	h = hash(key);
	lock();
	for (i = 0; i < PROBE; i++)
		if (t->b[(h + i) % NBUCKETS].key == h) {
			t->b[(h + i) % NBUCKETS].count = 0;
			break;
		}
	unlock();
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
