/* The Traefik data plane: one full snapshot of the routes, written atomically. */
#ifndef WARREN_TRAEFIK_H
#define WARREN_TRAEFIK_H

#include <stdbool.h>

#include "arena.h"

struct traefik_route {
	const char	*short_id;
	int		 port;		/* 0: the main port */
	const char	*upstream;	/* host:port */
};

/* Pure: the YAML text for these routes (sorted by the caller). */
char	*traefik_render(struct arena *, const struct traefik_route *, int n,
	    const char *base_domain, const char *forward_url, int version);
/* Writes text to path unless it already holds exactly that: 1 written,
 * 0 unchanged, -1 error (logged). */
int	traefik_write(const char *path, const char *text);
/* Removes temporary files a crash left beside path. */
void	traefik_clean(const char *path);

#endif
