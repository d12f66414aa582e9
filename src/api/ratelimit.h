/* Rate-limit counters shared by all workers of a host (shared memory). */
#ifndef WARREN_RATELIMIT_H
#define WARREN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

void	ratelimit_init(void);
/* Counts one event; false (and seconds to wait) when over the limit. */
bool	ratelimit_hit(const char *key, long limit, long window, int64_t now,
	    long *retry_after);
/* Only looks: false when the key is already at its limit. */
bool	ratelimit_check(const char *key, long limit, long window, int64_t now,
	    long *retry_after);
void	ratelimit_clear(const char *key);
/* Host-wide counting semaphores; false when all places are taken. */
enum slot_kind {
	SLOT_HASHING,		/* argon2id password hashes */
	SLOT_FOLLOWING,		/* requests waiting for build log lines */
	SLOT_KINDS
};
bool	ratelimit_acquire_slot(enum slot_kind, long max);
void	ratelimit_release_slot(enum slot_kind);

#endif
