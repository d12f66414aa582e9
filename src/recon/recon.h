/*
 * What the reconciler's files share, defined in main.c.  The threads are
 * the main one (start-up, the leader loop of leader.c, shutdown) and the
 * workers of queue.c.  Each file keeps the rest of its state to itself,
 * and says what guards it.
 */
#ifndef WARREN_RECON_H
#define WARREN_RECON_H

#include <stdatomic.h>

#include "conf.h"

/* Loaded before the first worker starts, read-only from then on: no lock. */
extern struct conf	 conf;
/*
 * Set by the signal handler, read by the main thread.  The handler runs on
 * whichever thread the signal finds, a worker as well, and a volatile
 * sig_atomic_t orders nothing between two threads: a lock-free atomic is
 * both safe in a handler and seen by the others.
 */
extern atomic_bool	 stopping;
/*
 * The pipe that wakes the main thread's poll() in the leader loop, which
 * drains wake[0]; made before the first worker starts, never closed.
 */
extern int		 wake[2];

/* Wakes the leader loop: any thread. */
void	recon_wake(void);

#endif
