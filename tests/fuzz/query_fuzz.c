/*
 * Query strings, as the OAuth callback reads them (state, code, error):
 * whatever the bytes, a value found is NUL-free UTF-8 without control
 * characters, never longer than the query, and the callback's whole
 * pipeline answers with a problem or a redirect, never a crash.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "conf.h"
#include "fuzz.h"
#include "input.h"
#include "json.h"
#include "server.h"

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
	SRV.conf.access_log = false;
	SRV.route_labels = server_route_labels();
	return 0;
}

static const char *
no_header(struct request *req, const char *cgi)
{
	(void)req;
	(void)cgi;
	return NULL;
}

static void
check_value(const char *v, size_t qlen)
{
	size_t i, n;

	if (v == NULL)
		return;
	n = strlen(v);
	CHECK(n <= qlen);
	CHECK(utf8_valid(v, n));
	for (i = 0; i < n; i++)
		CHECK((unsigned char)v[i] >= 0x20);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request req = { 0 };
	struct response resp = { 0 };
	char *q;

	q = arena_strndup(A, (const char *)data, size);
	req.arena = A;
	req.srv = &SRV;
	req.query = q;
	req.header = no_header;
	check_value(query_param(&req, "state"), strlen(q));
	check_value(query_param(&req, "code"), strlen(q));
	check_value(query_param(&req, "error"), strlen(q));

	/* No provider is configured: the route must answer 400 or 404. */
	req.method = HTTP_GET;
	req.method_name = "GET";
	req.path = "/api/v1/auth/oauth/github/callback";
	req.uri = req.path;
	req.remote_addr = "127.0.0.1";
	server_handle(&SRV, &req, &resp);
	CHECK(resp.status == 400 || resp.status == 404);
	arena_reset(A);
	return 0;
}
