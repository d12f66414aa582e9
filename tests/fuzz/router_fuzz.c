/*
 * router_match on arbitrary raw paths and methods, over the real routes[]
 * and over a table with parameters (the real one may have none yet).
 * Input: one byte picks the method, the rest is the path.
 */
#include "config.h"

#include <string.h>

#include "fuzz.h"
#include "json.h"
#include "router.h"

static void
nop(struct request *req, struct response *resp)
{
	(void)req;
	(void)resp;
}

static const struct route params_table[] = {
	{ HTTP_GET, "/api/v1/users/{id}", "user", POLICY_PUBLIC, 0, nop, NULL,
	    NULL },
	{ HTTP_PUT | HTTP_DELETE, "/api/v1/users/{id}/keys/{key}", "key",
	    POLICY_PUBLIC, 0, nop, NULL, NULL },
	{ HTTP_POST, "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", "eight",
	    POLICY_PUBLIC, 0, nop, NULL, NULL },
	{ HTTP_GET, "/", "root", POLICY_PUBLIC, 0, nop, NULL, NULL },
};

static struct arena *A;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	A = arena_new(64 * 1024);
	return 0;
}

static unsigned
with_head(unsigned methods)
{
	return (methods & HTTP_GET) ? methods | HTTP_HEAD : methods;
}

static void
check(const struct route *table, size_t n, enum http_method m,
    const char *path)
{
	const char *params[ROUTE_MAX_PARAMS];
	const struct route *rt = (const struct route *)1;
	enum router_result r;
	unsigned allowed = ~0u;
	size_t np = ~(size_t)0, i;
	const char *allow;

	r = router_match(A, table, n, m, path, &rt, params, &np, &allowed);
	switch (r) {
	case ROUTER_MATCH:
		CHECK(rt >= table && rt < table + n);
		CHECK(with_head(rt->methods) & m);
		CHECK(path[0] == '/');
		CHECK(strlen(path) <= ROUTER_PATH_MAX);
		CHECK(np <= ROUTE_MAX_PARAMS);
		for (i = 0; i < np; i++) {
			size_t len = strlen(params[i]);
			const char *p;

			CHECK(len > 0 && len <= strlen(path));
			CHECK(utf8_valid(params[i], len));
			CHECK(strchr(params[i], '/') == NULL);
			for (p = params[i]; *p; p++)
				CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
		}
		/* A raw path without '%' decodes to itself. */
		if (np == 0 && strchr(path, '%') == NULL)
			CHECK(strcmp(rt->pattern, path) == 0);
		break;
	case ROUTER_METHOD_NOT_ALLOWED:
		CHECK(rt == NULL && np == 0);
		CHECK(allowed != 0 && (allowed & m) == 0);
		allow = router_allow_header(A, allowed);
		CHECK(allow[0] != '\0' && strlen(allow) < 64);
		break;
	case ROUTER_NOT_FOUND:
		CHECK(rt == NULL && np == 0 && allowed == 0);
		break;
	case ROUTER_TOO_LONG:
		CHECK(rt == NULL && strlen(path) > ROUTER_PATH_MAX);
		break;
	case ROUTER_BAD_PATH:
		CHECK(rt == NULL);
		break;
	default:
		CHECK(!"unknown router result");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum http_method methods[] = { HTTP_GET, HTTP_HEAD,
	    HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE, HTTP_OPTIONS, 0 };
	enum http_method m;
	char *path;

	if (size < 1)
		return 0;
	m = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	path = arena_strndup(A, (const char *)data + 1, size - 1);
	check(routes, nroutes, m, path);
	check(params_table, sizeof(params_table) / sizeof(params_table[0]), m,
	    path);
	arena_reset(A);
	return 0;
}
