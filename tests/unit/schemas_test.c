/*
 * The OpenAPI schemas: every reference names a component, member types
 * read as the tables mean them, and every route of the real table names
 * its own answers.
 */
#include "config.h"

#include <string.h>

#include "router.h"
#include "schemas.h"
#include "tap.h"

static struct json_object *components;

static struct json_object *
at(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o != NULL)
		json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *
text(struct json_object *o)
{
	return o != NULL && json_object_is_type(o, json_type_string) ?
	    json_object_get_string(o) : NULL;
}

/* The number of "$ref"s in o that name no component; *n counts them all. */
static int
dangling(struct json_object *o, int *n)
{
	const char *p = "#/components/schemas/", *r;
	int bad = 0;
	size_t i;

	if (json_object_is_type(o, json_type_array))
		for (i = 0; i < json_object_array_length(o); i++)
			bad += dangling(json_object_array_get_idx(o, i), n);
	if (!json_object_is_type(o, json_type_object))
		return bad;
	json_object_object_foreach(o, k, v) {
		if (strcmp(k, "$ref") == 0 && (r = text(v)) != NULL) {
			(*n)++;
			if (strncmp(r, p, strlen(p)) != 0 ||
			    at(components, r + strlen(p)) == NULL) {
				diag("dangling %s", r);
				bad++;
			}
		} else
			bad += dangling(v, n);
	}
	return bad;
}

static bool
has(struct json_object *a, const char *s)
{
	size_t i;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++)
		if (text(json_object_array_get_idx(a, i)) != NULL &&
		    strcmp(text(json_object_array_get_idx(a, i)), s) == 0)
			return true;
	return false;
}

static void
test_components(void)
{
	struct json_object *ws = at(components, "Workspace"), *p, *e;
	int n = 0;

	is_int(dangling(components, &n), 0, "components refer to components");
	ok(n > 20, "components refer to each other (%d)", n);
	p = at(ws, "properties");
	is_str(text(at(at(p, "status"), "$ref")),
	    "#/components/schemas/WorkspaceStatus", "a status is a WorkspaceStatus");
	ok(has(at(at(p, "org_id"), "type"), "null") &&
	    has(at(at(p, "org_id"), "type"), "string"), "org_id: a string or null");
	is_str(text(at(at(p, "org_id"), "format")), "uuid", "org_id is a uuid");
	is_str(text(at(at(p, "created_at"), "format")), "date-time",
	    "times are RFC 3339");
	ok(has(at(ws, "required"), "id") && has(at(ws, "required"), "url"),
	    "members are required");
	ok(!has(at(ws, "required"), "shared_ports") && at(p, "shared_ports"),
	    "a ~member is described, not required");
	e = at(at(p, "build_status"), "enum");
	ok(e != NULL && has(e, "pending") && json_object_array_get_idx(e,
	    json_object_array_length(e) - 1) == NULL,
	    "a nullable choice admits null");
	e = at(at(components, "TokenCreated"), "allOf");
	ok(e != NULL && json_object_array_length(e) == 2 &&
	    text(at(json_object_array_get_idx(e, 0), "$ref")) != NULL &&
	    strcmp(text(at(json_object_array_get_idx(e, 0), "$ref")),
	    "#/components/schemas/Token") == 0,
	    "a component with a base is all of the base and its own members");
	ok(at(components, "WorkspaceStatus") && at(components, "Problem"),
	    "the status vocabulary and the problem are there");
}

static void
test_responses(void)
{
	struct json_object *rs, *two;
	int bad_refs = 0, n = 0, generic = 0, empty_head = 1;
	size_t i;

	for (i = 0; i < nroutes; i++) {
		rs = openapi_responses(&routes[i], routes[i].methods);
		bad_refs += dangling(rs, &n);
		if (at(rs, "2XX") != NULL) {
			diag("%s has no answers of its own", routes[i].name);
			generic++;
		}
		if (at(rs, "4XX") == NULL || at(rs, "5XX") == NULL)
			generic++;
		json_object_put(rs);
		if (strcmp(routes[i].name, "workspaces_get") == 0) {
			rs = openapi_responses(&routes[i], HTTP_HEAD);
			two = at(rs, "200");
			empty_head = two != NULL && at(two, "content") == NULL;
			json_object_put(rs);
		}
	}
	is_int(bad_refs, 0, "answers refer to components");
	is_int(generic, 0, "every route names its answers and its problems");
	ok(empty_head, "an answer to HEAD has no content");
}

int
main(void)
{
	components = openapi_schemas();
	test_components();
	test_responses();
	json_object_put(components);
	return done_testing();
}
