/*
 * The request pipeline every endpoint shares: routing, the route's policy,
 * the JSON body rules, then the handler.  Handlers never repeat these.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "json.h"
#include "log.h"
#include "problem.h"
#include "router.h"
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

void
request_id_new(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];
	size_t i;

	randombytes_buf(raw, sizeof(raw));
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
	return true;
}

static bool
policy_allows(const struct route *rt, struct request *req)
{
	(void)req;
	switch (rt->policy) {
	case POLICY_PUBLIC:
		return true;
	case POLICY_UNSET:
		break;
	}
	return false;
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
	if (!policy_allows(req->route, req)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if ((req->route->flags & ROUTE_JSON_BODY) &&
	    !read_json_body(srv, req, resp))
		return;
	req->route->handler(req, resp);
}
