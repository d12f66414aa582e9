/* Matching a raw request path against the route table; pure, no I/O. */
#ifndef WARREN_ROUTER_H
#define WARREN_ROUTER_H

#include <stdbool.h>

#include "http.h"

/* Every route names who may call it; central code enforces it. */
enum policy {
	POLICY_UNSET = 0,	/* never valid: a test walks the table */
	POLICY_PUBLIC,		/* anyone, no credentials */
	POLICY_USER,		/* any signed-in user or token */
	POLICY_AUDITOR,		/* admin or auditor */
	POLICY_TEMPLATE_ADMIN,	/* admin or template-admin */
	POLICY_ADMIN,		/* admin only */
};

#define ROUTE_JSON_BODY	0x01	/* expects an application/json body */
#define ROUTE_OPT_BODY	0x02	/* the JSON body may be empty */

typedef void (*handler_fn)(struct request *, struct response *);

/*
 * One input a route takes: a member of its JSON body or a parameter of its
 * query string.  The pipeline checks every declared input before the
 * handler runs (input.h), answering 400 with the field named; the
 * OpenAPI document describes the same rows.
 */
enum in_type {
	IN_STRING,	/* min..max characters (max 0: no bound) */
	IN_NAME,	/* a DNS label of min..max characters */
	IN_INT,		/* an integer in min..max */
	IN_BOOL,	/* true or false ("true"/"false" in a query) */
	IN_ENUM,	/* one of choices */
	IN_UUID,	/* an id */
	IN_OBJECT,	/* a JSON object, its members checked by the handler */
	IN_ARRAY,	/* a JSON array, its items checked by the handler */
};

struct in_field {
	const char		*name;		/* NULL ends a list */
	enum in_type		 type;
	bool			 required;
	long			 min, max;
	const char *const	*choices;	/* IN_ENUM */
	const char		*doc;		/* for the OpenAPI document */
};

struct route {
	unsigned	 methods;	/* HEAD is implied by GET */
	const char	*pattern;	/* literal segments and {name} */
	const char	*name;		/* metrics label and OpenAPI id */
	enum policy	 policy;
	unsigned	 flags;
	handler_fn	 handler;
	/* Declared inputs (NULL: none).  A body route with body == NULL
	 * takes a document its handler checks whole (a template version). */
	const struct in_field	*body;
	const struct in_field	*query;
};

enum router_result {
	ROUTER_MATCH,
	ROUTER_NOT_FOUND,
	ROUTER_METHOD_NOT_ALLOWED,
	ROUTER_BAD_PATH,
	ROUTER_TOO_LONG,
};

#define ROUTER_PATH_MAX		2048
#define ROUTER_MAX_SEGMENTS	32

extern const struct route	routes[];
extern const size_t		nroutes;

enum router_result router_match(struct arena *, const struct route *table,
	    size_t n, enum http_method, const char *path,
	    const struct route **match, const char **params, size_t *nparams,
	    unsigned *allowed);
char	*router_allow_header(struct arena *, unsigned methods);
const char *policy_name(enum policy);

#endif
