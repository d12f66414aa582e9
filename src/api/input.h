/* Validation of JSON request bodies and query strings, once, at the edge. */
#ifndef WARREN_INPUT_H
#define WARREN_INPUT_H

#include <stdbool.h>

#include "http.h"
#include "router.h"

/*
 * Each in_* function returns true with the value, or fills a 400 problem
 * naming the field and returns false.  A missing optional field leaves
 * *out untouched and sets *present (when given) to false.
 */
bool	in_fields(struct request *, struct response *,
	    const char *const *allowed);
bool	in_string(struct request *, struct response *, const char *key,
	    size_t min, size_t max, bool required, const char **out);
bool	in_enum(struct request *, struct response *, const char *key,
	    const char *const *choices, bool required, const char **out);
bool	in_bool(struct request *, struct response *, const char *key,
	    bool *out, bool *present);
bool	in_int(struct request *, struct response *, const char *key,
	    long min, long max, bool required, long *out, bool *present);
bool	in_uuid(const char *);
const char *uuid_canonical(struct arena *, const char *);
/* The one of the NULL-terminated choices that s is; NULL for none. */
const char *in_choices(const char *s, const char *const *choices);
bool	in_name(const char *, size_t max);	/* DNS-label style name */
/* Query string: the decoded value of key, NULL when absent or invalid. */
const char *query_param(struct request *, const char *key);
/* limit and cursor of a list request; false after a 400 */
bool	in_page(struct request *, struct response *, long *limit,
	    const char **cursor);

/*
 * The declared inputs of a route (router.h), checked by the pipeline
 * before its handler runs: the body's members (unknown ones refused) and
 * the query's parameters (others ignored).  false after a 400 that names
 * the first field found wrong.
 */
#define IN_FIELDS_MAX	32
bool	in_check_body(struct request *, struct response *,
	    const struct in_field *);
bool	in_check_query(struct request *, struct response *,
	    const struct in_field *);
/*
 * Reading what was checked: a string member (NULL when absent), an integer
 * or a boolean member (false when absent, *out untouched), any member.
 */
const char	*in_str(struct request *, const char *key);
bool		 in_num(struct request *, const char *key, long *out);
bool		 in_flag(struct request *, const char *key, bool *out);
struct json_object *in_member(struct request *, const char *key);

#endif
