/*
 * The JSON body reader.  The first byte picks what is fuzzed:
 *   even: json_parse on the rest, and what it accepts must print back as
 *         UTF-8 that parses again to the same text;
 *   odd:  the whole request pipeline (server_handle) for POST /api/v1/echo
 *         with the rest as body; the second byte picks the content type,
 *         how the body is delivered and whether Content-Length is honest.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "conf.h"
#include "fuzz.h"
#include "json.h"
#include "server.h"

#define MAX_BODY	4096	/* small, so that 413 is reachable */

static struct arena *A;
static struct server SRV;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	A = arena_new(64 * 1024);
	conf_defaults(&SRV.conf);
	SRV.conf.max_body_size = MAX_BODY;
	SRV.conf.access_log = false;
	SRV.route_labels = server_route_labels();
	return 0;
}

static void
fuzz_parse(const char *buf, size_t len)
{
	struct json_object *o, *o2;
	enum json_parse_result r, r2;
	const char *text, *text2;
	size_t tlen, tlen2, i;

	r = json_parse(A, buf, len, &o);
	CHECK(r == JSON_OK || r == JSON_EMPTY || r == JSON_MALFORMED ||
	    r == JSON_TOO_DEEP || r == JSON_BAD_UTF8);
	if (r != JSON_EMPTY && !utf8_valid(buf, len))
		CHECK(r == JSON_BAD_UTF8);
	if (r == JSON_EMPTY)
		for (i = 0; i < len; i++)
			CHECK(strchr(" \t\r\n", buf[i]) && buf[i] != '\0');
	if (r != JSON_OK) {
		CHECK(o == NULL);
		return;
	}
	text = json_text(o, &tlen);
	CHECK(tlen == strlen(text));
	CHECK(utf8_valid(text, tlen));
	r2 = json_parse(A, text, tlen, &o2);
	CHECK(r2 == JSON_OK);
	text2 = json_text(o2, &tlen2);
	CHECK(tlen2 == tlen && memcmp(text, text2, tlen) == 0);
}

struct body {
	const char	*p;
	size_t		 left;
	size_t		 chunk;		/* bytes per read, 0 = all */
};

static const char *
no_header(struct request *req, const char *cgi)
{
	(void)req;
	(void)cgi;
	return NULL;
}

static long
read_body(struct request *req, char *buf, size_t n)
{
	struct body *b = req->adapter;

	if (b->chunk != 0 && n > b->chunk)
		n = b->chunk;
	if (n > b->left)
		n = b->left;
	memcpy(buf, b->p, n);
	b->p += n;
	b->left -= n;
	return (long)n;
}

static void
fuzz_pipeline(uint8_t how, const char *buf, size_t len)
{
	static const char *const ctypes[] = {
		"application/json", "application/json; charset=utf-8",
		"Application/JSON;charset=\"UTF-8\"",	/* the accepted ones */
		"text/plain", NULL, "application/jsonx",
		"application/json; charset=latin1", "",
	};
	struct request req = { 0 };
	struct response resp = { 0 };
	struct json_object *o, *reply;
	struct body b = { buf, len, 0 };
	enum json_parse_result r;
	size_t ct = how & 7;
	bool honest = (how & 8) == 0, ct_ok = ct < 3;

	b.chunk = (how >> 4) * 3;		/* 0 (all at once) .. 45 */
	req.arena = A;
	req.srv = &SRV;
	req.method = HTTP_POST;
	req.method_name = "POST";
	req.uri = req.path = "/api/v1/echo";
	req.query = "";
	req.content_type = ctypes[ct];
	req.content_length = (long)len + (honest ? 0 : 1);
	req.remote_addr = "127.0.0.1";
	req.header = no_header;
	req.read_body = read_body;
	req.adapter = &b;
	server_handle(&SRV, &req, &resp);

	CHECK(resp.status == 200 || resp.status == 400 ||
	    resp.status == 413 || resp.status == 415);
	CHECK(resp.body != NULL && resp.len == strlen(resp.body));
	CHECK(json_parse(A, resp.body, resp.len, &reply) == JSON_OK);
	CHECK(json_object_is_type(reply, json_type_object));
	if (!ct_ok) {
		CHECK(resp.status == 415);
		return;
	}
	if (req.content_length > MAX_BODY) {
		CHECK(resp.status == 413);
		return;
	}
	if (!honest) {
		CHECK(resp.status == 400);
		return;
	}
	/* A body that parses is echoed, unless it is null (no body). */
	r = json_parse(A, buf, len, &o);
	CHECK((r == JSON_OK && o != NULL) == (resp.status == 200));
	if (resp.status == 200) {
		CHECK(strcmp(resp.content_type, "application/json") == 0);
		CHECK(json_object_object_get_ex(reply, "received", NULL));
	} else
		CHECK(strcmp(resp.content_type,
		    "application/problem+json") == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	if ((data[0] & 1) == 0)
		fuzz_parse((const char *)data + 1, size - 1);
	else
		fuzz_pipeline(data[1], (const char *)data + 2, size - 2);
	arena_reset(A);
	return 0;
}
