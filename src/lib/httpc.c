#include "config.h"

#include <string.h>

#include <curl/curl.h>

#include "httpc.h"
#include "log.h"

struct sink {
	struct arena	*a;
	char		*buf;
	size_t		 len;
	int		 overflow;
};

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;

	if (s->len + add > HTTPC_MAX_BODY) {
		s->overflow = 1;
		return 0;
	}
	memcpy(s->buf + s->len, data, add);
	s->len += add;
	return add;
}

static void
cleanup_easy(void *p)
{
	curl_easy_cleanup(p);
}

static void
cleanup_list(void *p)
{
	curl_slist_free_all(p);
}

int
httpc_request(struct arena *a, const char *url, const char *form,
    const char *authorization, long timeout_ms, struct httpc_response *out)
{
	struct sink s = { a, arena_alloc(a, HTTPC_MAX_BODY + 1), 0, 0 };
	struct curl_slist *hdrs = NULL;
	CURLcode rc;
	CURL *c;

	memset(out, 0, sizeof(*out));
	if ((c = curl_easy_init()) == NULL)
		fatalx("curl: out of memory");
	arena_defer(a, cleanup_easy, c);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = curl_slist_append(hdrs, "User-Agent: warren");
	if (authorization != NULL)
		hdrs = curl_slist_append(hdrs, arena_printf(a,
		    "Authorization: %s", authorization));
	if (hdrs == NULL)
		fatalx("curl: out of memory");
	arena_defer(a, cleanup_list, hdrs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	if (form != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		log_warnx("request to a sign-in provider failed: %s",
		    s.overflow ? "answer too large" : curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	s.buf[s.len] = '\0';
	out->body = s.buf;
	out->len = s.len;
	return 0;
}

char *
httpc_escape(struct arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = arena_alloc(a, strlen(s) * 3 + 1), *o = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL)
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}
