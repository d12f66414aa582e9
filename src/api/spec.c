#include "config.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imageref.h"
#include "input.h"
#include "json.h"
#include "spec.h"

/* In rank order; SHARE_LEVELS_SQL in spec.h lists them the same way. */
static const char *const share_levels[] = { "owner", "org", "authenticated",
	"public", NULL };

/* Linux capabilities a template may ask to keep; everything else drops. */
static const char *const capabilities[] = { "CHOWN", "DAC_OVERRIDE",
	"FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
	"NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "AUDIT_WRITE", "MKNOD",
	"SETFCAP", "SYS_PTRACE", NULL };

int
spec_share_rank(const char *level)
{
	int i;

	for (i = 0; level != NULL && share_levels[i] != NULL; i++)
		if (strcmp(level, share_levels[i]) == 0)
			return i;
	return -1;
}

/*
 * [registry[:port]/]path[:tag][@sha256:hex], lower-case path components,
 * the grammar of the distribution reference (no user input reaches a
 * shell or a URL unescaped, but a clear refusal beats an odd error).
 */
bool
spec_image_valid(const char *s)
{
	static regex_t re;
	static int ready;

	if (!ready) {
		if (regcomp(&re, "^([a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?"
		    "(:[0-9]{1,5})?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*"
		    "(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*"
		    "(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
		    "(@sha256:[a-f0-9]{64})?$", REG_EXTENDED | REG_NOSUB) != 0)
			return false;
		ready = 1;
	}
	return strlen(s) <= 255 && regexec(&re, s, 0, NULL, 0) == 0;
}

bool
spec_env_name_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 128 || isdigit((unsigned char)s[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

bool
spec_rel_path_valid(const char *s, bool one_component)
{
	const char *c = s;
	size_t i, n = strlen(s), len;

	if (n == 0 || n > 200)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-/", s[i]) == NULL)
			return false;
	/* Each component: not empty, not . or .., not an option. */
	for (;;) {
		len = strcspn(c, "/");
		if (len == 0 || c[0] == '-' || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (c[len] == '\0')
			return true;
		if (one_component)
			return false;
		c += len + 1;
	}
}

/*
 * The end of the bracket expression p opens: its "]", or NULL.  A "]"
 * first is one of its own, and so is one in a class, a collating element
 * or an equivalence class ("[[:alpha:]]", "[[.].]]", "[[=a=]]"), whose
 * own "]" does not close the expression either.
 */
static const char *
bracket_end(const char *p)
{
	char delim;

	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	for (; *p != '\0' && *p != ']'; p++) {
		if (*p != '[' || (p[1] != ':' && p[1] != '.' && p[1] != '='))
			continue;
		delim = p[1];
		for (p += 2; *p != '\0' && !(p[0] == delim && p[1] == ']');
		    p++)
			;
		if (*p == '\0')
			return NULL;
		p++;
	}
	return *p == ']' ? p : NULL;
}

/*
 * A parameter's pattern costs little to compile and to match: glibc
 * compiles a counted repetition by copying its atom, so repetitions inside
 * repetitions grow exponentially (five nested {1,15} took 443 MB), and
 * matches back-references by backtracking ("^(a*)(a*)\2\1$" took
 * seconds on 100 characters).  No repetition of a group that holds one or
 * of a repetition ("a{64}{64}"), counts up to SPEC_REPEAT_MAX, at most
 * SPEC_QUANTIFIERS_MAX repetitions and no back-references.
 */
bool
spec_pattern_bounded(const char *re, const char **why)
{
	bool inner[SPEC_PATTERN_MAX + 1];	/* per open group: holds one */
	int depth = 0, quantifiers = 0;
	bool last_group = false, last_inner = false, last_quant = false;
	const char *p;
	long a, b;
	char *end;

	if (strlen(re) > SPEC_PATTERN_MAX) {
		*why = "is too long";
		return false;
	}
	inner[0] = false;
	for (p = re; *p != '\0'; p++) {
		bool group_closed = false, quant = false;

		switch (*p) {
		case '\\':
			if (p[1] >= '1' && p[1] <= '9') {
				*why = "has a back-reference";
				return false;
			}
			if (p[1] != '\0')
				p++;
			break;
		case '[':
			if ((p = bracket_end(p)) == NULL) {
				*why = "has an unclosed [";
				return false;
			}
			break;
		case '(':
			inner[++depth] = false;
			break;
		case ')':
			if (depth == 0) {
				*why = "has an unmatched )";
				return false;
			}
			last_inner = inner[depth--];
			inner[depth] |= last_inner;
			group_closed = true;
			break;
		case '*': case '+': case '?': case '{':
			if (*p == '{') {
				a = strtol(p + 1, &end, 10);
				b = *end == ',' ? (end[1] == '}' ? a :
				    strtol(end + 1, &end, 10)) : a;
				if (*end == ',')
					end++;
				if (*end != '}' || a > SPEC_REPEAT_MAX ||
				    b > SPEC_REPEAT_MAX) {
					*why = "counts a repetition beyond "
					    SPEC_REPEAT_MAX_TEXT;
					return false;
				}
				p = end;
			}
			if (last_group && last_inner) {
				*why = "repeats a group that repeats itself";
				return false;
			}
			if (last_quant) {
				*why = "repeats a repetition";
				return false;
			}
			if (++quantifiers > SPEC_QUANTIFIERS_MAX) {
				*why = "has too many repetitions";
				return false;
			}
			inner[depth] = true;
			quant = true;
			break;
		}
		last_group = group_closed;
		last_quant = quant;
	}
	if (depth != 0) {
		*why = "has an unclosed (";
		return false;
	}
	return true;
}

/*
 * A clean absolute path for the home volume: segments of [A-Za-z0-9._-]
 * (no "." or ".."), no empty segment, and not in or under a directory the
 * system needs (a volume there would hide it, or Docker refuses it only
 * when the container starts).
 */
bool
spec_home_path_valid(const char *s)
{
	static const char *const system_dirs[] = { "bin", "boot", "dev", "etc",
	    "lib", "lib32", "lib64", "libx32", "proc", "run", "sbin", "sys",
	    "tmp", "usr", "var", NULL };
	const char *seg, *end;
	size_t n;
	int i;

	if (s[0] != '/' || strlen(s) > 255 || strlen(s) < 2)
		return false;
	for (seg = s + 1; *seg != '\0'; seg = *end ? end + 1 : end) {
		end = seg + strcspn(seg, "/");
		n = (size_t)(end - seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		for (i = 0; (size_t)i < n; i++)
			if (!isalnum((unsigned char)seg[i]) && seg[i] != '.' &&
			    seg[i] != '_' && seg[i] != '-')
				return false;
		if (*end == '/' && end[1] == '\0')
			return false;	/* a trailing slash */
	}
	n = strcspn(s + 1, "/");
	for (i = 0; system_dirs[i] != NULL; i++)
		if (strlen(system_dirs[i]) == n &&
		    strncmp(s + 1, system_dirs[i], n) == 0)
			return false;
	return true;
}

struct ctx {
	struct arena		*a;
	const struct conf	*c;
	struct json_object	*body;
	const char		*err;
};

static bool
fail(struct ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool
fail(struct ctx *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	x->err = arena_vprintf(x->a, fmt, ap);
	va_end(ap);
	return false;
}

static struct json_object *
get(struct ctx *x, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(x->body, k, &v))
		return NULL;
	return v;
}

static bool
get_int(struct ctx *x, const char *k, long min, long max, bool required,
    long def, long *out)
{
	struct json_object *v = get(x, k);
	int64_t n;

	if (v == NULL) {
		if (required)
			return fail(x, "%s is required", k);
		*out = def;
		return true;
	}
	if (!json_object_is_type(v, json_type_int))
		return fail(x, "%s must be an integer", k);
	n = json_object_get_int64(v);
	if (n < min || n > max) {
		x->err = arena_printf(x->a, "%s must be between %ld and %ld"
		    " (the deployment's limit)", k, min, max);
		return false;
	}
	*out = (long)n;
	return true;
}

static const char *
text(struct ctx *x, struct json_object *o)
{
	size_t len;

	return arena_strdup(x->a, json_text(o, &len));
}

static bool
string_array(struct ctx *x, const char *k, size_t max, const char **out)
{
	struct json_object *v = get(x, k), *e;
	size_t i, n;

	if (v == NULL) {
		*out = "[]";
		return true;
	}
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > max)
		return fail(x, "%s must be an array of strings", k);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (e == NULL || !json_object_is_type(e, json_type_string) ||
		    json_object_get_string_len(e) > 4096)
			return fail(x, "%s must be an array of strings", k);
	}
	*out = text(x, v);
	return true;
}

static bool
parse_env(struct ctx *x)
{
	struct json_object *v = get(x, "env");
	size_t bytes = 0, n = 0;

	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_object))
		return fail(x, "%s must be an object of strings", "env");
	json_object_object_foreach(v, key, val) {
		if (!spec_env_name_valid(key))
			return fail(x, "env name '%.64s' is not valid", key);
		if (strncmp(key, "WARREN_", 7) == 0 || strcmp(key, "HOME") == 0)
			return fail(x, "env may not set %.64s: Warren sets it",
			    key);
		if (val == NULL || !json_object_is_type(val, json_type_string))
			return fail(x, "env %.64s must be a string", key);
		bytes += strlen(key) + (size_t)json_object_get_string_len(val);
		if (++n > SPEC_MAX_ENV || bytes > SPEC_MAX_ENV_BYTES)
			return fail(x, "%s is too large (at most 256 variables, "
			    "64 KiB)", "env");
	}
	return true;
}

static bool
parse_ports(struct ctx *x, struct json_object **ports)
{
	struct json_object *v = get(x, "ports"), *e, *f;
	size_t i, j, n;
	int64_t p, q;

	*ports = v;
	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > SPEC_MAX_PORTS)
		return fail(x, "%s must be an array of at most 32 ports",
		    "ports");
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (e == NULL || !json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "port", &f) ||
		    !json_object_is_type(f, json_type_int))
			return fail(x, "%s: each needs a port number", "ports");
		p = json_object_get_int64(f);
		if (p < 1 || p > 65535)
			return fail(x, "%s: port out of range 1..65535",
			    "ports");
		if (!json_object_object_get_ex(e, "protocol", &f))
			json_object_object_add(e, "protocol",
			    json_object_new_string("http"));
		else if (!json_object_is_type(f, json_type_string) ||
		    (strcmp(json_object_get_string(f), "http") != 0 &&
		    strcmp(json_object_get_string(f), "tcp") != 0))
			return fail(x, "%s: protocol must be http or tcp",
			    "ports");
		if (json_object_object_get_ex(e, "name", &f) &&
		    (!json_object_is_type(f, json_type_string) ||
		    json_object_get_string_len(f) > 64))
			return fail(x, "%s: name must be a short string",
			    "ports");
		json_object_object_foreach(e, key, val) {
			(void)val;
			if (strcmp(key, "port") && strcmp(key, "name") &&
			    strcmp(key, "protocol"))
				return fail(x, "ports: unknown field '%.32s'",
				    key);
		}
		for (j = 0; j < i; j++) {
			json_object_object_get_ex(json_object_array_get_idx(v,
			    j), "port", &f);
			q = json_object_get_int64(f);
			if (q == p)
				return fail(x, "%s: a port is listed twice",
				    "ports");
		}
	}
	return true;
}

/* {type: http|tcp, port, path (http), timeout (s)}; defaults to the
 * first port, over HTTP at "/" when that port speaks HTTP. */
static bool
parse_probe(struct ctx *x, struct json_object *ports, const char **out)
{
	struct json_object *v = get(x, "probe"), *p, *f;
	const char *type = NULL;
	int64_t port = 0, timeout = 60;

	if (v != NULL && !json_object_is_type(v, json_type_object))
		return fail(x, "%s must be an object", "probe");
	if (v != NULL) {
		json_object_object_foreach(v, key, val) {
			(void)val;
			if (strcmp(key, "type") && strcmp(key, "port") &&
			    strcmp(key, "path") && strcmp(key, "timeout"))
				return fail(x, "probe: unknown field '%.32s'",
				    key);
		}
	}
	if (v != NULL && json_object_object_get_ex(v, "type", &f)) {
		if (!json_object_is_type(f, json_type_string))
			return fail(x, "%s.type must be http or tcp", "probe");
		type = json_object_get_string(f);
		if (strcmp(type, "http") != 0 && strcmp(type, "tcp") != 0)
			return fail(x, "%s.type must be http or tcp", "probe");
	}
	if (v != NULL && json_object_object_get_ex(v, "port", &f)) {
		if (!json_object_is_type(f, json_type_int) ||
		    (port = json_object_get_int64(f)) < 1 || port > 65535)
			return fail(x, "%s.port out of range 1..65535", "probe");
	} else if (ports != NULL && json_object_array_length(ports) > 0) {
		json_object_object_get_ex(json_object_array_get_idx(ports, 0),
		    "port", &f);
		port = json_object_get_int64(f);
	} else
		return fail(x, "%s needs a port (or the template a port)",
		    "probe");
	if (v != NULL && json_object_object_get_ex(v, "timeout", &f) &&
	    (!json_object_is_type(f, json_type_int) ||
	    (timeout = json_object_get_int64(f)) < 1 || timeout > 3600))
		return fail(x, "%s.timeout must be 1..3600 seconds", "probe");
	p = json_own(x->a, json_object_new_object());
	json_object_object_add(p, "type", json_object_new_string(type ? type :
	    "http"));
	json_object_object_add(p, "port", json_object_new_int64(port));
	if (type == NULL || strcmp(type, "http") == 0) {
		const char *path = "/";
		if (v != NULL && json_object_object_get_ex(v, "path", &f)) {
			if (!json_object_is_type(f, json_type_string) ||
			    json_object_get_string(f)[0] != '/' ||
			    json_object_get_string_len(f) > 1024)
				return fail(x, "%s.path must start with /",
				    "probe");
			path = json_object_get_string(f);
		}
		json_object_object_add(p, "path", json_object_new_string(path));
	}
	json_object_object_add(p, "timeout", json_object_new_int64(timeout));
	*out = text(x, p);
	return true;
}

static bool
options_valid(struct json_object *v)
{
	struct json_object *e;
	size_t i, n;

	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) == 0 || n > SPEC_MAX_OPTIONS)
		return false;
	for (i = 0; i < n; i++)
		if ((e = json_object_array_get_idx(v, i)) == NULL ||
		    !json_object_is_type(e, json_type_string))
			return false;
	return true;
}

/*
 * The fields besides name, type and pattern, each of the JSON type that
 * applying values reads, and only where the parameter's type uses it:
 * a bound a value is never held to would be a surprise.
 */
static bool
param_fields_valid(struct ctx *x, struct json_object *d, const char *type)
{
	const char *name = json_object_get_string(json_object_object_get(d,
	    "name"));
	struct json_object *lo, *hi;
	bool number = strcmp(type, "number") == 0;

	json_object_object_foreach(d, key, val) {
		if (strcmp(key, "min") == 0 || strcmp(key, "max") == 0) {
			if (!number || (!json_object_is_type(val, json_type_int)
			    && !json_object_is_type(val, json_type_double)))
				return fail(x, "parameters: %s: %s must be a "
				    "number, on a parameter of type number",
				    name, key);
		} else if (strcmp(key, "options") == 0) {
			if (strcmp(type, "string") != 0 || !options_valid(val))
				return fail(x, "parameters: %s: options must "
				    "be an array of 1 to %d strings, on a "
				    "parameter of type string", name,
				    SPEC_MAX_OPTIONS);
		} else if (strcmp(key, "pattern") == 0) {
			if (strcmp(type, "string") != 0)
				return fail(x, "parameters: %s: pattern is "
				    "only for a parameter of type string",
				    name);
		} else if (strcmp(key, "mutable") == 0 ||
		    strcmp(key, "required") == 0) {
			if (!json_object_is_type(val, json_type_boolean))
				return fail(x, "parameters: %s: %s must be "
				    "true or false", name, key);
		} else if (strcmp(key, "description") == 0) {
			if (!json_object_is_type(val, json_type_string) ||
			    json_object_get_string_len(val) > 500)
				return fail(x, "parameters: %s: description "
				    "must be a string of at most 500 "
				    "characters", name);
		} else if (strcmp(key, "name") && strcmp(key, "type") &&
		    strcmp(key, "default"))
			return fail(x, "parameters: unknown field '%.32s'",
			    key);
	}
	if (json_object_object_get_ex(d, "min", &lo) &&
	    json_object_object_get_ex(d, "max", &hi) &&
	    json_object_get_double(lo) > json_object_get_double(hi))
		return fail(x, "parameters: %s: min is above max", name);
	return true;
}

static bool
param_def_valid(struct ctx *x, struct json_object *d)
{
	static const char *const types[] = { "string", "number", "bool", NULL };
	struct json_object *f;
	const char *t;
	int i;

	if (d == NULL || !json_object_is_type(d, json_type_object) ||
	    !json_object_object_get_ex(d, "name", &f) ||
	    !json_object_is_type(f, json_type_string) ||
	    !spec_env_name_valid(json_object_get_string(f)))
		return fail(x, "%s: each needs a name of letters, digits, _",
		    "parameters");
	if (!json_object_object_get_ex(d, "type", &f) ||
	    !json_object_is_type(f, json_type_string))
		return fail(x, "%s: each needs a type", "parameters");
	t = json_object_get_string(f);
	for (i = 0; types[i] != NULL && strcmp(types[i], t) != 0; i++)
		;
	if (types[i] == NULL)
		return fail(x, "%s: type must be string, number or bool",
		    "parameters");
	if (json_object_object_get_ex(d, "pattern", &f)) {
		regex_t re;
		const char *why;
		if (!json_object_is_type(f, json_type_string) ||
		    json_object_get_string_len(f) > SPEC_PATTERN_MAX)
			return fail(x, "%s: pattern must be a string of at most "
			    "%d characters", "parameters", SPEC_PATTERN_MAX);
		if (!spec_pattern_bounded(json_object_get_string(f), &why))
			return fail(x, "%s: pattern %s", "parameters", why);
		if (regcomp(&re, json_object_get_string(f),
		    REG_EXTENDED | REG_NOSUB) != 0)
			return fail(x, "%s: pattern is not a valid regular "
			    "expression", "parameters");
		regfree(&re);
	}
	return param_fields_valid(x, d, t);
}

static bool
parse_params(struct ctx *x, const char **out)
{
	struct json_object *v = get(x, "parameters"), *d, *def, *one, *defs;
	struct json_object *seen;
	const char *err, *name;
	size_t i, n;

	*out = "[]";
	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > SPEC_MAX_PARAMS)
		return fail(x, "%s must be an array of at most 64", "parameters");
	seen = json_own(x->a, json_object_new_object());
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(v, i);
		if (!param_def_valid(x, d))
			return false;
		name = json_object_get_string(json_object_object_get(d,
		    "name"));
		if (json_object_object_get_ex(seen, name, NULL))
			return fail(x, "parameters: the name %s is used twice",
			    name);
		json_object_object_add(seen, name, NULL);
	}
	/* Every default must pass its own definition. */
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(v, i);
		if (!json_object_object_get_ex(d, "default", &def))
			continue;
		one = json_own(x->a, json_object_new_object());
		json_object_object_add(one, json_object_get_string(
		    json_object_object_get(d, "name")), json_object_get(def));
		defs = json_own(x->a, json_object_new_array());
		json_object_array_add(defs, json_object_get(d));
		if (!spec_params_apply(x->a, text(x, defs), one, NULL, out,
		    &err)) {
			x->err = arena_printf(x->a, "parameters: default: %s",
			    err);
			return false;
		}
	}
	*out = text(x, v);
	return true;
}

/*
 * [{"name": "flask", "display_name": "...", "description": "...",
 *   "files": {"app.py": "...", "templates/index.html": "..."}}, ...]
 */
static bool
starter_valid(struct ctx *x, struct json_object *st, struct json_object *seen)
{
	struct json_object *v, *files;
	size_t total = 0, n = 0;
	const char *name;

	if (st == NULL || !json_object_is_type(st, json_type_object) ||
	    !json_object_object_get_ex(st, "name", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !in_name(json_object_get_string(v), 32))
		return fail(x, "starters: each needs a name of at most 32 "
		    "lower-case letters, digits and '-'");
	name = json_object_get_string(v);
	if (json_object_object_get_ex(seen, name, NULL))
		return fail(x, "starters: the name %s is used twice", name);
	json_object_object_add(seen, name, NULL);
	json_object_object_foreach(st, key, val) {
		if (strcmp(key, "display_name") == 0 ||
		    strcmp(key, "description") == 0) {
			if (!json_object_is_type(val, json_type_string) ||
			    json_object_get_string_len(val) > 500)
				return fail(x, "starters: %s: %s must be a "
				    "string of at most 500 characters", name,
				    key);
		} else if (strcmp(key, "name") && strcmp(key, "files"))
			return fail(x, "starters: unknown field '%.32s'", key);
	}
	if (!json_object_object_get_ex(st, "files", &files) ||
	    !json_object_is_type(files, json_type_object) ||
	    json_object_object_length(files) == 0)
		return fail(x, "starters: %s: files must be an object of "
		    "paths and their text", name);
	json_object_object_foreach(files, path, content) {
		if (!spec_rel_path_valid(path, false))
			return fail(x, "starters: %s: file %.64s: paths are "
			    "relative to the home, of letters, digits, '.', "
			    "'_', '-' and '/', without '..'", name, path);
		if (content == NULL || !json_object_is_type(content,
		    json_type_string) || strlen(json_object_get_string(
		    content)) != (size_t)json_object_get_string_len(content))
			return fail(x, "starters: %s: file %s must be text",
			    name, path);
		if (json_object_get_string_len(content) > SPEC_MAX_FILE_BYTES)
			return fail(x, "starters: %s: file %s is larger than "
			    "%d KiB", name, path, SPEC_MAX_FILE_BYTES / 1024);
		total += (size_t)json_object_get_string_len(content) +
		    strlen(path);
		n++;
	}
	if (n > SPEC_MAX_STARTER_FILES || total > SPEC_MAX_STARTER_BYTES)
		return fail(x, "starters: %s: at most %d files and %d KiB in "
		    "all", name, SPEC_MAX_STARTER_FILES,
		    SPEC_MAX_STARTER_BYTES / 1024);
	return true;
}

static bool
parse_starters(struct ctx *x, const char **out)
{
	struct json_object *v = get(x, "starters"), *seen;
	size_t i, n;

	*out = "[]";
	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > SPEC_MAX_STARTERS)
		return fail(x, "starters must be an array of at most %d",
		    SPEC_MAX_STARTERS);
	seen = json_own(x->a, json_object_new_object());
	for (i = 0; i < n; i++)
		if (!starter_valid(x, json_object_array_get_idx(v, i), seen))
			return false;
	*out = text(x, v);
	return true;
}

/*
 * "pool": {"size": 2, "parameters": {...}}: workspaces kept started and
 * ready for claims whose parameters are these (defaults filled in).
 */
static bool
parse_pool(struct ctx *x, const char *definitions, const char **out)
{
	struct json_object *v = get(x, "pool"), *f, *pool;
	const char *applied, *err;
	int64_t size;

	*out = NULL;
	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_object))
		return fail(x, "pool must be an object with size and, "
		    "optionally, parameters");
	json_object_object_foreach(v, key, val) {
		(void)val;
		if (strcmp(key, "size") && strcmp(key, "parameters"))
			return fail(x, "pool: unknown field '%.32s'", key);
	}
	if (!json_object_object_get_ex(v, "size", &f) ||
	    !json_object_is_type(f, json_type_int) ||
	    (size = json_object_get_int64(f)) < 0 || size > SPEC_MAX_POOL)
		return fail(x, "pool: size must be an integer between 0 and %d",
		    SPEC_MAX_POOL);
	json_object_object_get_ex(v, "parameters", &f);
	if (!spec_params_apply(x->a, definitions, f, NULL, &applied, &err))
		return fail(x, "pool: parameters: %s", err);
	pool = json_own(x->a, json_object_new_object());
	json_object_object_add(pool, "size", json_object_new_int64(size));
	if (json_parse(x->a, applied, strlen(applied), &f) != JSON_OK)
		return fail(x, "pool: parameters are not readable");
	json_object_object_add(pool, "parameters", json_object_get(f));
	*out = text(x, pool);
	return true;
}

static bool
name_list(struct ctx *x, const char *k, const char *const *allowed,
    const char **out)
{
	struct json_object *v = get(x, k), *e;
	size_t i, n;
	int j;

	*out = "[]";
	if (v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > 64)
		return fail(x, "%s must be an array of names", k);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (e == NULL || !json_object_is_type(e, json_type_string) ||
		    !spec_env_name_valid(json_object_get_string(e)))
			return fail(x, "%s must be an array of names", k);
		if (allowed == NULL)
			continue;
		for (j = 0; allowed[j] != NULL &&
		    strcmp(allowed[j], json_object_get_string(e)) != 0; j++)
			;
		if (allowed[j] == NULL)
			return fail(x, "%s: a capability outside the allowed "
			    "set", k);
	}
	*out = text(x, v);
	return true;
}

static bool
get_str(struct ctx *x, const char *k, bool required, const char *def,
    size_t max, const char **out)
{
	struct json_object *v = get(x, k);

	if (v == NULL) {
		if (required)
			return fail(x, "%s is required", k);
		*out = def;
		return true;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 ||
	    (size_t)json_object_get_string_len(v) > max)
		return fail(x, "%s must be a non-empty string", k);
	*out = json_object_get_string(v);
	return true;
}

bool
spec_version_parse(struct arena *a, const struct conf *c,
    struct json_object *body, struct spec_version *s, const char **err)
{
	static const char *const policies[] = { "restart", "fail", NULL };
	static const char *const fields[] = { "image", "command", "args",
	    "env", "ports", "cpu_millis", "memory_mb", "pids", "home_path",
	    "uid", "gid", "probe", "idle_timeout", "max_lifetime",
	    "max_share_level", "parameters", "secrets", "capabilities",
	    "restart_policy", "starters", "pool", NULL };
	struct ctx x = { a, c, body, NULL };
	struct json_object *ports;
	const char *v;
	int i;

	memset(s, 0, sizeof(*s));
	json_object_object_foreach(body, key, val) {
		(void)val;
		for (i = 0; fields[i] != NULL && strcmp(fields[i], key) != 0;
		    i++)
			;
		if (fields[i] == NULL) {
			fail(&x, "field '%.64s' is not known", key);
			goto out;
		}
	}
	if (!get_str(&x, "image", true, NULL, 255, &s->image))
		goto out;
	if (!spec_image_valid(s->image)) {
		fail(&x, "%s is not a valid image reference", "image");
		goto out;
	}
	if (!imageref_allowed(s->image, c->image_registries, &v)) {
		fail(&x, "the image is refused: %s", v);
		goto out;
	}
	if (!string_array(&x, "command", SPEC_MAX_ARGV, &s->command) ||
	    !string_array(&x, "args", SPEC_MAX_ARGV, &s->args) ||
	    !parse_env(&x) || !parse_ports(&x, &ports) ||
	    !get_int(&x, "cpu_millis", 10, c->max_cpu_millis, false, 1000,
	    &s->cpu_millis) ||
	    !get_int(&x, "memory_mb", 16, c->max_memory_mb, false, 1024,
	    &s->memory_mb) ||
	    !get_int(&x, "pids", 16, c->max_pids, false, 512, &s->pids) ||
	    !get_int(&x, "uid", 1, 2147483647L, false, 1000, &s->uid) ||
	    !get_int(&x, "gid", 1, 2147483647L, false, 1000, &s->gid) ||
	    !get_int(&x, "idle_timeout", 60, 31536000L, false, 0,
	    &s->idle_timeout) ||
	    !get_int(&x, "max_lifetime", 60, 31536000L, false, 0,
	    &s->max_lifetime) ||
	    !get_str(&x, "home_path", false, "/home/coder", 255, &s->home_path)
	    || !parse_probe(&x, ports, &s->probe) ||
	    !get_str(&x, "max_share_level", false, "owner", 32,
	    &s->max_share_level) || !parse_params(&x, &s->parameters) ||
	    !name_list(&x, "secrets", NULL, &s->secrets) ||
	    !name_list(&x, "capabilities", capabilities, &s->capabilities) ||
	    !get_str(&x, "restart_policy", false, "restart", 16,
	    &s->restart_policy) || !parse_starters(&x, &s->starters) ||
	    !parse_pool(&x, s->parameters, &s->pool))
		goto out;
	s->env = get(&x, "env") ? text(&x, get(&x, "env")) : "{}";
	s->ports = ports ? text(&x, ports) : "[]";
	if (!spec_home_path_valid(s->home_path)) {
		fail(&x, "%s must be a clean absolute path (letters, digits, "
		    "'.', '_', '-') outside the system's directories, such as "
		    "/home/coder", "home_path");
		goto out;
	}
	if (spec_share_rank(s->max_share_level) < 0) {
		fail(&x, "%s must be owner, org, authenticated or public",
		    "max_share_level");
		goto out;
	}
	for (i = 0, v = s->restart_policy; policies[i] != NULL &&
	    strcmp(policies[i], v) != 0; i++)
		;
	if (policies[i] == NULL) {
		fail(&x, "%s must be restart or fail", "restart_policy");
		goto out;
	}
	return true;
out:
	*err = x.err;
	return false;
}

static bool
check_value(struct arena *a, struct json_object *def, const char *name,
    struct json_object *val, const char **err)
{
	const char *type = json_object_get_string(json_object_object_get(def,
	    "type"));
	struct json_object *f, *o;
	size_t i;
	bool found;

	if (strcmp(type, "bool") == 0) {
		if (!json_object_is_type(val, json_type_boolean))
			goto bad_type;
		return true;
	}
	if (strcmp(type, "number") == 0) {
		double d;
		if (!json_object_is_type(val, json_type_int) &&
		    !json_object_is_type(val, json_type_double))
			goto bad_type;
		d = json_object_get_double(val);
		if ((json_object_object_get_ex(def, "min", &f) &&
		    d < json_object_get_double(f)) ||
		    (json_object_object_get_ex(def, "max", &f) &&
		    d > json_object_get_double(f))) {
			*err = arena_printf(a, "parameter %s is out of range",
			    name);
			return false;
		}
		return true;
	}
	/* No NUL: the pattern would see only the text before it. */
	if (!json_object_is_type(val, json_type_string) ||
	    json_object_get_string_len(val) > 4096 ||
	    strlen(json_object_get_string(val)) !=
	    (size_t)json_object_get_string_len(val))
		goto bad_type;
	if (json_object_object_get_ex(def, "pattern", &f)) {
		regex_t re;
		int r;
		if (regcomp(&re, json_object_get_string(f),
		    REG_EXTENDED | REG_NOSUB) != 0) {
			*err = arena_printf(a, "parameter %s has a pattern "
			    "that does not compile", name);
			return false;
		}
		r = regexec(&re, json_object_get_string(val), 0, NULL, 0);
		regfree(&re);
		if (r != 0) {
			*err = arena_printf(a, "parameter %s does not match "
			    "its pattern", name);
			return false;
		}
	}
	if (json_object_object_get_ex(def, "options", &f) &&
	    json_object_is_type(f, json_type_array)) {
		/* Versions stored before options were checked may hold
		 * other values than strings: those match nothing. */
		for (found = false, i = 0; i < json_object_array_length(f);
		    i++) {
			o = json_object_array_get_idx(f, i);
			found |= json_object_is_type(o, json_type_string) &&
			    strcmp(json_object_get_string(o),
			    json_object_get_string(val)) == 0;
		}
		if (!found) {
			*err = arena_printf(a, "parameter %s is not one of its "
			    "options", name);
			return false;
		}
	}
	return true;
bad_type:
	*err = arena_printf(a, "parameter %s must be a %s", name, type);
	return false;
}

bool
spec_params_apply(struct arena *a, const char *definitions,
    struct json_object *values, struct json_object *previous,
    const char **out, const char **err)
{
	struct json_object *defs, *res, *d, *v, *f;
	const char *name;
	size_t i, n, len;
	bool mutable;

	if (json_parse(a, definitions, strlen(definitions), &defs) != JSON_OK
	    || !json_object_is_type(defs, json_type_array)) {
		*err = "the template's parameters are not readable";
		return false;
	}
	if (values != NULL && !json_object_is_type(values, json_type_object)) {
		*err = "parameters must be an object";
		return false;
	}
	res = json_own(a, json_object_new_object());
	n = json_object_array_length(defs);
	/* Unknown names are refused. */
	if (values != NULL) {
		json_object_object_foreach(values, key, val) {
			(void)val;
			for (i = 0; i < n; i++)
				if (strcmp(json_object_get_string(
				    json_object_object_get(
				    json_object_array_get_idx(defs, i),
				    "name")), key) == 0)
					break;
			if (i == n) {
				*err = arena_printf(a, "parameter %.64s is not "
				    "defined by the template", key);
				return false;
			}
		}
	}
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(defs, i);
		name = json_object_get_string(json_object_object_get(d,
		    "name"));
		mutable = !json_object_object_get_ex(d, "mutable", &f) ||
		    json_object_get_boolean(f);
		v = NULL;
		if (values != NULL)
			json_object_object_get_ex(values, name, &v);
		if (v != NULL && previous != NULL && !mutable) {
			struct json_object *old = NULL;
			json_object_object_get_ex(previous, name, &old);
			if (old == NULL || !json_object_equal(old, v)) {
				*err = arena_printf(a, "parameter %s cannot be "
				    "changed", name);
				return false;
			}
		}
		if (v == NULL && previous != NULL)
			json_object_object_get_ex(previous, name, &v);
		if (v == NULL)
			json_object_object_get_ex(d, "default", &v);
		if (v == NULL) {
			if (json_object_object_get_ex(d, "required", &f) &&
			    json_object_get_boolean(f)) {
				*err = arena_printf(a, "parameter %s is "
				    "required", name);
				return false;
			}
			continue;
		}
		if (!check_value(a, d, name, v, err))
			return false;
		json_object_object_add(res, name, json_object_get(v));
	}
	*out = arena_strdup(a, json_text(res, &len));
	return true;
}
