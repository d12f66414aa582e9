/*
 * router_match over a small table of our own, then over the real routes[]:
 * the real table must be complete (policy, handler) and unambiguous.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "tap.h"

static void
dummy(struct request *req, struct response *resp)
{
	(void)req;
	(void)resp;
}

static const struct route table[] = {
	{ HTTP_GET, "/a/b", "ab_get", POLICY_PUBLIC, 0, dummy, NULL, NULL },
	{ HTTP_POST, "/a/b", "ab_post", POLICY_PUBLIC, 0, dummy, NULL, NULL },
	{ HTTP_GET | HTTP_DELETE, "/users/{id}", "user", POLICY_PUBLIC, 0,
	    dummy, NULL, NULL },
	{ HTTP_PUT, "/users/{id}/keys/{key}", "user_key", POLICY_PUBLIC, 0,
	    dummy, NULL, NULL },
	{ HTTP_POST, "/only-post", "only_post", POLICY_PUBLIC, 0, dummy, NULL,
	    NULL },
	{ HTTP_GET, "/caf\xc3\xa9", "cafe", POLICY_PUBLIC, 0, dummy, NULL,
	    NULL },
	{ HTTP_GET, "/", "root", POLICY_PUBLIC, 0, dummy, NULL, NULL },
	{ HTTP_GET, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "nine",
	    POLICY_PUBLIC, 0, dummy, NULL, NULL },
};
#define NTABLE	(sizeof(table) / sizeof(table[0]))

struct result {
	enum router_result	 r;
	const struct route	*rt;
	const char		*params[ROUTE_MAX_PARAMS];
	size_t			 np;
	unsigned		 allowed;
};

static struct arena *A;

static enum router_result
match(enum http_method m, const char *path, struct result *res)
{
	memset(res, 0, sizeof(*res));
	res->r = router_match(A, table, NTABLE, m, path, &res->rt,
	    res->params, &res->np, &res->allowed);
	return res->r;
}

static const char *
route_name(const struct result *res)
{
	return res->rt ? res->rt->name : NULL;
}

static void
test_matching(void)
{
	struct result res;

	is_int(match(HTTP_GET, "/a/b", &res), ROUTER_MATCH, "GET /a/b matches");
	is_str(route_name(&res), "ab_get", "GET /a/b picks the GET route");
	is_int(res.np, 0, "a literal route has no parameters");
	is_int(match(HTTP_POST, "/a/b", &res), ROUTER_MATCH,
	    "POST /a/b matches");
	is_str(route_name(&res), "ab_post", "same pattern, method decides");
	is_int(match(HTTP_HEAD, "/a/b", &res), ROUTER_MATCH,
	    "HEAD is implied by GET");
	is_str(route_name(&res), "ab_get", "HEAD runs the GET route");
	is_int(match(HTTP_GET, "/", &res), ROUTER_MATCH, "root matches");
	is_str(route_name(&res), "root", "root route");
	is_int(match(HTTP_GET, "/A/B", &res), ROUTER_NOT_FOUND,
	    "matching is case-sensitive");
	is_int(match(HTTP_GET, "/a", &res), ROUTER_NOT_FOUND,
	    "a prefix of a route is not found");
	is_int(match(HTTP_GET, "/a/b/c", &res), ROUTER_NOT_FOUND,
	    "a longer path is not found");
	is_int(match(HTTP_GET, "/nowhere", &res), ROUTER_NOT_FOUND,
	    "unknown path is not found");
	is_int(res.allowed, 0, "not found has an empty allowed mask");
	ok(res.rt == NULL, "not found leaves no route");
	is_int(match(HTTP_GET, "/a/%62", &res), ROUTER_MATCH,
	    "a percent-encoded letter equals the letter");
	is_int(match(HTTP_GET, "/caf%C3%A9", &res), ROUTER_MATCH,
	    "percent-encoded UTF-8 matches a UTF-8 literal");
	is_int(match(HTTP_GET, "/caf%c3%a9", &res), ROUTER_MATCH,
	    "lower-case hex digits work too");
	is_int(match(HTTP_GET, "/caf\xc3\xa9", &res), ROUTER_MATCH,
	    "raw UTF-8 in the path matches");
}

static void
test_params(void)
{
	struct result res;

	is_int(match(HTTP_GET, "/users/42", &res), ROUTER_MATCH,
	    "GET /users/42 matches");
	is_str(route_name(&res), "user", "the parameter route");
	is_int(res.np, 1, "one parameter");
	is_str(res.params[0], "42", "parameter captured");
	is_int(match(HTTP_DELETE, "/users/x", &res), ROUTER_MATCH,
	    "second method of a route");
	is_int(match(HTTP_GET, "/users/j%C3%BCrgen%20x", &res), ROUTER_MATCH,
	    "encoded parameter matches");
	is_str(res.params[0], "j\xc3\xbcrgen x", "parameter is decoded");
	is_int(match(HTTP_PUT, "/users/7/keys/k-1", &res), ROUTER_MATCH,
	    "two parameters");
	is_int(res.np, 2, "two parameters captured");
	is_str(res.params[0], "7", "first parameter");
	is_str(res.params[1], "k-1", "second parameter");
	is_int(match(HTTP_GET, "/users/", &res), ROUTER_NOT_FOUND,
	    "an empty segment never fills a parameter");
	is_int(match(HTTP_GET, "/users/%7B%7D", &res), ROUTER_MATCH,
	    "braces in a value are data");
	is_str(res.params[0], "{}", "braces captured as they are");
	is_int(match(HTTP_GET, "/users/{id}", &res), ROUTER_MATCH,
	    "a literal {id} in the path is just a value");
	is_int(match(HTTP_GET, "/1/2/3/4/5/6/7/8/9", &res), ROUTER_NOT_FOUND,
	    "a pattern with more than ROUTE_MAX_PARAMS parameters never "
	    "matches");
}

static void
test_methods(void)
{
	struct result res;
	char *allow;

	is_int(match(HTTP_DELETE, "/a/b", &res), ROUTER_METHOD_NOT_ALLOWED,
	    "DELETE /a/b is 405");
	is_int(res.allowed, HTTP_GET | HTTP_HEAD | HTTP_POST,
	    "allowed mask sums every route of the path, with implied HEAD");
	ok(res.rt == NULL, "405 leaves no route");
	allow = router_allow_header(A, res.allowed);
	is_str(allow, "GET, HEAD, POST", "Allow header text");
	is_int(match(HTTP_GET, "/only-post", &res), ROUTER_METHOD_NOT_ALLOWED,
	    "GET on a POST-only route is 405");
	is_int(res.allowed, HTTP_POST, "HEAD is not implied without GET");
	is_int(match(HTTP_HEAD, "/only-post", &res), ROUTER_METHOD_NOT_ALLOWED,
	    "HEAD on a POST-only route is 405");
	is_str(router_allow_header(A, res.allowed), "POST",
	    "Allow: POST alone");
	is_int(match(HTTP_PUT, "/users/1", &res), ROUTER_METHOD_NOT_ALLOWED,
	    "PUT on a parameter route is 405");
	is_str(router_allow_header(A, res.allowed), "GET, HEAD, DELETE",
	    "Allow lists GET, HEAD and DELETE in a fixed order");
	is_int(match(0, "/a/b", &res), ROUTER_METHOD_NOT_ALLOWED,
	    "an unknown method (0) on a known path is 405");
	is_int(match(0, "/nowhere", &res), ROUTER_NOT_FOUND,
	    "an unknown method on an unknown path is 404");
	is_str(router_allow_header(A, HTTP_GET | HTTP_HEAD | HTTP_POST |
	    HTTP_PUT | HTTP_PATCH | HTTP_DELETE | HTTP_OPTIONS),
	    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
	    "Allow header with every method");
	is_str(router_allow_header(A, 0), "", "empty mask, empty header");
}

static void
test_slashes(void)
{
	struct result res;

	is_int(match(HTTP_GET, "/a/b/", &res), ROUTER_NOT_FOUND,
	    "a trailing slash is a different path");
	is_int(match(HTTP_GET, "/users/42/", &res), ROUTER_NOT_FOUND,
	    "a trailing slash after a parameter is not found");
	is_int(match(HTTP_GET, "//a/b", &res), ROUTER_NOT_FOUND,
	    "a leading double slash is not found");
	is_int(match(HTTP_GET, "/a//b", &res), ROUTER_NOT_FOUND,
	    "an inner double slash is not found");
	is_int(match(HTTP_GET, "//", &res), ROUTER_NOT_FOUND,
	    "// is not the root");
	is_int(match(HTTP_GET, "/a%2Fb", &res), ROUTER_BAD_PATH,
	    "%%2F inside a segment is a bad path");
	is_int(match(HTTP_GET, "/a%2fb", &res), ROUTER_BAD_PATH,
	    "%%2f inside a segment is a bad path");
	is_int(match(HTTP_GET, "/users/1%2Fkeys%2F2", &res), ROUTER_BAD_PATH,
	    "%%2F never splits a segment, so never reaches a deeper route");
	is_int(match(HTTP_GET, "/users/a%2F", &res), ROUTER_BAD_PATH,
	    "%%2F at the end of a parameter");
	is_int(match(HTTP_GET, "/a/.", &res), ROUTER_NOT_FOUND,
	    "dot segments are not resolved");
	is_int(match(HTTP_GET, "/a/b/..", &res), ROUTER_NOT_FOUND,
	    "dot-dot segments are not resolved");
}

static void
test_bad_paths(void)
{
	static const char *const bad[] = {
		"",			/* not absolute */
		"a/b",
		"*",
		"/a%",			/* truncated escapes */
		"/a%2",
		"/a%4/b",
		"/users/%",
		"/a%zz",		/* not hex */
		"/a%g0",
		"/a%0g",
		"/a% 1",
		"/a%-1",
		"/%00",			/* NUL, controls, DEL */
		"/a%00b",
		"/users/%00",
		"/a%01",
		"/a%0A",
		"/a%0d%0aX-Injected:%201",
		"/a%1F",
		"/a%7F",
		"/a\x01",
		"/a\tb",
		"/a\x7f",
		"/a\r\n",
		"/%FF",			/* invalid UTF-8 */
		"/\xff",
		"/caf\xc3",
		"/caf%C3",
		"/%C3%28",
		"/%C0%AF",		/* overlong '/' */
		"/%C0%80",		/* overlong NUL */
		"/%E0%80%AF",
		"/%ED%A0%80",		/* UTF-16 surrogate */
		"/%F4%90%80%80",	/* above U+10FFFF */
		"/%80",			/* lone continuation byte */
		"/users/%FE%FF",
	};
	struct result res;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(match(HTTP_GET, bad[i], &res), ROUTER_BAD_PATH,
		    "bad path #%zu is ROUTER_BAD_PATH", i);
		ok(res.rt == NULL && res.np == 0,
		    "bad path #%zu leaves no route and no parameters", i);
	}
	is_int(match(HTTP_POST, "/a%zz", &res), ROUTER_BAD_PATH,
	    "a bad path wins over the method check");
}

static void
test_lengths(void)
{
	char path[ROUTER_PATH_MAX + 64];
	struct result res;
	size_t i;

	path[0] = '/';
	memset(path + 1, 'x', ROUTER_PATH_MAX - 1);
	path[ROUTER_PATH_MAX] = '\0';
	is_int(match(HTTP_GET, path, &res), ROUTER_NOT_FOUND,
	    "a path of exactly ROUTER_PATH_MAX bytes is routed");
	path[ROUTER_PATH_MAX] = 'x';
	path[ROUTER_PATH_MAX + 1] = '\0';
	is_int(match(HTTP_GET, path, &res), ROUTER_TOO_LONG,
	    "one byte more is ROUTER_TOO_LONG");
	memset(path + 1, 'x', sizeof(path) - 2);
	path[sizeof(path) - 1] = '\0';
	is_int(match(HTTP_GET, path, &res), ROUTER_TOO_LONG,
	    "a long path is ROUTER_TOO_LONG");

	for (i = 0; i < 2 * ROUTER_MAX_SEGMENTS; i++) {
		path[2 * i] = '/';
		path[2 * i + 1] = 's';
	}
	path[4 * ROUTER_MAX_SEGMENTS] = '\0';
	is_int(match(HTTP_GET, path, &res), ROUTER_NOT_FOUND,
	    "more segments than ROUTER_MAX_SEGMENTS is not found");
	path[2 * ROUTER_MAX_SEGMENTS] = '\0';
	is_int(match(HTTP_GET, path, &res), ROUTER_NOT_FOUND,
	    "exactly ROUTER_MAX_SEGMENTS segments is routed");
}

/*
 * The checks the real table must pass, as a function so that a broken
 * table can show that they fail.  Returns the number of problems.
 */

/* "/users/{id}" and "/users/{name}" route the same requests. */
static void
shape(const char *pattern, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *pattern != '\0' && o + 3 < outlen; pattern++) {
		if (*pattern == '{') {
			out[o++] = '{';
			out[o++] = '}';
			while (*pattern != '\0' && *pattern != '}')
				pattern++;
			if (*pattern == '\0')
				break;
		} else
			out[o++] = *pattern;
	}
	out[o] = '\0';
}

/* A concrete path that the pattern should route: {x} becomes "x1". */
static void
example_path(const char *pattern, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *pattern != '\0' && o + 3 < outlen; pattern++) {
		if (*pattern == '{') {
			out[o++] = 'x';
			out[o++] = '1';
			while (*pattern != '\0' && *pattern != '}')
				pattern++;
			if (*pattern == '\0')
				break;
		} else
			out[o++] = *pattern;
	}
	out[o] = '\0';
}

static bool
good_name(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s)
		    && *s != '_')
			return false;
	return true;
}

static int
check_table(const struct route *t, size_t n, bool verbose)
{
	static const unsigned known = HTTP_GET | HTTP_HEAD | HTTP_POST |
	    HTTP_PUT | HTTP_PATCH | HTTP_DELETE | HTTP_OPTIONS;
	char si[ROUTER_PATH_MAX], sj[ROUTER_PATH_MAX], path[ROUTER_PATH_MAX];
	const char *params[ROUTE_MAX_PARAMS];
	const struct route *rt;
	unsigned allowed, m;
	size_t i, j, np;
	int bad = 0;

#define PROBLEM(...) do { bad++; if (verbose) diag(__VA_ARGS__); } while (0)
	for (i = 0; i < n; i++) {
		const char *name = t[i].name ? t[i].name : "(null)";

		if (t[i].policy == POLICY_UNSET ||
		    policy_name(t[i].policy) == NULL)
			PROBLEM("route %s has no policy", name);
		if (t[i].handler == NULL)
			PROBLEM("route %s has no handler", name);
		if (!good_name(t[i].name))
			PROBLEM("route %s: name must be [a-z0-9_]+", name);
		if (t[i].pattern == NULL || t[i].pattern[0] != '/') {
			PROBLEM("route %s: pattern must start with /", name);
			continue;
		}
		if (t[i].methods == 0 || (t[i].methods & ~known) != 0)
			PROBLEM("route %s: bad method mask", name);
		shape(t[i].pattern, si, sizeof(si));
		for (j = 0; j < i; j++) {
			if (t[j].name != NULL && t[i].name != NULL &&
			    strcmp(t[j].name, t[i].name) == 0)
				PROBLEM("duplicate route name %s", name);
			if (t[j].pattern == NULL)
				continue;
			shape(t[j].pattern, sj, sizeof(sj));
			if (strcmp(si, sj) == 0 &&
			    (t[i].methods & t[j].methods) != 0)
				PROBLEM("duplicate route: %s %s", name,
				    t[i].pattern);
		}
		/* Each method of each route reaches that very route. */
		example_path(t[i].pattern, path, sizeof(path));
		for (m = 1; m <= HTTP_OPTIONS; m <<= 1) {
			if (!(t[i].methods & m))
				continue;
			if (router_match(A, t, n, m, path, &rt, params, &np,
			    &allowed) != ROUTER_MATCH || rt != &t[i])
				PROBLEM("route %s: %s %s does not reach it",
				    name, http_method_name(m), path);
		}
	}
#undef PROBLEM
	return bad;
}

static void
test_real_table(void)
{
	struct route broken[8];
	size_t i;

	ok(nroutes > 0, "the route table is not empty");
	is_int(check_table(routes, nroutes, true), 0,
	    "every route has a policy, a handler, a unique name and a "
	    "unique (method, pattern), and is reachable");
	for (i = 0; i < nroutes; i++)
		ok(policy_name(routes[i].policy) != NULL,
		    "route %s has policy %s", routes[i].name,
		    policy_name(routes[i].policy));
	/* A body is declared, member by member, except where the handler
	 * checks a whole document (a template version; the test build's
	 * echo); a route without a body declares none. */
	for (i = 0; i < nroutes; i++) {
		bool takes = (routes[i].flags & (ROUTE_JSON_BODY |
		    ROUTE_OPT_BODY)) != 0;
		bool whole = strcmp(routes[i].name,
		    "templates_version_create") == 0 ||
		    strcmp(routes[i].name, "echo") == 0;
		size_t k;

		ok(takes ? (routes[i].body != NULL) != whole :
		    routes[i].body == NULL, "route %s: body %s", routes[i].name,
		    !takes ? "none" : whole ? "checked whole" : "declared");
		for (k = 0; routes[i].body && routes[i].body[k].name; k++)
			ok(routes[i].body[k].type != IN_ENUM ||
			    routes[i].body[k].choices != NULL,
			    "route %s: %s has choices", routes[i].name,
			    routes[i].body[k].name);
		for (k = 0; routes[i].query && routes[i].query[k].name; k++)
			ok(routes[i].query[k].type != IN_OBJECT &&
			    routes[i].query[k].type != IN_ARRAY,
			    "route %s: query %s is a scalar", routes[i].name,
			    routes[i].query[k].name);
	}

	/* The same checks catch each kind of mistake. */
	memcpy(broken, routes, 2 * sizeof(*routes));
	broken[1].policy = POLICY_UNSET;
	ok(check_table(broken, 2, false) > 0, "POLICY_UNSET is caught");
	memcpy(broken, routes, 2 * sizeof(*routes));
	broken[1].handler = NULL;
	ok(check_table(broken, 2, false) > 0, "a NULL handler is caught");
	memcpy(broken, routes, 2 * sizeof(*routes));
	broken[1].name = broken[0].name;
	ok(check_table(broken, 2, false) > 0, "a duplicate name is caught");
	memcpy(broken, routes, 2 * sizeof(*routes));
	broken[1].pattern = broken[0].pattern;
	broken[1].methods = broken[0].methods;
	ok(check_table(broken, 2, false) > 0,
	    "a duplicate (method, pattern) is caught");
	broken[0] = (struct route){ HTTP_GET, "/u/{id}", "u1", POLICY_PUBLIC,
	    0, dummy, NULL, NULL };
	broken[1] = (struct route){ HTTP_GET | HTTP_PUT, "/u/{name}", "u2",
	    POLICY_PUBLIC, 0, dummy, NULL, NULL };
	ok(check_table(broken, 2, false) > 0,
	    "patterns differing only in parameter names are duplicates");
	broken[1].methods = HTTP_PUT;
	is_int(check_table(broken, 2, false), 0,
	    "same pattern, different methods is fine");
}

static void
test_real_routes(void)
{
	const char *params[ROUTE_MAX_PARAMS];
	const struct route *rt;
	unsigned allowed;
	size_t np;

	is_int(router_match(A, routes, nroutes, HTTP_GET, "/api/v1/health",
	    &rt, params, &np, &allowed), ROUTER_MATCH, "GET /api/v1/health");
	is_str(rt ? rt->name : NULL, "health", "health route");
	is_int(router_match(A, routes, nroutes, HTTP_HEAD, "/api/v1/ready",
	    &rt, params, &np, &allowed), ROUTER_MATCH, "HEAD /api/v1/ready");
	is_int(router_match(A, routes, nroutes, HTTP_POST, "/api/v1/health",
	    &rt, params, &np, &allowed), ROUTER_METHOD_NOT_ALLOWED,
	    "POST /api/v1/health is 405");
	is_str(router_allow_header(A, allowed), "GET, HEAD",
	    "Allow: GET, HEAD for health");
	is_int(router_match(A, routes, nroutes, HTTP_GET, "/api/v1/auth/login",
	    &rt, params, &np, &allowed), ROUTER_METHOD_NOT_ALLOWED,
	    "GET /api/v1/auth/login is 405");
	is_str(router_allow_header(A, allowed), "POST",
	    "Allow: POST for auth/login");
	is_int(router_match(A, routes, nroutes, HTTP_GET, "/api/v1/health/",
	    &rt, params, &np, &allowed), ROUTER_NOT_FOUND,
	    "trailing slash on health is 404");
	is_int(router_match(A, routes, nroutes, HTTP_GET, "/api%2Fv1/health",
	    &rt, params, &np, &allowed), ROUTER_BAD_PATH,
	    "/api%%2Fv1/health is a bad path");
}

int
main(void)
{
	A = arena_new(4096);
	test_matching();
	test_params();
	test_methods();
	test_slashes();
	test_bad_paths();
	test_lengths();
	test_real_table();
	test_real_routes();
	arena_free(A);
	return done_testing();
}
