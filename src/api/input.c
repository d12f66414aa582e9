#include "config.h"

#include <ctype.h>
#include <limits.h>
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

/* The body's members, checked against the route's declaration. */
static bool
body_field(struct request *req, struct response *resp,
    const struct in_field *f)
{
	struct json_object *v = field(req, f->name);
	const char *s = NULL;
	bool b;
	long n;

	switch (f->type) {
	case IN_STRING:
		return in_string(req, resp, f->name, (size_t)f->min,
		    (size_t)f->max, f->required, &s);
	case IN_NAME:
		if (!in_string(req, resp, f->name, (size_t)f->min,
		    (size_t)f->max, f->required, &s))
			return false;
		if (s != NULL && !in_name(s, (size_t)f->max))
			return bad(req, resp, f->name, arena_printf(req->arena,
			    "must be a DNS label of at most %ld lower-case "
			    "letters, digits and '-'", f->max));
		return true;
	case IN_INT:
		return in_int(req, resp, f->name, f->min, f->max, f->required,
		    &n, NULL);
	case IN_BOOL:
		if (v == NULL && f->required)
			return bad(req, resp, f->name, "is required");
		return in_bool(req, resp, f->name, &b, NULL);
	case IN_ENUM:
		return in_enum(req, resp, f->name, f->choices, f->required,
		    &s);
	case IN_UUID:
		if (!in_string(req, resp, f->name, 36, 36, f->required, &s))
			return false;
		if (s != NULL && !in_uuid(s))
			return bad(req, resp, f->name, "is not an id");
		return true;
	case IN_OBJECT:
	case IN_ARRAY:
		if (v == NULL)
			return f->required ? bad(req, resp, f->name,
			    "is required") : true;
		if (!json_object_is_type(v, f->type == IN_OBJECT ?
		    json_type_object : json_type_array))
			return bad(req, resp, f->name, f->type == IN_OBJECT ?
			    "must be an object" : "must be an array");
		return true;
	}
	return false;
}

bool
in_check_body(struct request *req, struct response *resp,
    const struct in_field *fields)
{
	const char *names[IN_FIELDS_MAX + 1];
	size_t i;

	if (fields == NULL)
		return true;
	for (i = 0; fields[i].name != NULL && i < IN_FIELDS_MAX; i++)
		names[i] = fields[i].name;
	names[i] = NULL;
	if (!in_fields(req, resp, names))
		return false;
	for (i = 0; fields[i].name != NULL; i++)
		if (!body_field(req, resp, &fields[i]))
			return false;
	return true;
}

/* key=... is in the query string, decodable or not. */
static bool
query_has(const char *q, const char *key)
{
	size_t klen = strlen(key);

	while (q != NULL && *q != '\0') {
		if (strncmp(q, key, klen) == 0 && q[klen] == '=')
			return true;
		q = strchr(q, '&');
		q = q ? q + 1 : NULL;
	}
	return false;
}

static bool
all_digits(const char *s)
{
	return *s != '\0' && strlen(s) <= 18 &&
	    strspn(s, "0123456789") == strlen(s);
}

/* One query parameter, checked against its declaration. */
static bool
query_field(struct request *req, struct response *resp,
    const struct in_field *f)
{
	const char *v = query_param(req, f->name);
	size_t len;
	long n;

	if (v == NULL) {
		if (query_has(req->query, f->name))
			return bad(req, resp, f->name, "is not valid");
		return f->required ? bad(req, resp, f->name, "is required") :
		    true;
	}
	len = strlen(v);
	switch (f->type) {
	case IN_STRING:
		if (len < (size_t)f->min || (f->max > 0 &&
		    len > (size_t)f->max))
			return bad(req, resp, f->name, "is not valid");
		return true;
	case IN_NAME:
		if (!in_name(v, (size_t)f->max))
			return bad(req, resp, f->name, "is not a name");
		return true;
	case IN_INT:
		n = all_digits(v) ? strtol(v, NULL, 10) : f->min - 1;
		if (n < f->min || n > f->max)
			return bad(req, resp, f->name, f->max == LONG_MAX ?
			    arena_printf(req->arena, "must be %ld or more",
			    f->min) : arena_printf(req->arena,
			    "must be between %ld and %ld", f->min, f->max));
		return true;
	case IN_BOOL:
		if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
			return bad(req, resp, f->name, "must be true or false");
		return true;
	case IN_ENUM:
		if (in_choices(v, f->choices) == NULL)
			return bad(req, resp, f->name,
			    "has a value that is not allowed");
		return true;
	case IN_UUID:
		if (!in_uuid(v))
			return bad(req, resp, f->name, "is not an id");
		return true;
	case IN_OBJECT:
	case IN_ARRAY:
		break;
	}
	return bad(req, resp, f->name, "is not valid");
}

bool
in_check_query(struct request *req, struct response *resp,
    const struct in_field *fields)
{
	size_t i;

	for (i = 0; fields != NULL && fields[i].name != NULL; i++)
		if (!query_field(req, resp, &fields[i]))
			return false;
	return true;
}

const char *
in_str(struct request *req, const char *key)
{
	struct json_object *v = field(req, key);

	return v != NULL && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

bool
in_num(struct request *req, const char *key, long *out)
{
	struct json_object *v = field(req, key);

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return false;
	*out = (long)json_object_get_int64(v);
	return true;
}

bool
in_flag(struct request *req, const char *key, bool *out)
{
	struct json_object *v = field(req, key);

	if (v == NULL || !json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

struct json_object *
in_member(struct request *req, const char *key)
{
	return field(req, key);
}
