/* A Docker Engine API client over libcurl: unix socket or tcp+TLS. */
#ifndef WARREN_DOCKER_H
#define WARREN_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

#include "arena.h"

#define DOCKER_API_MAX	"1.43"	/* the newest API version we speak */

struct docker;

enum docker_result {
	DOCKER_OK,
	DOCKER_NOT_FOUND,
	DOCKER_CONFLICT,	/* a name in use, a volume in use */
	DOCKER_ERROR,		/* with a message for the build log */
	DOCKER_UNREACHABLE,	/* no answer: daemon down, timeout */
};

struct docker_tls {
	const char	*ca, *cert, *key;
};

/* endpoint: unix:///path or tcp://host:port (with tls for https) */
struct docker	*docker_new(const char *endpoint, const struct docker_tls *,
		    long timeout_ms);
void		 docker_free(struct docker *);
/* Agrees on an API version with the daemon; -1 when unreachable. */
int		 docker_negotiate(struct docker *, struct arena *);
const char	*docker_error(struct docker *);	/* last message */
/* Did the last call get no answer in time (rather than no connection)? */
bool		 docker_timed_out(struct docker *);
double		 docker_last_seconds(struct docker *);

enum docker_result docker_call(struct docker *, struct arena *,
		    const char *method, const char *path,
		    struct json_object *body, long timeout_ms,
		    struct json_object **out);
enum docker_result docker_logs(struct docker *, struct arena *,
		    const char *id, int tail, char **text);
/* A line of a streamed answer (no newline), as it comes. */
typedef void	(*docker_line_fn)(void *arg, const char *line, size_t len);
enum docker_result docker_pull(struct docker *, struct arena *,
		    const char *image, const char *auth, docker_line_fn,
		    void *arg, long timeout_ms);
/* Runs a command in a running container (spec: the exec create body,
 * with a terminal: one stream of output), each line of its output to
 * line_fn, and sets its exit code. */
enum docker_result docker_exec(struct docker *, struct arena *,
		    const char *container, struct json_object *spec,
		    docker_line_fn, void *arg, long timeout_ms, int *exit_code);
/* A tar archive in or out: the request body read from in (NULL: none),
 * a successful answer written to out. */
enum docker_result docker_stream(struct docker *, struct arena *,
		    const char *method, const char *path, FILE *in, FILE *out,
		    long timeout_ms);

#endif
