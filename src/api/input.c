#include "config.h"

#include <ctype.h>
#include <string.h>
#include <stdlib.h>

#include "input.h"
#include "json.h"
#include "problem.h"

static bool
bad(struct request *req, struct response *resp, const char *key,
    const char *what)
{
	problem(req, resp, PROBLEM_INVALID_INPUT, arena_printf(req->arena,
	    "%s %s", key, what));
	return false;
}

bool
in_fields(struct request *req, struct response *resp,
    const char *const *allowed)
{
	size_t i;

	if (req->body == NULL)
		return true;
	if (!json_object_is_type(req->body, json_type_object))
		return bad(req, resp, "the body", "must be a JSON object");
	json_object_object_foreach(req->body, key, val) {
		(void)val;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL)
			return bad(req, resp, arena_printf(req->arena,
			    "field '%.64s'", key), "is not known");
	}
	return true;
}

static struct json_object *
field(struct request *req, const char *key)
{
	struct json_object *v;

	if (req->body == NULL ||
	    !json_object_is_type(req->body, json_type_object) ||
	    !json_object_object_get_ex(req->body, key, &v) || v == NULL)
		return NULL;
	return v;
}

bool
in_string(struct request *req, struct response *resp, const char *key,
    size_t min, size_t max, bool required, const char **out)
{
	struct json_object *v = field(req, key);
	size_t len;

	if (v == NULL)
		return required ? bad(req, resp, key, "is required") : true;
	if (!json_object_is_type(v, json_type_string))
		return bad(req, resp, key, "must be a string");
	len = (size_t)json_object_get_string_len(v);
	if (len < min || len > max || memchr(json_object_get_string(v), '\0',
	    len) != NULL)
		return bad(req, resp, key, arena_printf(req->arena,
		    "must be %zu to %zu characters", min, max));
	*out = json_object_get_string(v);
	return true;
}

bool
in_enum(struct request *req, struct response *resp, const char *key,
    const char *const *choices, bool required, const char **out)
{
	const char *s = NULL;

	if (!in_string(req, resp, key, 1, 64, required, &s))
		return false;
	if (s == NULL)
		return true;
	if ((*out = in_choices(s, choices)) != NULL)
		return true;
	return bad(req, resp, key, "has a value that is not allowed");
}

const char *
in_choices(const char *s, const char *const *choices)
{
	size_t i;

	for (i = 0; s != NULL && choices[i] != NULL; i++)
		if (strcmp(choices[i], s) == 0)
			return choices[i];
	return NULL;
}

bool
in_bool(struct request *req, struct response *resp, const char *key,
    bool *out, bool *present)
{
	struct json_object *v = field(req, key);

	if (present != NULL)
		*present = v != NULL;
	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_boolean))
		return bad(req, resp, key, "must be true or false");
	*out = json_object_get_boolean(v);
	return true;
}

bool
in_int(struct request *req, struct response *resp, const char *key,
    long min, long max, bool required, long *out, bool *present)
{
	struct json_object *v = field(req, key);
	int64_t n;

	if (present != NULL)
		*present = v != NULL;
	if (v == NULL)
		return required ? bad(req, resp, key, "is required") : true;
	if (!json_object_is_type(v, json_type_int))
		return bad(req, resp, key, "must be an integer");
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return bad(req, resp, key, arena_printf(req->arena,
		    "must be between %ld and %ld", min, max));
	*out = (long)n;
	return true;
}

/* A UUID in lower case (its canonical form); anything else as it is. */
const char *
uuid_canonical(struct arena *a, const char *s)
{
	char *out;
	size_t i;

	if (!in_uuid(s))
		return s;
	out = arena_strdup(a, s);
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return out;
}

bool
in_uuid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t i, d = 0;

	if (s == NULL || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-')
				return false;
			d++;
		} else if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool
in_name(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) ||
		    isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

const char *
query_param(struct request *req, const char *key)
{
	const char *p = req->query, *end, *eq;
	size_t klen = strlen(key), i, o;
	char *out;
	int h, l;

	while (p != NULL && *p != '\0') {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL && (size_t)(eq - p) == klen &&
		    memcmp(p, key, klen) == 0) {
			out = arena_alloc(req->arena, (size_t)(end - eq));
			for (i = 1, o = 0; eq + i < end; i++) {
				char c = eq[i];
				if (c == '+')
					c = ' ';
				else if (c == '%') {
					if (eq + i + 2 >= end)
						return NULL;
					if ((h = hexval(eq[i + 1])) < 0 ||
					    (l = hexval(eq[i + 2])) < 0)
						return NULL;
					c = (char)(h << 4 | l);
					i += 2;
				}
				if ((unsigned char)c < 0x20)
					return NULL;
				out[o++] = c;
			}
			out[o] = '\0';
			return utf8_valid(out, o) ? out : NULL;
		}
		p = *end ? end + 1 : end;
	}
	return NULL;
}

bool
in_page(struct request *req, struct response *resp, long *limit,
    const char **cursor)
{
	const char *l = query_param(req, "limit");
	char *end;

	*limit = 50;
	if (l != NULL) {
		*limit = strtol(l, &end, 10);
		if (*end != '\0' || *limit < 1 || *limit > 200)
			return bad(req, resp, "limit",
			    "must be between 1 and 200");
	}
	*cursor = query_param(req, "cursor");
	if (*cursor != NULL && (strlen(*cursor) > 200 || **cursor == '\0'))
		return bad(req, resp, "cursor", "is not valid");
	return true;
}
