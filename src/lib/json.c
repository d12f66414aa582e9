#include "config.h"

#include <ctype.h>
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

/*
 * An RFC 8259 syntax check run before json-c, whose strict mode still
 * accepts NaN, Infinity, leading zeros, "1.", single quotes and raw
 * control characters in strings.  No allocation; depth is json-c's to
 * judge, but recursion here is bounded by the same limit.
 */
struct lex {
	const unsigned char	*p, *end;
	int			 depth;
	bool			 too_deep;
};

static void
ws(struct lex *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' ||
	    *l->p == '\n' || *l->p == '\r'))
		l->p++;
}

static bool
lit(struct lex *l, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0)
		return false;
	l->p += n;
	return true;
}

static bool
digits(struct lex *l)
{
	const unsigned char *s = l->p;

	while (l->p < l->end && *l->p >= '0' && *l->p <= '9')
		l->p++;
	return l->p > s;
}

static bool
number(struct lex *l)
{
	if (l->p < l->end && *l->p == '-')
		l->p++;
	if (l->p < l->end && *l->p == '0')
		l->p++;
	else if (!digits(l))
		return false;
	if (l->p < l->end && *l->p == '.') {
		l->p++;
		if (!digits(l))
			return false;
	}
	if (l->p < l->end && (*l->p == 'e' || *l->p == 'E')) {
		l->p++;
		if (l->p < l->end && (*l->p == '+' || *l->p == '-'))
			l->p++;
		if (!digits(l))
			return false;
	}
	return true;
}

static bool
string(struct lex *l)
{
	int i;

	if (l->p >= l->end || *l->p++ != '"')
		return false;
	while (l->p < l->end && *l->p != '"') {
		if (*l->p < 0x20)
			return false;
		if (*l->p++ != '\\')
			continue;
		if (l->p >= l->end)
			return false;
		if (*l->p == 'u') {
			l->p++;
			for (i = 0; i < 4; i++, l->p++)
				if (l->p >= l->end || !isxdigit(*l->p))
					return false;
		} else if (strchr("\"\\/bfnrt", *l->p) == NULL || *l->p == 0)
			return false;
		else
			l->p++;
	}
	return l->p++ < l->end;
}

static bool value(struct lex *);

static bool
members(struct lex *l, char close, bool keyed)
{
	l->p++;
	ws(l);
	if (l->p < l->end && *l->p == close) {
		l->p++;
		return true;
	}
	for (;;) {
		if (keyed) {
			if (!string(l))
				return false;
			ws(l);
			if (l->p >= l->end || *l->p++ != ':')
				return false;
		}
		if (!value(l))
			return false;
		ws(l);
		if (l->p < l->end && *l->p == ',') {
			l->p++;
			ws(l);
			continue;
		}
		return l->p < l->end && *l->p++ == close;
	}
}

static bool
value(struct lex *l)
{
	bool ok;

	ws(l);
	if (l->p >= l->end)
		return false;
	switch (*l->p) {
	case '{':
	case '[':
		if (++l->depth > JSON_MAX_DEPTH) {
			l->too_deep = true;
			return false;
		}
		ok = members(l, *l->p == '{' ? '}' : ']', *l->p == '{');
		l->depth--;
		return ok;
	case '"':
		return string(l);
	case 't':
		return lit(l, "true");
	case 'f':
		return lit(l, "false");
	case 'n':
		return lit(l, "null");
	default:
		return number(l);
	}
}

static enum json_parse_result
rfc8259(const char *buf, size_t len)
{
	struct lex l = { (const unsigned char *)buf,
	    (const unsigned char *)buf + len, 0, false };

	if (!value(&l))
		return l.too_deep ? JSON_TOO_DEEP : JSON_MALFORMED;
	ws(&l);
	return l.p == l.end ? JSON_OK : JSON_MALFORMED;
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
	enum json_parse_result r;
	size_t used, i;

	*out = NULL;
	for (i = 0; i < len && strchr(" \t\r\n", buf[i]) != NULL && buf[i]; i++)
		;
	if (i == len)
		return JSON_EMPTY;
	if (!utf8_valid(buf, len))
		return JSON_BAD_UTF8;
	if ((r = rfc8259(buf, len)) != JSON_OK)
		return r;
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

/*
 * JSON text written straight into an arena buffer, for answers built from
 * many rows: no json-c objects to build and free.  Strings are escaped as
 * json_text escapes them.
 */
void
jw_init(struct jw *w, struct arena *a, size_t hint)
{
	w->a = a;
	w->cap = hint < 64 ? 64 : hint;
	w->buf = arena_alloc(a, w->cap);
	w->len = 0;
	w->comma = false;
}

static void
jw_room(struct jw *w, size_t n)
{
	char *nb;

	if (w->len + n + 1 <= w->cap)
		return;
	while (w->len + n + 1 > w->cap)
		w->cap *= 2;
	nb = arena_alloc(w->a, w->cap);
	memcpy(nb, w->buf, w->len);
	w->buf = nb;
}

void
jw_raw(struct jw *w, const char *s, size_t n)
{
	jw_room(w, n);
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

void
jw_str(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t run;
	char *o;

	jw_room(w, 1);
	w->buf[w->len++] = '"';
	for (;;) {
		for (run = 0; p[run] >= 0x20 && p[run] != '"' &&
		    p[run] != '\\'; run++)
			;
		jw_raw(w, (const char *)p, run);
		p += run;
		if (*p == '\0')
			break;
		jw_room(w, 6);
		o = w->buf + w->len;
		o[0] = '\\';
		switch (*p) {
		case '"':  o[1] = '"';  w->len += 2; break;
		case '\\': o[1] = '\\'; w->len += 2; break;
		case '\b': o[1] = 'b';  w->len += 2; break;
		case '\f': o[1] = 'f';  w->len += 2; break;
		case '\n': o[1] = 'n';  w->len += 2; break;
		case '\r': o[1] = 'r';  w->len += 2; break;
		case '\t': o[1] = 't';  w->len += 2; break;
		default:
			memcpy(o + 1, "u00", 3);
			o[4] = hex[*p >> 4];
			o[5] = hex[*p & 15];
			w->len += 6;
		}
		p++;
	}
	jw_room(w, 1);
	w->buf[w->len++] = '"';
}

void
jw_open(struct jw *w, char c)
{
	if (w->comma)
		jw_raw(w, ",", 1);
	jw_raw(w, &c, 1);
	w->comma = false;
}

void
jw_close(struct jw *w, char c)
{
	jw_raw(w, &c, 1);
	w->comma = true;
}

void
jw_key(struct jw *w, const char *k)
{
	if (w->comma)
		jw_raw(w, ",", 1);
	jw_str(w, k);
	jw_raw(w, ":", 1);
	w->comma = false;
}

/* A value: raw JSON text (a number, true, null, or a whole document). */
void
jw_value(struct jw *w, const char *s, size_t n)
{
	if (w->comma)
		jw_raw(w, ",", 1);
	jw_raw(w, s, n);
	w->comma = true;
}

void
jw_string(struct jw *w, const char *s)
{
	if (w->comma)
		jw_raw(w, ",", 1);
	if (s == NULL)
		jw_raw(w, "null", 4);
	else
		jw_str(w, s);
	w->comma = true;
}

const char *
jw_text(struct jw *w, size_t *len)
{
	w->buf[w->len] = '\0';
	*len = w->len;
	return w->buf;
}
