/*
 * The OpenAPI 3.1 document, made from the route table itself, so it can
 * never list a route that does not exist or miss one that does.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
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

static void
add_int(struct json_object *o, const char *key, long v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* The JSON Schema of one declared input (router.h); null is absent. */
static struct json_object *
field_schema(const struct in_field *f)
{
	static const char *const types[] = {
	    [IN_STRING] = "string", [IN_NAME] = "string",
	    [IN_INT] = "integer", [IN_BOOL] = "boolean",
	    [IN_ENUM] = "string", [IN_UUID] = "string",
	    [IN_OBJECT] = "object", [IN_ARRAY] = "array" };
	struct json_object *o = json_object_new_object(), *t, *e;
	size_t i;

	t = str(types[f->type]);
	if (!f->required) {
		e = json_object_new_array();
		json_object_array_add(e, t);
		json_object_array_add(e, str("null"));
		t = e;
	}
	json_object_object_add(o, "type", t);
	switch (f->type) {
	case IN_NAME:
		json_object_object_add(o, "pattern",
		    str("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"));
		/* FALLTHROUGH */
	case IN_STRING:
		add_int(o, "minLength", f->min);
		if (f->max > 0)
			add_int(o, "maxLength", f->max);
		break;
	case IN_INT:
		add_int(o, "minimum", f->min);
		if (f->max != LONG_MAX)
			add_int(o, "maximum", f->max);
		break;
	case IN_ENUM:
		e = json_object_new_array();
		for (i = 0; f->choices[i] != NULL; i++)
			json_object_array_add(e, str(f->choices[i]));
		if (!f->required)
			json_object_array_add(e, NULL);
		json_object_object_add(o, "enum", e);
		break;
	case IN_UUID:
		json_object_object_add(o, "format", str("uuid"));
		break;
	default:
		break;
	}
	if (f->doc != NULL)
		json_object_object_add(o, "description", str(f->doc));
	return o;
}

/* A declared body: an object of exactly these members. */
static struct json_object *
body_schema(const struct in_field *fields)
{
	struct json_object *o = json_object_new_object(), *props, *req;
	size_t i;

	json_object_object_add(o, "type", str("object"));
	if (fields == NULL)	/* a document its handler checks whole */
		return o;
	props = json_object_new_object();
	req = json_object_new_array();
	for (i = 0; fields[i].name != NULL; i++) {
		json_object_object_add(props, fields[i].name,
		    field_schema(&fields[i]));
		if (fields[i].required)
			json_object_array_add(req, str(fields[i].name));
	}
	json_object_object_add(o, "properties", props);
	if (json_object_array_length(req) > 0)
		json_object_object_add(o, "required", req);
	else
		json_object_put(req);
	json_object_object_add(o, "additionalProperties",
	    json_object_new_boolean(0));
	return o;
}

/* The declared query parameters. */
static struct json_object *
query_parameters(const struct in_field *fields)
{
	struct json_object *a = json_object_new_array(), *p;
	size_t i;

	for (i = 0; fields != NULL && fields[i].name != NULL; i++) {
		p = json_object_new_object();
		json_object_object_add(p, "name", str(fields[i].name));
		json_object_object_add(p, "in", str("query"));
		json_object_object_add(p, "required",
		    json_object_new_boolean(fields[i].required));
		json_object_object_add(p, "schema", field_schema(&fields[i]));
		json_object_array_add(a, p);
	}
	return a;
}

static struct json_object *
operation(const struct route *rt, unsigned method)
{
	struct json_object *op = json_object_new_object(), *body, *m, *c;
	char head_id[80];

	snprintf(head_id, sizeof(head_id), "%s_head", rt->name);
	json_object_object_add(op, "operationId", str(method == HTTP_HEAD ?
	    head_id : rt->name));
	json_object_object_add(op, "summary", str(rt->name));
	json_object_object_add(op, "x-warren-policy",
	    str(policy_name(rt->policy)));
	if (rt->policy == POLICY_PUBLIC)
		json_object_object_add(op, "security", json_object_new_array());
	else
		json_object_object_add(op, "security", json_tokener_parse(
		    "[{\"bearer\":[]},{\"cookie\":[]}]"));
	if (rt->query != NULL && rt->query[0].name != NULL)
		json_object_object_add(op, "parameters",
		    query_parameters(rt->query));
	if (rt->flags & (ROUTE_JSON_BODY | ROUTE_OPT_BODY)) {
		body = json_object_new_object();
		c = json_object_new_object();
		m = json_object_new_object();
		json_object_object_add(m, "schema", body_schema(rt->body));
		json_object_object_add(c, "application/json", m);
		json_object_object_add(body, "content", c);
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
