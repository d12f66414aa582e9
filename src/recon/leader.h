/*
 * The active reconciler of a Docker host, on the main thread: the advisory
 * lock that elects it, the full pass on a timer (warm pools, schedules,
 * observation, host status, metrics) and the targeted passes that NOTIFY
 * and the work queue's retries ask for, and the Traefik routes.
 */
#ifndef WARREN_LEADER_H
#define WARREN_LEADER_H

#include <stdbool.h>

#include "converge.h"

/*
 * Waits for this Docker host's advisory lock; false when stopping, or
 * when once (a one-shot run) and another instance keeps it.
 */
bool	leader_elect(struct worker *, bool once);
/* A one-shot run: a full pass and what it left to read again; exit status. */
int	leader_once(struct worker *);
/* The daemon: passes until stopping, or until the lock is lost for good. */
void	leader_loop(struct worker *);
/* A run ended (any thread): the routes are written again. */
void	leader_routes_changed(void);

#endif
