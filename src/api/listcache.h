/* Answers of workspace lists and owners' workspace reads, kept per worker
 * until the owner's workspaces change (PostgreSQL NOTIFY), the connection
 * changes, or they age out. */
#ifndef WARREN_LISTCACHE_H
#define WARREN_LISTCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "db.h"

/* The answer kept for the owner's list with this query string (a copy in
 * the arena), or NULL.  owner: a lower-case id. */
const char	*lc_get(struct db *, struct arena *, const char *owner,
		    const char *query, size_t *len);
/* Keeps an answer just read (after lc_get gave NULL). */
void		 lc_put(struct db *, struct arena *, const char *owner,
		    const char *query, const char *body, size_t len);
void		 lc_flush(void);
/* Reads the notifications that came in: after each request, and at least
 * once a second while idle when lc_listening(). */
void		 lc_idle(struct db *);
/*
 * For other caches of what the database says: brings in the notifications
 * that came (warren_workspaces, and warren_access: see
 * sql/0015_access_changes.sql); false when none can be trusted to come.
 * lc_epoch() moves on at each, and whenever the connection changes: a
 * value read under an older epoch may be stale.
 */
bool		 lc_sync(struct db *, struct arena *);
unsigned long	 lc_epoch(void);
bool		 lc_listening(void);

#endif
