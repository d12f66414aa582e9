/*
 * The request pipeline every endpoint shares: routing, the route's policy,
 * the JSON body rules, then the handler.  Handlers never repeat these.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "auth.h"
#include "input.h"
#include "json.h"
#include "log.h"
#include "problem.h"
#include "router.h"
#include "secretbox.h"
#include "server.h"

const char *const *
server_route_labels(void)
{
	static const char *labels[128];
	size_t i;

	if (labels[0] == NULL) {
		for (i = 0; i < nroutes && i < 127; i++)
			labels[i] = routes[i].name;
		labels[i] = "unmatched";
	}
	return labels;
}

size_t
server_route_index(const struct request *req)
{
	return req->route ? (size_t)(req->route - routes) : nroutes;
}

/* A ChaCha20 stream seeded once per worker: no system call per id. */
static unsigned char	id_seed[randombytes_SEEDBYTES];
static uint64_t		id_counter;
static bool		id_seeded;

void
request_id_seed(void)
{
	randombytes_buf(id_seed, sizeof(id_seed));
	id_counter = 0;
	id_seeded = true;
}

void
request_id_new(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	size_t i;

	if (!id_seeded)
		request_id_seed();
	memcpy(id_seed, &id_counter, sizeof(id_counter));
	id_counter++;
	randombytes_buf_deterministic(raw, sizeof(raw), id_seed);
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * sizeof(raw)] = '\0';
}

/* application/json, optionally with charset=utf-8, nothing else. */
static bool
is_json_type(const char *ct)
{
	const char *p;

	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
		return false;
	p = ct + 16;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return true;
	if (*p++ != ';')
		return false;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "charset=", 8) != 0)
		return false;
	p += 8;
	if (*p == '"')
		p++;
	return strncasecmp(p, "utf-8", 5) == 0 &&
	    (p[5] == '\0' || p[5] == '"' || p[5] == ' ');
}

/* Reads the JSON body of a route that takes one; false when answered. */
static bool
read_json_body(struct server *srv, struct request *req,
    struct response *resp)
{
	enum json_parse_result r;
	long got = 0, n;
	char *buf;

	if (!is_json_type(req->content_type)) {
		problem(req, resp, PROBLEM_UNSUPPORTED_MEDIA_TYPE,
		    "the request body must be application/json");
		return false;
	}
	if (req->content_length > srv->conf.max_body_size) {
		problem(req, resp, PROBLEM_BODY_TOO_LARGE, arena_printf(
		    req->arena, "the request body may be at most %ld bytes",
		    srv->conf.max_body_size));
		return false;
	}
	buf = arena_alloc(req->arena, (size_t)req->content_length + 1);
	while (got < req->content_length && (n = req->read_body(req,
	    buf + got, (size_t)(req->content_length - got))) > 0)
		got += n;
	if (got != req->content_length) {
		problem(req, resp, PROBLEM_BAD_REQUEST,
		    "the request body is shorter than its Content-Length");
		return false;
	}
	buf[got] = '\0';
	if ((r = json_parse(req->arena, buf, (size_t)got, &req->body))
	    != JSON_OK) {
		problem(req, resp, PROBLEM_MALFORMED_JSON,
		    json_parse_error(r));
		return false;
	}
	/* A null is no body at all: not an empty object either. */
	if (req->body == NULL) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "the request body "
		    "must be a JSON object, not null");
		return false;
	}
	return true;
}

static bool
role_allows(enum policy p, const char *role)
{
	switch (p) {
	case POLICY_PUBLIC:
	case POLICY_USER:
		return true;
	case POLICY_AUDITOR:
		return strcmp(role, "admin") == 0 || strcmp(role, "auditor") == 0;
	case POLICY_TEMPLATE_ADMIN:
		return strcmp(role, "admin") == 0 ||
		    strcmp(role, "template-admin") == 0;
	case POLICY_ADMIN:
		return strcmp(role, "admin") == 0;
	case POLICY_UNSET:
		break;
	}
	return false;
}

static bool
method_is_safe(enum http_method m)
{
	return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS;
}

/*
 * The route's policy, checked in one place for every endpoint.  A caller
 * whose role does not reach a route gets 404: the route does not exist
 * for them.  Returns false after answering.
 */
static bool
enforce_policy(struct request *req, struct response *resp)
{
	enum policy p = req->route->policy;
	long retry;

	if (p == POLICY_PUBLIC)
		return true;
	if (p == POLICY_UNSET) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return false;
	}
	switch (auth_resolve(req, &retry)) {
	case AUTH_OK:
		break;
	case AUTH_ANONYMOUS:
	case AUTH_INVALID:
		problem(req, resp, PROBLEM_UNAUTHORIZED, NULL);
		resp_header(resp, "WWW-Authenticate", "Bearer realm=\"warren\"");
		return false;
	case AUTH_UNAVAILABLE:
		problem(req, resp, PROBLEM_DB_UNAVAILABLE, NULL);
		return false;
	case AUTH_LIMITED:
		problem(req, resp, PROBLEM_TOO_MANY_REQUESTS,
		    "this token has used its request budget");
		resp_header(resp, "Retry-After", arena_printf(req->arena,
		    "%ld", retry));
		return false;
	}
	if (!role_allows(p, req->caller.role)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return false;
	}
	if (req->caller.scope == SCOPE_WORKSPACE) {
		problem(req, resp, PROBLEM_FORBIDDEN, "this token opens "
		    "workspaces only: it has no access to the API");
		return false;
	}
	if (method_is_safe(req->method))
		return true;
	if (req->caller.scope == SCOPE_READ) {
		problem(req, resp, PROBLEM_FORBIDDEN,
		    "this token has read-only scope");
		return false;
	}
	if (req->caller.via == AUTH_COOKIE && !auth_csrf_ok(req)) {
		problem(req, resp, PROBLEM_CSRF, "send the X-CSRF-Token header "
		    "from the same origin");
		return false;
	}
	return true;
}

/* Every %-escape well formed, decoding to UTF-8 without controls. */
static bool
query_valid(struct request *req)
{
	const char *q = req->query;
	size_t n = strlen(q), i, o = 0;
	char *buf;

	if (n > ROUTER_PATH_MAX)
		return false;
	buf = arena_alloc(req->arena, n + 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)q[i];
		if (c == '%') {
			if (i + 2 >= n || !isxdigit((unsigned char)q[i + 1]) ||
			    !isxdigit((unsigned char)q[i + 2]))
				return false;
			c = (unsigned char)strtol((char[]){ q[i + 1], q[i + 2],
			    0 }, NULL, 16);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return false;
		buf[o++] = (char)c;
	}
	return utf8_valid(buf, o);
}

static void
oidc_error(void *ctx, const char *where, const char *msg)
{
	(void)ctx;
	log_warnx("%s: %s", where, msg);
}

int
server_prepare(struct server *srv)
{
	char err[256];
	const char *p;
	size_t n;

	srv->secure = strncmp(srv->conf.public_url, "https://", 8) == 0;
	p = strchr(srv->conf.public_url, ':') + 3;
	n = (size_t)(p - srv->conf.public_url) + strcspn(p, "/");
	snprintf(srv->origin, sizeof(srv->origin), "%.*s", (int)n,
	    srv->conf.public_url);
	if (webtoken_keys_load(&srv->keys, srv->conf.jwt_key_file, err,
	    sizeof(err)) == -1) {
		log_warnx("jwt_key_file: %s", err);
		return -1;
	}
	if (oidc_load(srv->conf.oidc_provider_dir, srv->oidc,
	    OIDC_MAX_PROVIDERS, &srv->noidc, oidc_error, NULL) == -1)
		return -1;
	/* Without its key, only the secrets endpoints are unavailable. */
	srv->has_secret_key = secretbox_load(srv->conf.secret_key_file,
	    srv->secret_key, err, sizeof(err)) == 0;
	if (!srv->has_secret_key)
		log_warnx("secret_key_file: %s: secrets are unavailable", err);
	return 0;
}

void
server_handle(struct server *srv, struct request *req, struct response *resp)
{
	unsigned allowed;
	const char *hdr;

	hdr = req->header(req, "HTTP_X_REQUEST_ID");
	if (request_id_sane(hdr))
		snprintf(req->request_id, sizeof(req->request_id), "%s", hdr);
	else
		request_id_new(req->request_id);
	log_set_request_id(req->request_id);

	switch (router_match(req->arena, routes, nroutes, req->method,
	    req->path, &req->route, req->params, &req->nparams, &allowed)) {
	case ROUTER_MATCH:
		break;
	case ROUTER_NOT_FOUND:
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	case ROUTER_BAD_PATH:
		problem(req, resp, PROBLEM_BAD_PATH, NULL);
		return;
	case ROUTER_TOO_LONG:
		problem(req, resp, PROBLEM_URI_TOO_LONG, NULL);
		return;
	case ROUTER_METHOD_NOT_ALLOWED:
		problem(req, resp, PROBLEM_METHOD_NOT_ALLOWED, NULL);
		resp_header(resp, "Allow",
		    router_allow_header(req->arena, allowed));
		return;
	}
	if (!query_valid(req)) {
		problem(req, resp, PROBLEM_BAD_REQUEST,
		    "the query string is not valid");
		return;
	}
	if (!enforce_policy(req, resp))
		return;
	if ((req->route->flags & (ROUTE_JSON_BODY | ROUTE_OPT_BODY)) &&
	    !((req->route->flags & ROUTE_OPT_BODY) &&
	    req->content_length == 0) && !read_json_body(srv, req, resp))
		return;
	if (!in_check_query(req, resp, req->route->query) ||
	    !in_check_body(req, resp, req->route->body))
		return;
	req->route->handler(req, resp);
	/*
	 * The request owns its transaction: one a handler left open would
	 * carry the worker's next requests (their writes, locks and audit
	 * rows) and hold back the list cache's notifications.
	 */
	if (db_in_transaction(srv->db)) {
		log_warnx("bug: %s %s left a transaction open; rolled back",
		    http_method_name(req->method), req->route->pattern);
		db_rollback(srv->db, req->arena);
	}
}
