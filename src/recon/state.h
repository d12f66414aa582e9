/* The reconciler's view of PostgreSQL: desired state in, observations out. */
#ifndef WARREN_STATE_H
#define WARREN_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "db.h"
#include "plan.h"

/* Reads all live workspaces (id NULL) or one; -1 when the database is down. */
int	state_desired(struct db *, struct arena *, const char *id,
	    struct desired **out, int *n) __attribute__((warn_unused_result));
/* Warm pools brought to their size (sql/0016_pools.sql): how many members
 * were made and how many asked to go. */
int	state_pools(struct db *, struct arena *, int *made, int *removed);
/* Removes the API's rate-limit windows over a day old. */
int	state_expire_windows(struct db *, struct arena *);
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
/* Routes of running workspaces: main port and shared ports, sorted, each
 * to its Docker host's publish address (publish_address for a host that
 * has none of its own). */
struct traefik_route;
int	state_routes(struct db *, struct arena *, const char *publish_address,
	    struct traefik_route **, int *n) __attribute__((warn_unused_result));

/* The first start's initialization ran: never again. */
int	state_initialized(struct db *, struct arena *, const char *id);

/* Decrypted secrets the workspace selected, as a JSON object text. */
const char *state_secrets(struct db *, struct arena *, const struct desired *,
	    const unsigned char *key, bool have_key, const char **why);

/* The X-Registry-Auth value for pulls from registry (as image references
 * name it, "docker.io" for Docker Hub); NULL when it has no credentials,
 * or, with *why set, when they cannot be read. */
const char *state_registry_auth(struct db *, struct arena *,
	    const char *registry, const unsigned char *key, bool have_key,
	    const char **why);

/* This installation's id (instance.instance_id), for Docker labels. */
int	state_instance(struct db *, struct arena *, char *out, size_t len)
	    __attribute__((warn_unused_result));
/* Records the orphan home volumes seen on host (a JSON array of
 * {"name", "workspace"}); the names an operator asked to remove. */
int	state_orphan_volumes(struct db *, struct arena *, const char *host,
	    const char *seen_json, char ***remove, int *n)
	    __attribute__((warn_unused_result));
int	state_orphan_volume_gone(struct db *, struct arena *, const char *host,
	    const char *name);
/* Holds the removal of containers of total; *confirmed_by is set when an
 * operator confirmed a hold that covers it. */
int	state_hold(struct db *, struct arena *, const char *host,
	    int containers, int total, const char *reason,
	    const char **confirmed_by) __attribute__((warn_unused_result));
int	state_hold_clear(struct db *, struct arena *, const char *host);
/* Whether the Docker host answers (error: why not, for operators). */
int	state_host_status(struct db *, struct arena *, const char *host,
	    bool reachable, const char *error);

#endif
