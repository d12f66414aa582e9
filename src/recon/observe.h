/*
 * Docker's view of every workspace in one pass, and what the pass finds
 * that no live workspace wants.  Each installation touches only objects
 * labelled with its own instance id; home volumes are never removed as
 * orphans; a fuse holds a pass that would remove too many containers.
 */
#ifndef WARREN_OBSERVE_H
#define WARREN_OBSERVE_H

#include "converge.h"

struct observation {
	int	 own_containers, own_volumes;
	int	 orphan_containers;	/* this installation's, unwanted */
	int	 orphan_volumes;	/* kept: their workspace is unknown */
	int	 foreign_containers;	/* another installation's, or unowned */
	int	 foreign_volumes;
	int	 adopted;		/* made before instance labels */
	bool	 held;			/* the fuse held the removals */
};

/*
 * Fills acts (one per desired workspace) from two Docker calls, removes
 * orphan containers unless the fuse holds, records orphan volumes and
 * removes those an operator asked to; -1 when Docker does not answer.
 */
int	observe_all(struct worker *, const struct desired *, int n,
	    struct actual *acts, struct observation *);

#endif
