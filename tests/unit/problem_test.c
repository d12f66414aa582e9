/* RFC 9457 problem responses and the problem table. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "json.h"
#include "problem.h"
#include "tap.h"

static struct arena *A;

/* Parses a response body back; NULL unless it is a JSON object. */
static struct json_object *
body_of(const struct response *resp)
{
	struct json_object *o;

	if (resp->body == NULL ||
	    json_parse(A, resp->body, resp->len, &o) != JSON_OK ||
	    !json_object_is_type(o, json_type_object))
		return NULL;
	return o;
}

static const char *
field_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static long
field_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	return (long)json_object_get_int64(v);
}

static void
test_problem(void)
{
	struct request req = { 0 };
	struct response resp = { 0 };
	struct json_object *o;

	req.arena = A;
	snprintf(req.request_id, sizeof(req.request_id), "%s", "rid-123.x_Y");

	problem(&req, &resp, PROBLEM_NOT_FOUND, NULL);
	is_int(resp.status, 404, "status from the table");
	is_str(resp.content_type, "application/problem+json",
	    "content type application/problem+json");
	ok(resp.body != NULL && resp.len == strlen(resp.body),
	    "len is the body's length");
	o = body_of(&resp);
	ok(o != NULL, "the body is a JSON object");
	is_str(field_str(o, "type"), "/problems/not-found", "type");
	is_str(field_str(o, "title"), "Not found", "title");
	is_int(field_int(o, "status"), 404, "status is a number in the body");
	is_str(field_str(o, "request_id"), "rid-123.x_Y", "request_id");
	ok(o != NULL && !json_object_object_get_ex(o, "detail", NULL),
	    "no detail unless given");
	is_int(o ? json_object_object_length(o) : 0, 4,
	    "exactly type, title, status and request_id");
	is_int(resp.nheaders, 0, "no extra headers");

	memset(&resp, 0, sizeof(resp));
	problem(&req, &resp, PROBLEM_BODY_TOO_LARGE,
	    "at most 1024 bytes, \"quoted\" \\ caf\xc3\xa9 \n");
	is_int(resp.status, 413, "413 for an oversized body");
	o = body_of(&resp);
	is_str(field_str(o, "detail"),
	    "at most 1024 bytes, \"quoted\" \\ caf\xc3\xa9 \n",
	    "detail round-trips through JSON escaping");
	is_str(field_str(o, "type"), "/problems/body-too-large", "its type");
	is_int(o ? json_object_object_length(o) : 0, 5, "five members");

	memset(&resp, 0, sizeof(resp));
	problem(&req, &resp, PROBLEM_DB_UNAVAILABLE, NULL);
	is_int(resp.status, 503, "503 when the database is unavailable");
	is_str(field_str(body_of(&resp), "title"),
	    "The database is unavailable", "its title");

	memset(&resp, 0, sizeof(resp));
	resp_header(&resp, "Allow", "GET, HEAD");
	problem(&req, &resp, PROBLEM_METHOD_NOT_ALLOWED, NULL);
	is_int(resp.nheaders, 1, "problem keeps headers set before it");
	is_int(resp.status, 405, "405");
	arena_reset(A);
}

static bool
good_slug(const char *s)
{
	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

static void
test_table(void)
{
	struct request req = { 0 };
	struct response resp;
	struct json_object *o;
	size_t i, j;
	int dup;

	req.arena = A;
	snprintf(req.request_id, sizeof(req.request_id), "%s", "r");
	for (i = 0; i < PROBLEM_COUNT; i++) {
		const struct problem_def *d = &problem_defs[i];

		ok(d->status >= 400 && d->status <= 599,
		    "problem %zu (%s) has a 4xx/5xx status: %d", i,
		    d->slug ? d->slug : "(null)", d->status);
		ok(good_slug(d->slug), "problem %zu has a slug [a-z-]+", i);
		ok(d->title != NULL && d->title[0] != '\0' &&
		    isupper((unsigned char)d->title[0]),
		    "problem %zu has a capitalised title", i);
		ok(strcmp(http_status_text(d->status), "Unknown") != 0,
		    "http_status_text(%d) is known: %s", d->status,
		    http_status_text(d->status));
		for (dup = 0, j = 0; j < i; j++)
			if (d->slug && problem_defs[j].slug &&
			    strcmp(d->slug, problem_defs[j].slug) == 0)
				dup++;
		is_int(dup, 0, "slug %s is unique", d->slug);

		memset(&resp, 0, sizeof(resp));
		problem(&req, &resp, (enum problem)i, NULL);
		o = body_of(&resp);
		is_int(field_int(o, "status"), d->status,
		    "problem %zu answers with its status", i);
		arena_reset(A);
	}
}

static void
test_status_text(void)
{
	/* Every status a handler or the pipeline answers with. */
	static const struct {
		int		 status;
		const char	*text;
	} used[] = {
		{ 200, "OK" }, { 400, "Bad Request" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 413, "Content Too Large" },
		{ 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
		{ 500, "Internal Server Error" },
		{ 503, "Service Unavailable" },
	};
	size_t i;

	for (i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		is_str(http_status_text(used[i].status), used[i].text,
		    "http_status_text(%d)", used[i].status);
	is_str(http_status_text(299), "Unknown", "an unlisted status");
	is_str(http_method_name(HTTP_GET), "GET", "method name");
	is_int(http_method_parse("DELETE"), HTTP_DELETE, "method parse");
	is_int(http_method_parse("get"), 0, "methods are case-sensitive");
	is_int(http_method_parse(NULL), 0, "no method");
	ok(request_id_sane("abc-DEF_1.2"), "a sane request id");
	ok(!request_id_sane(""), "an empty request id is not sane");
	ok(!request_id_sane("a b"), "a space is not sane");
	ok(!request_id_sane("a\r\nX: y"), "CRLF is not sane");
	ok(request_id_sane("0123456789012345678901234567890123456789"
	    "012345678901234567890123"), "64 characters are sane");
	ok(!request_id_sane("0123456789012345678901234567890123456789"
	    "0123456789012345678901234"), "65 characters are not");
}

int
main(void)
{
	A = arena_new(4096);
	test_problem();
	test_table();
	test_status_text();
	arena_free(A);
	return done_testing();
}
