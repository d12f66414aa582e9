/* JSON helpers over json-c; objects live as long as the arena they are tied to. */
#ifndef WARREN_JSON_H
#define WARREN_JSON_H

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

#endif
