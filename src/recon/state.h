/* The reconciler's view of PostgreSQL: desired state in, observations out. */
#ifndef WARREN_STATE_H
#define WARREN_STATE_H

#include <stdbool.h>

#include "arena.h"
#include "db.h"
#include "plan.h"

/* Reads all live workspaces (id NULL) or one; -1 when the database is down. */
int	state_desired(struct db *, struct arena *, const char *id,
	    struct desired **out, int *n) __attribute__((warn_unused_result));
int	state_build_begin(struct db *, struct arena *, const char *build_id);
int	state_build_finish(struct db *, struct arena *, const char *build_id,
	    bool ok, const char *error, const char *digest);
void	state_log(struct db *, struct arena *, const char *build_id,
	    const char *stream, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
int	state_deployment(struct db *, struct arena *, const struct desired *,
	    const char *host, const char *container_id, const char *ports_json,
	    const char *digest, const char *state, int exit_code);
int	state_forget(struct db *, struct arena *, const char *ws_id);
/* A build the reconciler starts for a schedule (reason) with an audit entry. */
int	state_schedule(struct db *, struct arena *, const struct desired *,
	    const char *transition, const char *reason);
int	state_dormant(struct db *, struct arena *, const struct desired *);
/* Routes of running workspaces: main port and shared ports, sorted. */
struct traefik_route;
int	state_routes(struct db *, struct arena *, const char *publish_address,
	    struct traefik_route **, int *n) __attribute__((warn_unused_result));

/* Decrypted secrets the workspace selected, as a JSON object text. */
const char *state_secrets(struct db *, struct arena *, const struct desired *,
	    const unsigned char *key, bool have_key, const char **why);

#endif
