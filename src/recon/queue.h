/*
 * The work queue: workspaces in flight, the jobs queued for them, and the
 * worker threads that carry the jobs out.  Everything here is guarded by
 * one lock inside queue.c; the functions below take it themselves.
 */
#ifndef WARREN_QUEUE_H
#define WARREN_QUEUE_H

#include <stdint.h>

#include "converge.h"
#include "plan.h"

/* One thread for each of the n workers of pool, which outlive them. */
void	queue_start(struct worker **pool, int n);
/*
 * Stops: the runs in progress finish, the queued jobs are dropped, the
 * threads are joined.  Main thread only.
 */
void	queue_stop(void);
/* The sequence number to read the state at, for queue_dispatch. */
uint64_t queue_snapshot(void);
/*
 * Queues a run of d (a copy), read at snap; a, when not NULL, is what a
 * full pass observed of it.  Nothing when d is in flight already (it is
 * run again after) or the state read at snap is stale (read again).
 */
void	queue_dispatch(const struct desired *d, const struct actual *a,
	    uint64_t snap);
/* Waits until no job is queued or running. */
void	queue_wait_idle(void);
/* Takes at most max ids off the list to read afresh; how many. */
int	queue_retries(char (*ids)[40], int max);

#endif
