/* The schemas of the OpenAPI document (schemas.h). */
#include "config.h"

#include "json.h"
#include "schemas.h"
#include "wstatus.h"

static struct json_object *
str(const char *s)
{
	return json_object_new_string(s);
}

static struct json_object *
problem_ref(const char *what)
{
	struct json_object *r = json_object_new_object(), *c, *m;

	json_object_object_add(r, "description", str(what));
	c = json_object_new_object();
	m = json_object_new_object();
	json_object_object_add(m, "schema", json_tokener_parse(
	    "{\"$ref\":\"#/components/schemas/Problem\"}"));
	json_object_object_add(c, "application/problem+json", m);
	json_object_object_add(r, "content", c);
	return r;
}

/* The one vocabulary of workspace status (wstatus.h). */
static struct json_object *
status_schema(void)
{
	struct json_object *o = json_object_new_object(), *e;
	int i;

	json_object_object_add(o, "type", str("string"));
	e = json_object_new_array();
	for (i = 0; i < WS_STATUS_COUNT; i++)
		json_object_array_add(e, str(ws_status_name(i)));
	json_object_object_add(o, "enum", e);
	return o;
}

struct json_object *
openapi_schemas(void)
{
	struct json_object *o = json_tokener_parse(
	    "{\"Problem\":{\"type\":\"object\","
	    "\"required\":[\"type\",\"title\",\"status\"],\"properties\":{"
	    "\"type\":{\"type\":\"string\"},\"title\":{\"type\":\"string\"},"
	    "\"status\":{\"type\":\"integer\"},\"detail\":{\"type\":\"string\"},"
	    "\"request_id\":{\"type\":\"string\"}}}}");

	json_object_object_add(o, "WorkspaceStatus", status_schema());
	return o;
}

struct json_object *
openapi_responses(const struct route *rt, unsigned method)
{
	struct json_object *rs = json_object_new_object(), *ok;

	ok = json_object_new_object();
	json_object_object_add(ok, "description", str("success"));
	json_object_object_add(rs, "2XX", ok);
	json_object_object_add(rs, "4XX", problem_ref("client error"));
	json_object_object_add(rs, "5XX", problem_ref("server error"));
	return rs;
}
