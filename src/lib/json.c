#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "json.h"
#include "log.h"

static void
put(void *obj)
{
	json_object_put(obj);
}

struct json_object *
json_own(struct arena *a, struct json_object *obj)
{
	if (obj == NULL)
		fatalx("json: out of memory");
	arena_defer(a, put, obj);
	return obj;
}

static void
tok_free(void *tok)
{
	json_tokener_free(tok);
}

/* json-c reads NaN and Infinity even in strict mode; RFC 8259 has neither. */
static bool
all_finite(struct json_object *o)
{
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!all_finite(json_object_array_get_idx(o, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (v != NULL && !all_finite(v))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

/* Strict RFC 8259 text, valid UTF-8, bounded depth, nothing after the value. */
enum json_parse_result
json_parse(struct arena *a, const char *buf, size_t len,
    struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error err;
	size_t used, i;

	*out = NULL;
	for (i = 0; i < len && strchr(" \t\r\n", buf[i]) != NULL && buf[i]; i++)
		;
	if (i == len)
		return JSON_EMPTY;
	if (!utf8_valid(buf, len))
		return JSON_BAD_UTF8;
	if ((tok = json_tokener_new_ex(JSON_MAX_DEPTH)) == NULL)
		fatalx("json: out of memory");
	arena_defer(a, tok_free, tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	if (len > (size_t)INT32_MAX)
		return JSON_MALFORMED;
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	err = json_tokener_get_error(tok);
	if (obj == NULL && err == json_tokener_continue) {
		/* A bare number needs an end marker to be complete. */
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		used = len;
	} else
		used = json_tokener_get_parse_end(tok);
	if (err == json_tokener_error_depth)
		return JSON_TOO_DEEP;
	if (err != json_tokener_success)
		return err == json_tokener_error_parse_utf8_string ?
		    JSON_BAD_UTF8 : JSON_MALFORMED;
	/* A successful NULL is the JSON value null. */
	if (obj != NULL)
		json_own(a, obj);
	for (i = used; i < len; i++)
		if (strchr(" \t\r\n", buf[i]) == NULL || buf[i] == '\0')
			return JSON_MALFORMED;
	if (!all_finite(obj))
		return JSON_MALFORMED;
	*out = obj;
	return JSON_OK;
}

const char *
json_parse_error(enum json_parse_result r)
{
	switch (r) {
	case JSON_OK:
		return "ok";
	case JSON_EMPTY:
		return "the request body is empty";
	case JSON_MALFORMED:
		return "the request body is not valid JSON";
	case JSON_TOO_DEEP:
		return "the request body nests too deeply";
	case JSON_BAD_UTF8:
		return "the request body is not valid UTF-8";
	}
	return "bad JSON";
}

const char *
json_text(struct json_object *obj, size_t *len)
{
	const char *s;

	s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, len);
	if (s == NULL)
		fatalx("json: out of memory");
	return s;
}

/* Well-formed UTF-8 per RFC 3629: no overlongs, surrogates or > U+10FFFF. */
int
utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n, k;
	unsigned cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			n = 1, cp = s[i] & 0x1f;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			n = 2, cp = s[i] & 0x0f;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			n = 3, cp = s[i] & 0x07;
		else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		    || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += n + 1;
	}
	return 1;
}
