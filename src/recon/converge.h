/* Carries out one workspace's plan against Docker, step by idempotent step. */
#ifndef WARREN_CONVERGE_H
#define WARREN_CONVERGE_H

#include <stdbool.h>

#include "arena.h"
#include "conf.h"
#include "db.h"
#include "docker.h"
#include "plan.h"

struct recon_shared {
	const struct conf	*conf;
	const char		*host;		/* docker host name */
	char			 instance[40];	/* warren.instance label */
	/* Where ports are published: this host's docker_hosts row's
	 * address, or docker_publish_address. */
	char			 publish_address[CONF_STR_MAX];
	bool			 have_key;
	unsigned char		 key[32];
	int			 stop_fd;	/* readable once stopping */
};

struct worker {
	struct db		*db;
	struct docker		*docker;
	struct arena		*a;
	struct recon_shared	*shared;
};

/* Docker's view of one workspace, by its container and volume names. */
int	converge_observe(struct worker *, const struct desired *,
	    struct actual *) __attribute__((warn_unused_result));
/* The workspaces' network exists (made when missing); -1 when not. */
int	converge_network(struct worker *);
/* Runs the plan; returns the number of steps that failed. */
int	converge_run(struct worker *, const struct desired *,
	    const struct actual *, const struct plan *);

/* A pool member was claimed: the next full pass (which refills the pools)
 * comes now rather than at the next resync (leader.c). */
void	pool_refill_soon(void);

#endif
