/*
 * What the workers of one host share in memory: places for the work that
 * is bounded per host, and leases of rate-limit windows.  The windows
 * themselves, shared by every host, are in throttle.h.
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
/*
 * Leases: units of a rate-limit window this host took from PostgreSQL
 * (throttle.h) and has not used, good until a time of CLOCK_MONOTONIC in
 * seconds.  take uses one (false when the host has none for key); add
 * keeps units more.
 */
bool	ratelimit_lease_take(const char *key, int64_t now);
void	ratelimit_lease_add(const char *key, int64_t until, long units,
	    int64_t now);

#endif
