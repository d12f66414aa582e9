/*
 * Validation at the edge: JSON body fields by type and bound, names and
 * UUIDs, query-string decoding and list paging.  A refusal is a 400
 * problem whose detail names the field.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "input.h"
#include "json.h"
#include "tap.h"

static struct arena *A;
static struct request R;
static struct response W;

/* A new request with this body (NULL for none) and query string. */
static void
req(const char *body, const char *query)
{
	memset(&R, 0, sizeof(R));
	memset(&W, 0, sizeof(W));
	R.arena = A;
	R.query = query;
	snprintf(R.request_id, sizeof(R.request_id), "%s", "t");
	if (body != NULL && json_parse(A, body, strlen(body), &R.body) !=
	    JSON_OK)
		R.body = NULL;
}

/* The detail of the problem answered, NULL when none was. */
static const char *
detail(void)
{
	struct json_object *o, *d;

	if (W.body == NULL || json_parse(A, W.body, W.len, &o) != JSON_OK ||
	    !json_object_object_get_ex(o, "detail", &d))
		return NULL;
	return json_object_get_string(d);
}

/* A refusal: false, a 400, and this detail. */
static void
refused(bool r, const char *want, const char *what)
{
	ok(!r, "%s: refused", what);
	is_int(W.status, 400, "%s: 400", what);
	is_str(detail(), want, "%s: detail", what);
}

static void
test_fields(void)
{
	static const char *const allowed[] = { "name", "size", NULL };

	req(NULL, "");
	ok(in_fields(&R, &W, allowed), "no body has no unknown field");
	req("{\"name\": 1, \"size\": 2}", "");
	ok(in_fields(&R, &W, allowed), "only allowed fields");
	is_int(W.status, 0, "no answer when the fields are known");
	req("{}", "");
	ok(in_fields(&R, &W, allowed), "an empty object");
	req("{\"name\": 1, \"colour\": 2}", "");
	refused(in_fields(&R, &W, allowed), "field 'colour' is not known",
	    "an unknown field");
	req("{\"Name\": 1}", "");
	refused(in_fields(&R, &W, allowed), "field 'Name' is not known",
	    "names are case-sensitive");
	req("[1]", "");
	refused(in_fields(&R, &W, allowed), "the body must be a JSON object",
	    "an array body");
	req(arena_printf(A, "{\"%0100d\": 1}", 0), "");
	refused(in_fields(&R, &W, allowed), arena_printf(A, "field '%064d' is "
	    "not known", 0), "a long name is cut at 64");
}

static void
test_string(void)
{
	const char *s = "untouched";

	req("{\"a\": \"abc\", \"n\": 5, \"z\": null, \"nul\": \"a\\u0000b\", "
	    "\"e\": \"caf\\u00e9\"}", "");
	ok(in_string(&R, &W, "a", 1, 3, true, &s), "a string within bounds");
	is_str(s, "abc", "its value");
	ok(in_string(&R, &W, "a", 3, 3, true, &s), "exactly min and max");
	s = "untouched";
	ok(in_string(&R, &W, "missing", 1, 3, false, &s),
	    "an optional string left out");
	is_str(s, "untouched", "leaves the value alone");
	ok(in_string(&R, &W, "z", 1, 3, false, &s), "null is left out");
	is_str(s, "untouched", "null leaves the value alone");
	refused(in_string(&R, &W, "missing", 1, 3, true, &s),
	    "missing is required", "a required string left out");
	req("{\"a\": \"abc\", \"n\": 5, \"nul\": \"a\\u0000b\", "
	    "\"e\": \"caf\\u00e9\"}", "");
	refused(in_string(&R, &W, "a", 4, 10, true, &s),
	    "a must be 4 to 10 characters", "too short");
	refused(in_string(&R, &W, "a", 0, 2, true, &s),
	    "a must be 0 to 2 characters", "too long");
	refused(in_string(&R, &W, "n", 0, 2, true, &s), "n must be a string",
	    "a number");
	refused(in_string(&R, &W, "nul", 0, 10, true, &s),
	    "nul must be 0 to 10 characters", "a NUL inside");
	req("{\"e\": \"caf\\u00e9\"}", "");
	ok(in_string(&R, &W, "e", 5, 5, true, &s),
	    "bounds count bytes: caf\xc3\xa9 is 5");
	req("\"text\"", "");
	s = "untouched";
	ok(in_string(&R, &W, "a", 0, 5, false, &s) && strcmp(s,
	    "untouched") == 0, "a body that is no object has no fields");
}

static void
test_enum(void)
{
	static const char *const colours[] = { "red", "green", NULL };
	const char *s = NULL;

	req("{\"c\": \"green\", \"x\": \"blue\", \"e\": \"\", \"n\": 1}", "");
	ok(in_enum(&R, &W, "c", colours, true, &s), "a choice");
	ok(s == colours[1], "the table's own string");
	s = NULL;
	ok(in_enum(&R, &W, "missing", colours, false, &s) && s == NULL,
	    "an optional choice left out");
	refused(in_enum(&R, &W, "x", colours, true, &s),
	    "x has a value that is not allowed", "not a choice");
	req("{\"e\": \"\"}", "");
	refused(in_enum(&R, &W, "e", colours, true, &s),
	    "e must be 1 to 64 characters", "empty");
	req("{\"n\": 1}", "");
	refused(in_enum(&R, &W, "n", colours, true, &s), "n must be a string",
	    "a number");
	req("{}", "");
	refused(in_enum(&R, &W, "c", colours, true, &s), "c is required",
	    "a required choice left out");
	req("{\"c\": \"RED\"}", "");
	refused(in_enum(&R, &W, "c", colours, true, &s),
	    "c has a value that is not allowed", "choices are case-sensitive");

	ok(in_choices("red", colours) == colours[0], "in_choices: found");
	ok(in_choices("blue", colours) == NULL, "in_choices: not found");
	ok(in_choices(NULL, colours) == NULL, "in_choices: NULL");
	ok(in_choices("red\n", colours) == NULL, "in_choices: whole strings");
}

static void
test_bool(void)
{
	bool b = false, present = true;

	req("{\"t\": true, \"f\": false, \"s\": \"true\", \"n\": 1}", "");
	ok(in_bool(&R, &W, "t", &b, &present) && b && present, "true");
	ok(in_bool(&R, &W, "f", &b, &present) && !b && present, "false");
	b = true;
	ok(in_bool(&R, &W, "missing", &b, &present) && b && !present,
	    "left out: not present, the value alone");
	ok(in_bool(&R, &W, "t", &b, NULL), "present may be NULL");
	refused(in_bool(&R, &W, "s", &b, &present),
	    "s must be true or false", "a string");
	req("{\"n\": 1}", "");
	refused(in_bool(&R, &W, "n", &b, &present),
	    "n must be true or false", "a number");
}

static void
test_int(void)
{
	long n = -7;
	bool present = false;

	req("{\"a\": 5, \"lo\": 1, \"hi\": 10, \"s\": \"5\", \"d\": 5.5, "
	    "\"neg\": -3, \"big\": 9223372036854775807}", "");
	ok(in_int(&R, &W, "a", 1, 10, true, &n, &present) && n == 5 &&
	    present, "an integer within bounds");
	ok(in_int(&R, &W, "lo", 1, 10, true, &n, NULL) && n == 1, "the min");
	ok(in_int(&R, &W, "hi", 1, 10, true, &n, NULL) && n == 10, "the max");
	ok(in_int(&R, &W, "neg", -5, 0, true, &n, NULL) && n == -3,
	    "a negative within bounds");
	ok(in_int(&R, &W, "big", 0, 9223372036854775807L, true, &n, NULL) &&
	    n == 9223372036854775807L, "the largest long");
	n = -7;
	ok(in_int(&R, &W, "missing", 1, 10, false, &n, &present) && n == -7 &&
	    !present, "an optional integer left out");
	refused(in_int(&R, &W, "missing", 1, 10, true, &n, &present),
	    "missing is required", "a required integer left out");
	req("{\"a\": 11}", "");
	refused(in_int(&R, &W, "a", 1, 10, true, &n, NULL),
	    "a must be between 1 and 10", "above max");
	req("{\"a\": 0}", "");
	refused(in_int(&R, &W, "a", 1, 10, true, &n, NULL),
	    "a must be between 1 and 10", "below min");
	req("{\"s\": \"5\"}", "");
	refused(in_int(&R, &W, "s", 1, 10, true, &n, NULL),
	    "s must be an integer", "a string");
	req("{\"d\": 5.5}", "");
	refused(in_int(&R, &W, "d", 1, 10, true, &n, NULL),
	    "d must be an integer", "a fraction");
	req("{\"d\": 5.0}", "");
	refused(in_int(&R, &W, "d", 1, 10, true, &n, NULL),
	    "d must be an integer", "a whole number written as a fraction");
}

static void
test_uuid_name(void)
{
	const char *u = "0F8FAD5B-D9CB-469F-A165-70867728950E", *c;

	ok(in_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"), "a UUID");
	ok(in_uuid(u), "a UUID in upper case");
	ok(!in_uuid(NULL), "NULL");
	ok(!in_uuid(""), "empty");
	ok(!in_uuid("0f8fad5b-d9cb-469f-a165-70867728950"), "35 characters");
	ok(!in_uuid("0f8fad5b-d9cb-469f-a165-70867728950e0"), "37 characters");
	ok(!in_uuid("0f8fad5bd-9cb-469f-a165-70867728950e"), "a dash moved");
	ok(!in_uuid("0f8fad5b-d9cb-469f-a165-70867728950g"), "a g");
	ok(!in_uuid("0f8fad5b-d9cb-469f-a165_70867728950e"), "an underscore");
	ok(!in_uuid("0f8fad5b0d9cb0469f0a165070867728950e"), "no dashes");
	ok(!in_uuid("{f8fad5b-d9cb-469f-a165-70867728950}"), "braces");

	c = uuid_canonical(A, u);
	is_str(c, "0f8fad5b-d9cb-469f-a165-70867728950e",
	    "uuid_canonical: lower case");
	ok(c != u, "uuid_canonical: a copy, the original alone");
	is_str(u, "0F8FAD5B-D9CB-469F-A165-70867728950E",
	    "uuid_canonical: the original unchanged");
	ok(uuid_canonical(A, "not-a-uuid") != NULL &&
	    strcmp(uuid_canonical(A, "NOT-A-UUID"), "NOT-A-UUID") == 0,
	    "uuid_canonical: anything else as it is");

	ok(in_name("a", 32), "a one-letter name");
	ok(in_name("dev-box-2", 32), "letters, digits and -");
	ok(in_name("0", 32), "a digit");
	ok(in_name("abcd", 4), "exactly max");
	ok(!in_name("abcde", 4), "longer than max");
	ok(!in_name("", 32), "empty");
	ok(!in_name("-a", 32), "a leading -");
	ok(!in_name("a-", 32), "a trailing -");
	ok(!in_name("Dev", 32), "upper case");
	ok(!in_name("a_b", 32), "an underscore");
	ok(!in_name("a.b", 32), "a dot");
	ok(!in_name("a b", 32), "a space");
	ok(!in_name("caf\xc3\xa9", 32), "non-ASCII");
}

static void
test_query(void)
{
	req(NULL, "a=1&b=two&c=&d=x+y&e=%41%62&f=%c3%a9&a=again");
	is_str(query_param(&R, "a"), "1", "the first of a repeated key");
	is_str(query_param(&R, "b"), "two", "a later key");
	is_str(query_param(&R, "c"), "", "an empty value");
	is_str(query_param(&R, "d"), "x y", "+ is a space");
	is_str(query_param(&R, "e"), "Ab", "percent escapes, either case");
	is_str(query_param(&R, "f"), "\xc3\xa9", "escaped UTF-8");
	is_str(query_param(&R, "g"), NULL, "an absent key");
	is_str(query_param(&R, ""), NULL, "the empty key");

	req(NULL, "ab=1&a");
	is_str(query_param(&R, "a"), NULL, "a key without = has no value");
	is_str(query_param(&R, "abc"), NULL, "a longer key is another");
	is_str(query_param(&R, "b"), NULL, "a suffix of a key is another");
	req(NULL, "x=1&&=2&a=%2B%26%3D");
	is_str(query_param(&R, "a"), "+&=", "escaped separators");
	req(NULL, "a=b=c");
	is_str(query_param(&R, "a"), "b=c", "= inside a value");

	req(NULL, "a=%4");
	is_str(query_param(&R, "a"), NULL, "a cut escape");
	req(NULL, "a=%4&b=1");
	is_str(query_param(&R, "a"), NULL, "an escape cut by &");
	is_str(query_param(&R, "b"), "1", "the next key still reads");
	req(NULL, "a=%zz");
	is_str(query_param(&R, "a"), NULL, "an escape not hex");
	req(NULL, "a=x%00y");
	is_str(query_param(&R, "a"), NULL, "an escaped NUL");
	req(NULL, "a=x%0Ay");
	is_str(query_param(&R, "a"), NULL, "an escaped newline");
	req(NULL, "a=x%1fy");
	is_str(query_param(&R, "a"), NULL, "an escaped control character");
	req(NULL, "a=x\ty");
	is_str(query_param(&R, "a"), NULL, "a raw tab");
	req(NULL, "a=%ff");
	is_str(query_param(&R, "a"), NULL, "invalid UTF-8");
	req(NULL, "a=%c3");
	is_str(query_param(&R, "a"), NULL, "cut UTF-8");
	req(NULL, "a=%7f");
	is_str(query_param(&R, "a"), "\x7f", "DEL is no control below 0x20");
	req(NULL, "");
	is_str(query_param(&R, "a"), NULL, "an empty query");
	req(NULL, NULL);
	is_str(query_param(&R, "a"), NULL, "no query");
}

static void
test_page(void)
{
	static const struct {
		const char	*query, *detail, *what;
	} bad[] = {
		{ "limit=201", "limit must be between 1 and 200", "limit 201" },
		{ "limit=0", "limit must be between 1 and 200", "limit 0" },
		{ "limit=-5", "limit must be between 1 and 200",
		    "a negative limit" },
		{ "limit=10x", "limit must be between 1 and 200",
		    "a limit with a suffix" },
		{ "limit=", "limit must be between 1 and 200",
		    "an empty limit" },
		{ "limit=99999999999999999999",
		    "limit must be between 1 and 200", "a limit past a long" },
		{ "limit=5&cursor=", "cursor is not valid", "an empty cursor" },
		{ NULL, NULL, NULL }
	};
	const char *cursor = "x";
	long limit = 0;
	int i;

	req(NULL, "");
	ok(in_page(&R, &W, &limit, &cursor), "no paging asked");
	is_int(limit, 50, "the default limit is 50");
	is_str(cursor, NULL, "no cursor");
	req(NULL, "limit=1&cursor=abc");
	ok(in_page(&R, &W, &limit, &cursor) && limit == 1,
	    "a limit of 1");
	is_str(cursor, "abc", "the cursor");
	req(NULL, "limit=200");
	ok(in_page(&R, &W, &limit, &cursor) && limit == 200, "200");
	req(NULL, arena_printf(A, "cursor=%0200d", 7));
	ok(in_page(&R, &W, &limit, &cursor), "a cursor of 200 characters");

	for (i = 0; bad[i].query != NULL; i++) {
		req(NULL, bad[i].query);
		refused(in_page(&R, &W, &limit, &cursor), bad[i].detail,
		    bad[i].what);
	}
	req(NULL, arena_printf(A, "cursor=%0201d", 7));
	refused(in_page(&R, &W, &limit, &cursor), "cursor is not valid",
	    "a cursor of 201 characters");
}

/* A route's declared inputs (router.h), checked as the pipeline does. */
static void
test_declared(void)
{
	static const char *const colours[] = { "red", "blue", NULL };
	static const struct in_field body[] = {
		{ "name", IN_NAME, true, 1, 8, NULL, NULL },
		{ "label", IN_STRING, false, 0, 4, NULL, NULL },
		{ "size", IN_INT, false, 1, 10, NULL, NULL },
		{ "on", IN_BOOL, false, 0, 0, NULL, NULL },
		{ "colour", IN_ENUM, false, 0, 0, colours, NULL },
		{ "org", IN_UUID, false, 0, 0, NULL, NULL },
		{ "spec", IN_OBJECT, false, 0, 0, NULL, NULL },
		{ "tags", IN_ARRAY, false, 0, 0, NULL, NULL },
		{ NULL, IN_STRING, false, 0, 0, NULL, NULL }
	};
	static const struct in_field query[] = {
		{ "limit", IN_INT, false, 1, 200, NULL, NULL },
		{ "after", IN_INT, false, 0, LONG_MAX, NULL, NULL },
		{ "follow", IN_BOOL, false, 0, 0, NULL, NULL },
		{ "colour", IN_ENUM, false, 0, 0, colours, NULL },
		{ "owner", IN_UUID, false, 0, 0, NULL, NULL },
		{ "cursor", IN_STRING, false, 1, 5, NULL, NULL },
		{ NULL, IN_STRING, false, 0, 0, NULL, NULL }
	};
	long n = 0;
	bool b = false;

	req("{\"name\": \"web-1\", \"label\": \"ab\", \"size\": 3, "
	    "\"on\": true, \"colour\": \"red\", \"org\": "
	    "\"0b7e8e1c-6f4a-4c7d-9d0e-2a1b3c4d5e6f\", \"spec\": {}, "
	    "\"tags\": []}", "");
	ok(in_check_body(&R, &W, body), "a body as declared");
	is_int(W.status, 0, "no answer for it");
	is_str(in_str(&R, "name"), "web-1", "in_str reads a member");
	ok(in_num(&R, "size", &n) && n == 3, "in_num reads a member");
	ok(in_flag(&R, "on", &b) && b, "in_flag reads a member");
	ok(in_member(&R, "spec") != NULL, "in_member reads a member");
	req("{\"name\": \"a\", \"size\": null, \"colour\": null}", "");
	ok(in_check_body(&R, &W, body), "null is absent");
	ok(!in_num(&R, "size", &n) && in_str(&R, "label") == NULL,
	    "absent members read as absent");
	req("{}", "");
	refused(in_check_body(&R, &W, body), "name is required",
	    "a required member missing");
	req("{\"name\": \"Web\"}", "");
	refused(in_check_body(&R, &W, body), "name must be a DNS label of at "
	    "most 8 lower-case letters, digits and '-'", "a name");
	req("{\"name\": \"a\", \"label\": \"abcde\"}", "");
	refused(in_check_body(&R, &W, body), "label must be 0 to 4 characters",
	    "a string too long");
	req("{\"name\": \"a\", \"size\": 11}", "");
	refused(in_check_body(&R, &W, body), "size must be between 1 and 10",
	    "an integer out of bounds");
	req("{\"name\": \"a\", \"on\": 1}", "");
	refused(in_check_body(&R, &W, body), "on must be true or false",
	    "a boolean");
	req("{\"name\": \"a\", \"colour\": \"green\"}", "");
	refused(in_check_body(&R, &W, body), "colour has a value that is not "
	    "allowed", "an enum");
	req("{\"name\": \"a\", \"org\": "
	    "\"0b7e8e1c-6f4a-4c7d-9d0e-2a1b3c4d5e6g\"}", "");
	refused(in_check_body(&R, &W, body), "org is not an id", "an id");
	req("{\"name\": \"a\", \"spec\": []}", "");
	refused(in_check_body(&R, &W, body), "spec must be an object",
	    "an object");
	req("{\"name\": \"a\", \"tags\": {}}", "");
	refused(in_check_body(&R, &W, body), "tags must be an array",
	    "an array");
	req("{\"name\": \"a\", \"extra\": 1}", "");
	refused(in_check_body(&R, &W, body), "field 'extra' is not known",
	    "an undeclared member");
	req("{\"size\": 99}", "");
	refused(in_check_body(&R, &W, body), "name is required",
	    "the first wrong member in declaration order");
	req("{\"anything\": 1}", "");
	ok(in_check_body(&R, &W, NULL), "no declaration: the handler checks");

	req(NULL, "limit=5&after=0&follow=false&colour=blue&cursor=abc&x=1");
	ok(in_check_query(&R, &W, query), "a query as declared, others ignored");
	req(NULL, "owner=0B7E8E1C-6F4A-4C7D-9D0E-2A1B3C4D5E6F");
	ok(in_check_query(&R, &W, query), "ids in either case");
	req(NULL, "limit=0");
	refused(in_check_query(&R, &W, query), "limit must be between 1 and "
	    "200", "a limit of 0");
	req(NULL, "limit=5x");
	refused(in_check_query(&R, &W, query), "limit must be between 1 and "
	    "200", "a limit that is no number");
	req(NULL, "after=-1");
	refused(in_check_query(&R, &W, query), "after must be 0 or more",
	    "a bound below");
	req(NULL, "follow=1");
	refused(in_check_query(&R, &W, query), "follow must be true or false",
	    "a boolean");
	req(NULL, "colour=Red");
	refused(in_check_query(&R, &W, query), "colour has a value that is "
	    "not allowed", "an enum");
	req(NULL, "owner=me");
	refused(in_check_query(&R, &W, query), "owner is not an id", "an id");
	req(NULL, "cursor=abcdef");
	refused(in_check_query(&R, &W, query), "cursor is not valid",
	    "a string too long");
	req(NULL, "cursor=%zz");
	refused(in_check_query(&R, &W, query), "cursor is not valid",
	    "a value that does not decode");
}

int
main(void)
{
	A = arena_new(64 * 1024);
	test_fields();
	test_string();
	test_enum();
	test_bool();
	test_int();
	test_uuid_name();
	test_query();
	test_page();
	test_declared();
	arena_free(A);
	return done_testing();
}
