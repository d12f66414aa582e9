#include "config.h"

#include <string.h>

#include "http.h"
#include "json.h"
#include "log.h"

static const struct {
	enum http_method	 m;
	const char		*name;
} methods[] = {
	{ HTTP_GET, "GET" }, { HTTP_HEAD, "HEAD" }, { HTTP_POST, "POST" },
	{ HTTP_PUT, "PUT" }, { HTTP_PATCH, "PATCH" },
	{ HTTP_DELETE, "DELETE" }, { HTTP_OPTIONS, "OPTIONS" },
};

static const struct {
	int		 status;
	const char	*text;
} statuses[] = {
	{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
	{ 204, "No Content" }, { 301, "Moved Permanently" },
	{ 302, "Found" }, { 304, "Not Modified" }, { 400, "Bad Request" },
	{ 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
	{ 405, "Method Not Allowed" }, { 409, "Conflict" }, { 410, "Gone" },
	{ 413, "Content Too Large" }, { 414, "URI Too Long" },
	{ 415, "Unsupported Media Type" }, { 422, "Unprocessable Content" },
	{ 429, "Too Many Requests" }, { 500, "Internal Server Error" },
	{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
};

const char *
http_status_text(int status)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].status == status)
			return statuses[i].text;
	return "Unknown";
}

const char *
http_method_name(enum http_method m)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].m == m)
			return methods[i].name;
	return "?";
}

enum http_method
http_method_parse(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, s) == 0)
			return methods[i].m;
	return 0;
}

bool
request_id_sane(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-");
	return n > 0 && n <= REQUEST_ID_MAX && s[n] == '\0';
}

void
resp_header(struct response *resp, const char *name, const char *value)
{
	if (resp->nheaders == HTTP_MAX_HEADERS)
		fatalx("too many response headers");
	resp->headers[resp->nheaders].name = name;
	resp->headers[resp->nheaders++].value = value;
}

void
resp_text(struct response *resp, int status, const char *ctype,
    const char *body, size_t len)
{
	resp->status = status;
	resp->content_type = ctype;
	resp->body = body;
	resp->len = len;
}

void
resp_json(struct request *req, struct response *resp, int status,
    struct json_object *o)
{
	size_t len;
	const char *s = json_text(o, &len);

	(void)req;
	resp_text(resp, status, "application/json", s, len);
}
