/* Counters in shared memory, one slot per worker, summed on scrape. */
#ifndef WARREN_METRICS_H
#define WARREN_METRICS_H

#include <stddef.h>

#include "arena.h"
#include "db.h"

#define METRICS_MAX_SLOTS	256

enum restart_reason {
	RESTART_CRASH,
	RESTART_RECYCLE,
	RESTART_NREASONS
};

enum list_cache_event {
	LIST_CACHE_HIT,
	LIST_CACHE_MISS,
	LIST_CACHE_INVALIDATED,
	LIST_CACHE_NEVENTS
};

void	 metrics_init(size_t nroutes);
void	 metrics_use_slot(int slot);
void	 metrics_request(size_t route, unsigned method, int status,
	    double seconds);
void	 metrics_db_error(enum db_error_kind);
void	 metrics_restart(enum restart_reason);
void	 metrics_list_cache(enum list_cache_event);
void	 metrics_set_workers(int);
char	*metrics_render(struct arena *, const char *const *route_labels,
	    size_t *len);

#endif
