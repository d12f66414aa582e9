/*
 * The OpenAPI 3.1 document, made from the route table itself, so it can
 * never list a route that does not exist or miss one that does.
 */
#include "config.h"

#include <string.h>

#include "handlers.h"
#include "json.h"
#include "router.h"
#include "schemas.h"
#include "server.h"

static struct json_object *
str(const char *s)
{
	return json_object_new_string(s);
}

static struct json_object *
operation(const struct route *rt, unsigned method)
{
	struct json_object *op = json_object_new_object(), *body;

	json_object_object_add(op, "operationId", str(method == HTTP_HEAD ?
	    "" : rt->name));
	json_object_object_add(op, "summary", str(rt->name));
	json_object_object_add(op, "x-warren-policy",
	    str(policy_name(rt->policy)));
	if (rt->policy == POLICY_PUBLIC)
		json_object_object_add(op, "security", json_object_new_array());
	else
		json_object_object_add(op, "security", json_tokener_parse(
		    "[{\"bearer\":[]},{\"cookie\":[]}]"));
	if (rt->flags & (ROUTE_JSON_BODY | ROUTE_OPT_BODY)) {
		body = json_tokener_parse("{\"content\":{\"application/json\":"
		    "{\"schema\":{\"type\":\"object\"}}}}");
		json_object_object_add(body, "required", json_object_new_boolean(
		    (rt->flags & ROUTE_JSON_BODY) != 0));
		json_object_object_add(op, "requestBody", body);
	}
	json_object_object_add(op, "responses", openapi_responses(rt, method));
	return op;
}

/* Path parameters named by the {segments} of the pattern. */
static struct json_object *
parameters(const char *pattern)
{
	struct json_object *a = json_object_new_array(), *p;
	const char *s = pattern, *e;
	char name[64];

	while ((s = strchr(s, '{')) != NULL && (e = strchr(s, '}')) != NULL) {
		snprintf(name, sizeof(name), "%.*s", (int)(e - s - 1), s + 1);
		p = json_object_new_object();
		json_object_object_add(p, "name", str(name));
		json_object_object_add(p, "in", str("path"));
		json_object_object_add(p, "required",
		    json_object_new_boolean(1));
		json_object_object_add(p, "schema",
		    json_tokener_parse("{\"type\":\"string\"}"));
		json_object_array_add(a, p);
		s = e + 1;
	}
	return a;
}

static const char *
method_key(unsigned m)
{
	switch (m) {
	case HTTP_GET: return "get";
	case HTTP_HEAD: return "head";
	case HTTP_POST: return "post";
	case HTTP_PUT: return "put";
	case HTTP_PATCH: return "patch";
	case HTTP_DELETE: return "delete";
	default: return "options";
	}
}

void
h_openapi(struct request *req, struct response *resp)
{
	struct json_object *doc, *paths, *item, *info, *servers, *srv;
	unsigned m;
	size_t i;

	doc = json_own(req->arena, json_object_new_object());
	json_object_object_add(doc, "openapi", str("3.1.0"));
	info = json_object_new_object();
	json_object_object_add(info, "title", str("Warren API"));
	json_object_object_add(info, "version", str(PACKAGE_VERSION));
	json_object_object_add(doc, "info", info);
	servers = json_object_new_array();
	srv = json_object_new_object();
	json_object_object_add(srv, "url", str(req->srv->conf.public_url));
	json_object_array_add(servers, srv);
	json_object_object_add(doc, "servers", servers);
	paths = json_object_new_object();
	for (i = 0; i < nroutes; i++) {
		if (!json_object_object_get_ex(paths, routes[i].pattern,
		    &item)) {
			item = json_object_new_object();
			if (strchr(routes[i].pattern, '{') != NULL)
				json_object_object_add(item, "parameters",
				    parameters(routes[i].pattern));
			json_object_object_add(paths, routes[i].pattern, item);
		}
		for (m = 1; m <= HTTP_OPTIONS; m <<= 1)
			if (routes[i].methods & m)
				json_object_object_add(item, method_key(m),
				    operation(&routes[i], m));
	}
	json_object_object_add(doc, "paths", paths);
	json_object_object_add(doc, "components", json_tokener_parse(
	    "{\"securitySchemes\":{"
	    "\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\","
	    "\"description\":\"an access token or an API token (wrn_...)\"},"
	    "\"cookie\":{\"type\":\"apiKey\",\"in\":\"cookie\","
	    "\"name\":\"warren_access\"}}}"));
	json_object_object_add(json_object_object_get(doc, "components"),
	    "schemas", openapi_schemas());
	resp_json(req, resp, 200, doc);
}
