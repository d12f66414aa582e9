/*
 * The raw path is split on '/' before any decoding, so "%2F" can never
 * create a segment boundary; each segment is then percent-decoded and
 * must be valid UTF-8 without control characters.
 */
#include "config.h"

#include <string.h>

#include "json.h"
#include "router.h"

struct segments {
	const char	*seg[ROUTER_MAX_SEGMENTS];
	size_t		 n;
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) into a fresh string; NULL when not acceptable. */
static const char *
decode_segment(struct arena *a, const char *s, size_t len)
{
	char *out = arena_alloc(a, len + 1);
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= len)
				return NULL;
			if ((hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return NULL;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || c == '/')
			return NULL;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (!utf8_valid(out, o))
		return NULL;
	return out;
}

static enum router_result
split(struct arena *a, const char *path, struct segments *sg)
{
	const char *p, *q;

	if (path[0] != '/')
		return ROUTER_BAD_PATH;
	if (strlen(path) > ROUTER_PATH_MAX)
		return ROUTER_TOO_LONG;
	sg->n = 0;
	for (p = path + 1;; p = q + 1) {
		q = strchr(p, '/');
		if (q == NULL)
			q = p + strlen(p);
		if (sg->n == ROUTER_MAX_SEGMENTS)
			return ROUTER_NOT_FOUND;
		if ((sg->seg[sg->n++] = decode_segment(a, p, (size_t)(q - p)))
		    == NULL)
			return ROUTER_BAD_PATH;
		if (*q == '\0')
			break;
	}
	return ROUTER_MATCH;
}

/* Compares a pattern with the segments; fills params on success. */
static bool
pattern_match(const char *pat, const struct segments *sg, const char **params,
    size_t *nparams)
{
	const char *p = pat + 1, *q;
	size_t i = 0, len, np = 0;

	for (;; p = q + 1) {
		q = strchr(p, '/');
		len = q ? (size_t)(q - p) : strlen(p);
		if (i == sg->n)
			return false;
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			if (sg->seg[i][0] == '\0' || np == ROUTE_MAX_PARAMS)
				return false;
			params[np++] = sg->seg[i];
		} else if (strlen(sg->seg[i]) != len ||
		    memcmp(sg->seg[i], p, len) != 0)
			return false;
		i++;
		if (q == NULL)
			break;
	}
	if (i != sg->n)
		return false;
	*nparams = np;
	return true;
}

enum router_result
router_match(struct arena *a, const struct route *table, size_t n,
    enum http_method m, const char *path, const struct route **match,
    const char **params, size_t *nparams, unsigned *allowed)
{
	const char *tmp[ROUTE_MAX_PARAMS];
	struct segments sg;
	enum router_result r;
	unsigned methods;
	size_t i, np;

	*match = NULL;
	*nparams = 0;
	*allowed = 0;
	if ((r = split(a, path, &sg)) != ROUTER_MATCH)
		return r;
	for (i = 0; i < n; i++) {
		if (!pattern_match(table[i].pattern, &sg, tmp, &np))
			continue;
		methods = table[i].methods;
		if (methods & HTTP_GET)
			methods |= HTTP_HEAD;
		*allowed |= methods;
		if ((methods & m) && *match == NULL) {
			*match = &table[i];
			memcpy(params, tmp, np * sizeof(*tmp));
			*nparams = np;
		}
	}
	if (*match != NULL)
		return ROUTER_MATCH;
	return *allowed ? ROUTER_METHOD_NOT_ALLOWED : ROUTER_NOT_FOUND;
}

char *
router_allow_header(struct arena *a, unsigned methods)
{
	static const enum http_method order[] = { HTTP_GET, HTTP_HEAD,
	    HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS };
	char *out = arena_alloc(a, 64);
	size_t i;

	out[0] = '\0';
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(methods & order[i]))
			continue;
		if (out[0] != '\0')
			strcat(out, ", ");
		strcat(out, http_method_name(order[i]));
	}
	return out;
}

const char *
policy_name(enum policy p)
{
	switch (p) {
	case POLICY_PUBLIC:
		return "public";
	case POLICY_USER:
		return "user";
	case POLICY_AUDITOR:
		return "auditor";
	case POLICY_TEMPLATE_ADMIN:
		return "template-admin";
	case POLICY_ADMIN:
		return "admin";
	case POLICY_UNSET:
		break;
	}
	return NULL;
}
