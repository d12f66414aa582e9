/*
 * What the workers of one host share in memory: places for the work that
 * is bounded per host.  Rate limits, shared by every host, are in
 * throttle.h.
 */
#ifndef WARREN_RATELIMIT_H
#define WARREN_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

void	ratelimit_init(void);
/* Host-wide counting semaphores; false when all places are taken. */
enum slot_kind {
	SLOT_HASHING,		/* argon2id password hashes */
	SLOT_FOLLOWING,		/* requests waiting for build log lines */
	SLOT_KINDS
};
bool	ratelimit_acquire_slot(enum slot_kind, long max);
void	ratelimit_release_slot(enum slot_kind);

#endif
