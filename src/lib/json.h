/* JSON helpers over json-c; objects live as long as the arena they are tied to. */
#ifndef WARREN_JSON_H
#define WARREN_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "arena.h"

#define JSON_MAX_DEPTH	32

enum json_parse_result {
	JSON_OK,
	JSON_EMPTY,
	JSON_MALFORMED,
	JSON_TOO_DEEP,
	JSON_BAD_UTF8,
};

enum json_parse_result json_parse(struct arena *, const char *buf, size_t len,
	    struct json_object **out) __attribute__((warn_unused_result));
struct json_object *json_own(struct arena *, struct json_object *);
const char *json_text(struct json_object *, size_t *len);
const char *json_parse_error(enum json_parse_result);
int	utf8_valid(const char *s, size_t len);

/*
 * A JSON text written in place: jw_open/jw_close for '{' '[' and '}' ']',
 * jw_key before each member's value, commas added as needed.
 */
struct jw {
	struct arena	*a;
	char		*buf;
	size_t		 len, cap;
	bool		 comma;		/* the next item needs one */
};

void	jw_init(struct jw *, struct arena *, size_t hint);
void	jw_open(struct jw *, char);
void	jw_close(struct jw *, char);
void	jw_key(struct jw *, const char *);
void	jw_string(struct jw *, const char *);	/* NULL: null */
void	jw_value(struct jw *, const char *json, size_t);
void	jw_raw(struct jw *, const char *, size_t);
void	jw_str(struct jw *, const char *);	/* a quoted string only */
const char *jw_text(struct jw *, size_t *len);

#endif
