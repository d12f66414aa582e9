/*
 * Every call has a timeout; every answer is mapped to one of a few results
 * and, for errors, a message fit for a build log (the daemon's own message
 * when it gave one).  One handle per thread: libcurl easy handles are not
 * shared.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "docker.h"
#include "httpc.h"
#include "json.h"
#include "log.h"

#define MAX_ANSWER	(16 * 1024 * 1024)

struct docker {
	CURL		*curl;
	char		*socket;	/* unix socket path, or NULL */
	char		*base;		/* http://localhost or https://host:p */
	char		*ca, *cert, *key;	/* TLS files, or NULL */
	bool		 tls;
	bool		 fresh;		/* after a failure: a new connection */
	bool		 timed_out;	/* the last request took too long */
	char		 version[16];
	long		 timeout_ms;
	char		 err[512];
	char		 curl_err[CURL_ERROR_SIZE];
	double		 last_seconds;
};

struct sink {
	struct arena	*a;
	char		*buf;
	size_t		 len, cap;
	bool		 overflow;
	/* Streamed answers: each whole line as it comes (scanned up to). */
	docker_line_fn	 line_fn;
	void		*line_arg;
	size_t		 scanned;
	bool		 discard;	/* drop lines once seen */
};

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;
	char *nb;

	if (s->len + add + 1 > MAX_ANSWER) {
		s->overflow = true;
		return 0;
	}
	if (s->len + add + 1 > s->cap) {
		while (s->len + add + 1 > s->cap)
			s->cap = s->cap ? s->cap * 2 : 4096;
		nb = arena_alloc(s->a, s->cap);
		if (s->len)
			memcpy(nb, s->buf, s->len);
		s->buf = nb;
	}
	memcpy(s->buf + s->len, data, add);
	s->len += add;
	s->buf[s->len] = '\0';
	if (s->line_fn != NULL) {
		char *nl;

		while ((nl = memchr(s->buf + s->scanned, '\n', s->len -
		    s->scanned)) != NULL) {
			s->line_fn(s->line_arg, s->buf + s->scanned,
			    (size_t)(nl - (s->buf + s->scanned)));
			s->scanned = (size_t)(nl - s->buf) + 1;
		}
		/* Lines seen are not kept: a long stream fits. */
		if (s->discard && s->scanned > 0) {
			memmove(s->buf, s->buf + s->scanned, s->len -
			    s->scanned + 1);
			s->len -= s->scanned;
			s->scanned = 0;
		}
	}
	return add;
}

static char *
tls_path(const char *path)
{
	char *s;

	if (path == NULL)
		return NULL;
	if ((s = strdup(path)) == NULL)
		fatalx("docker: out of memory");
	return s;
}

struct docker *
docker_new(const char *endpoint, const struct docker_tls *tls,
    long timeout_ms)
{
	struct docker *d;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->curl = curl_easy_init()) == NULL)
		fatalx("docker: out of memory");
	d->timeout_ms = timeout_ms;
	snprintf(d->version, sizeof(d->version), "1.41");
	if (strncmp(endpoint, "unix://", 7) == 0) {
		d->socket = strdup(endpoint + 7);
		d->base = strdup("http://localhost");
	} else if (strncmp(endpoint, "tcp://", 6) == 0) {
		/* A CA alone still means TLS: the server is verified. */
		if (tls != NULL && (tls->ca != NULL || tls->cert != NULL)) {
			d->ca = tls_path(tls->ca);
			d->cert = tls_path(tls->cert);
			d->key = d->cert != NULL ? tls_path(tls->key) : NULL;
		}
		d->tls = d->ca != NULL || d->cert != NULL;
		if (asprintf(&d->base, "%s://%s", d->tls ? "https" : "http",
		    endpoint + 6) == -1)
			fatalx("docker: out of memory");
	} else {
		docker_free(d);
		return NULL;
	}
	return d;
}

void
docker_free(struct docker *d)
{
	if (d == NULL)
		return;
	curl_easy_cleanup(d->curl);
	free(d->socket);
	free(d->base);
	free(d->ca);
	free(d->cert);
	free(d->key);
	free(d);
}

const char *
docker_error(struct docker *d)
{
	return d->err;
}

bool
docker_timed_out(struct docker *d)
{
	return d->timed_out;
}

double
docker_last_seconds(struct docker *d)
{
	return d->last_seconds;
}

/*
 * With TLS 1.3 the client sends its certificate after the handshake is
 * done on its side: an engine that refuses it just closes, and libcurl
 * reports a failed write or read, not a certificate problem.
 */
static const char *
tls_hint(struct docker *d, CURLcode rc)
{
	long n = 0;

	if (!d->tls || (rc != CURLE_SEND_ERROR && rc != CURLE_RECV_ERROR))
		return "";
	if (curl_easy_getinfo(d->curl, CURLINFO_NUM_CONNECTS, &n) != CURLE_OK ||
	    n == 0)
		return "";
	return " (the engine closed the new TLS connection: it may not trust "
	    "the client certificate)";
}

/* The handle for one call: endpoint, TLS, timeouts, error buffer. */
static void
prepare(struct docker *d, const char *url, const char *method,
    long timeout_ms)
{
	curl_easy_reset(d->curl);
	if (d->socket != NULL)
		curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	/* The reset forgets the TLS files too: they are set every time. */
	if (d->cert != NULL) {
		curl_easy_setopt(d->curl, CURLOPT_SSLCERT, d->cert);
		curl_easy_setopt(d->curl, CURLOPT_SSLKEY, d->key);
	}
	if (d->ca != NULL) {
		/* The host's CA only, not the system's trust store too. */
		curl_easy_setopt(d->curl, CURLOPT_CAINFO, d->ca);
		curl_easy_setopt(d->curl, CURLOPT_CAPATH, NULL);
	}
	/* A connection that just failed is not one to use again. */
	if (d->fresh)
		curl_easy_setopt(d->curl, CURLOPT_FRESH_CONNECT, 1L);
	d->curl_err[0] = '\0';
	curl_easy_setopt(d->curl, CURLOPT_ERRORBUFFER, d->curl_err);
	curl_easy_setopt(d->curl, CURLOPT_URL, url);
	curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(d->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
}

/* Raw request; *status 0 when nothing came back. */
static int	request_with(struct docker *, struct arena *, const char *,
		    const char *, const char *, long, long *, struct sink *, bool,
		    const char *);

static int
request(struct docker *d, struct arena *a, const char *method,
    const char *path, const char *body, long timeout_ms, long *status,
    struct sink *s, bool versioned)
{
	memset(s, 0, sizeof(*s));
	return request_with(d, a, method, path, body, timeout_ms, status, s,
	    versioned, NULL);
}

/* request(), with a header line of the caller's (extra) and the sink's
 * line callback kept (set it before). */
static int
request_with(struct docker *d, struct arena *a, const char *method,
    const char *path, const char *body, long timeout_ms, long *status,
    struct sink *s, bool versioned, const char *extra)
{
	struct curl_slist *hdrs = NULL;
	struct timespec t0, t1;
	char *url;
	CURLcode rc;

	s->a = a;
	url = versioned ? arena_printf(a, "%s/v%s%s", d->base, d->version,
	    path) : arena_printf(a, "%s%s", d->base, path);
	prepare(d, url, method, timeout_ms > 0 ? timeout_ms : d->timeout_ms);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, s);
	if (extra != NULL)
		hdrs = curl_slist_append(hdrs, extra);
	if (body != NULL) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, body);
	} else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, "");
	if (hdrs != NULL)
		curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, hdrs);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = curl_easy_perform(d->curl);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	d->last_seconds = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	curl_slist_free_all(hdrs);
	*status = 0;
	d->fresh = rc != CURLE_OK;
	d->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
	if (rc != CURLE_OK) {
		/* libcurl's own text says which certificate, and why. */
		snprintf(d->err, sizeof(d->err), "Docker did not answer %s %s:"
		    " %s%s", method, path, s->overflow ? "answer too large" :
		    d->curl_err[0] != '\0' ? d->curl_err :
		    curl_easy_strerror(rc), tls_hint(d, rc));
		return -1;
	}
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, status);
	if (s->buf == NULL) {
		s->buf = arena_strdup(a, "");
		s->len = 0;
	}
	return 0;
}

/* The daemon's "message" member, or the status when there is none. */
static void
set_error(struct docker *d, struct arena *a, const char *method,
    const char *path, long status, struct sink *s)
{
	struct json_object *o, *m;

	if (json_parse(a, s->buf, s->len, &o) == JSON_OK &&
	    json_object_object_get_ex(o, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		snprintf(d->err, sizeof(d->err), "%s", json_object_get_string(m));
	else
		snprintf(d->err, sizeof(d->err), "Docker answered %ld to %s %s",
		    status, method, path);
}

int
docker_negotiate(struct docker *d, struct arena *a)
{
	struct json_object *o, *v;
	struct sink s;
	long status;

	if (request(d, a, "GET", "/version", NULL, 5000, &status, &s, false)
	    == -1)
		return -1;
	if (status != 200) {
		set_error(d, a, "GET", "/version", status, &s);
		return -1;
	}
	if (json_parse(a, s.buf, s.len, &o) != JSON_OK ||
	    !json_object_object_get_ex(o, "ApiVersion", &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	/* The lower of the daemon's version and ours (both "1.NN"). */
	if (strncmp(json_object_get_string(v), "1.", 2) == 0 &&
	    atoi(json_object_get_string(v) + 2) <
	    atoi(DOCKER_API_MAX + 2))
		snprintf(d->version, sizeof(d->version), "%s",
		    json_object_get_string(v));
	else
		snprintf(d->version, sizeof(d->version), "%s", DOCKER_API_MAX);
	return 0;
}

enum docker_result
docker_call(struct docker *d, struct arena *a, const char *method,
    const char *path, struct json_object *body, long timeout_ms,
    struct json_object **out)
{
	struct sink s;
	size_t len;
	long status;

	if (out != NULL)
		*out = NULL;
	if (request(d, a, method, path, body ? json_text(body, &len) : NULL,
	    timeout_ms, &status, &s, true) == -1)
		return DOCKER_UNREACHABLE;
	if (status >= 200 && status < 300) {
		if (out != NULL && s.len > 0 &&
		    json_parse(a, s.buf, s.len, out) != JSON_OK) {
			snprintf(d->err, sizeof(d->err), "Docker answered %s %s "
			    "with something that is not JSON", method, path);
			return DOCKER_ERROR;
		}
		return DOCKER_OK;
	}
	if (status == 304)
		return DOCKER_OK;	/* already started or stopped */
	set_error(d, a, method, path, status, &s);
	if (status == 404)
		return DOCKER_NOT_FOUND;
	if (status == 409)
		return DOCKER_CONFLICT;
	return DOCKER_ERROR;
}

/* A streamed answer: to the file when it succeeded, else kept for why. */
struct stream {
	CURL		*curl;
	FILE		*out;
	struct sink	 err;
	int		 ok;		/* -1 not known yet, 0 error, 1 success */
	bool		 failed;	/* writing to the file failed */
};

static size_t
stream_out(char *data, size_t size, size_t n, void *arg)
{
	struct stream *st = arg;
	long code = 0;

	if (st->ok == -1) {
		curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &code);
		st->ok = code >= 200 && code < 300;
	}
	if (!st->ok)
		return collect(data, size, n, &st->err);
	if (st->out == NULL)
		return size * n;	/* not wanted */
	if (fwrite(data, size, n, st->out) != n) {
		st->failed = true;
		return 0;
	}
	return size * n;
}

static size_t
stream_in(char *buf, size_t size, size_t n, void *arg)
{
	return fread(buf, size, n, (FILE *)arg) * size;
}

enum docker_result
docker_stream(struct docker *d, struct arena *a, const char *method,
    const char *path, FILE *in, FILE *out, long timeout_ms)
{
	struct curl_slist *hdrs = NULL;
	struct stream st;
	long status = 0;
	CURLcode rc;

	memset(&st, 0, sizeof(st));
	st.curl = d->curl;
	st.out = out;
	st.ok = -1;
	st.err.a = a;
	prepare(d, arena_printf(a, "%s/v%s%s", d->base, d->version, path),
	    method, timeout_ms);
	curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, stream_out);
	curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &st);
	if (in != NULL) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/x-tar");
		curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(d->curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(d->curl, CURLOPT_READFUNCTION, stream_in);
		curl_easy_setopt(d->curl, CURLOPT_READDATA, in);
	}
	rc = curl_easy_perform(d->curl);
	curl_slist_free_all(hdrs);
	d->fresh = rc != CURLE_OK;
	if (st.failed) {
		snprintf(d->err, sizeof(d->err), "could not write the answer to "
		    "%s %s", method, path);
		return DOCKER_ERROR;
	}
	if (rc != CURLE_OK) {
		snprintf(d->err, sizeof(d->err), "Docker did not answer %s %s:"
		    " %s", method, path, d->curl_err[0] != '\0' ? d->curl_err :
		    curl_easy_strerror(rc));
		return DOCKER_UNREACHABLE;
	}
	curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		return DOCKER_OK;
	if (st.err.buf == NULL)
		st.err.buf = arena_strdup(a, "");
	set_error(d, a, method, path, status, &st.err);
	return status == 404 ? DOCKER_NOT_FOUND : DOCKER_ERROR;
}

/*
 * Container logs come multiplexed: 8-byte frame headers (stream, 0, 0, 0,
 * big-endian length) before each chunk, unless the container has a TTY.
 */
enum docker_result
docker_logs(struct docker *d, struct arena *a, const char *id, int tail,
    char **text)
{
	struct sink s;
	size_t i = 0, o = 0, n;
	long status;
	char *out;
	const unsigned char *b;

	*text = arena_strdup(a, "");
	if (request(d, a, "GET", arena_printf(a, "/containers/%s/logs?stdout=1"
	    "&stderr=1&tail=%d", id, tail), NULL, 10000, &status, &s, true)
	    == -1)
		return DOCKER_UNREACHABLE;
	if (status != 200) {
		set_error(d, a, "GET", "/containers/logs", status, &s);
		return status == 404 ? DOCKER_NOT_FOUND : DOCKER_ERROR;
	}
	out = arena_alloc(a, s.len + 1);
	b = (const unsigned char *)s.buf;
	if (s.len >= 8 && b[0] <= 2 && b[1] == 0 && b[2] == 0 && b[3] == 0) {
		while (i + 8 <= s.len) {
			n = (size_t)b[i + 4] << 24 | (size_t)b[i + 5] << 16 |
			    (size_t)b[i + 6] << 8 | b[i + 7];
			i += 8;
			if (n > s.len - i)
				n = s.len - i;
			memcpy(out + o, s.buf + i, n);
			o += n;
			i += n;
		}
	} else {
		memcpy(out, s.buf, s.len);
		o = s.len;
	}
	out[o] = '\0';
	*text = out;
	return DOCKER_OK;
}

/*
 * Pulls an image, with the registry's credentials when auth (the
 * X-Registry-Auth value) is given; each line of Docker's progress stream
 * goes to line_fn as it comes.  The stream's "error" member, if any, is
 * the cause of a failure.
 */
enum docker_result
docker_pull(struct docker *d, struct arena *a, const char *image,
    const char *auth, docker_line_fn line_fn, void *line_arg,
    long timeout_ms)
{
	char *name = arena_strdup(a, image), *tag = "latest", *at, *colon;
	struct json_object *o, *m;
	const char *p;
	struct sink s;
	long status;

	if ((at = strchr(name, '@')) != NULL) {
		*at = '\0';
		tag = at + 1;
	} else if ((colon = strrchr(name, ':')) != NULL &&
	    strchr(colon, '/') == NULL) {
		*colon = '\0';
		tag = colon + 1;
	}
	memset(&s, 0, sizeof(s));
	s.line_fn = line_fn;
	s.line_arg = line_arg;
	if (request_with(d, a, "POST", arena_printf(a, "/images/create?"
	    "fromImage=%s&tag=%s", httpc_escape(a, name), httpc_escape(a,
	    tag)), NULL, timeout_ms, &status, &s, true, auth ? arena_printf(a,
	    "X-Registry-Auth: %s", auth) : NULL) == -1)
		return DOCKER_UNREACHABLE;
	if (status != 200) {
		set_error(d, a, "POST", "/images/create", status, &s);
		return status == 404 ? DOCKER_NOT_FOUND : DOCKER_ERROR;
	}
	/* The last line with an error says why. */
	for (p = s.buf; (p = strstr(p, "\"error\"")) != NULL; p++) {
		const char *start = p, *end;

		while (start > s.buf && start[-1] != '\n')
			start--;
		end = strchr(p, '\n');
		if (json_parse(a, start, end ? (size_t)(end - start) :
		    strlen(start), &o) == JSON_OK &&
		    json_object_object_get_ex(o, "error", &m) &&
		    json_object_is_type(m, json_type_string))
			snprintf(d->err, sizeof(d->err), "%s",
			    json_object_get_string(m));
	}
	return strstr(s.buf, "\"error\"") != NULL ? DOCKER_ERROR : DOCKER_OK;
}

enum docker_result
docker_exec(struct docker *d, struct arena *a, const char *container,
    struct json_object *spec, docker_line_fn line_fn, void *line_arg,
    long timeout_ms, int *exit_code)
{
	struct json_object *o, *v;
	enum docker_result res;
	const char *id, *path;
	struct sink s;
	long status;
	int i;

	*exit_code = -1;
	res = docker_call(d, a, "POST", arena_printf(a, "/containers/%s/exec",
	    httpc_escape(a, container)), spec, 30000, &o);
	if (res != DOCKER_OK)
		return res;
	if (o == NULL || !json_object_object_get_ex(o, "Id", &v)) {
		snprintf(d->err, sizeof(d->err), "Docker made no exec");
		return DOCKER_ERROR;
	}
	id = httpc_escape(a, json_object_get_string(v));
	/* Without an upgrade, dockerd answers 200 and streams until the
	 * command ends, then closes. */
	memset(&s, 0, sizeof(s));
	s.line_fn = line_fn;
	s.line_arg = line_arg;
	s.discard = true;
	path = arena_printf(a, "/exec/%s/start", id);
	if (request_with(d, a, "POST", path, "{\"Detach\": false, \"Tty\": "
	    "true}", timeout_ms, &status, &s, true, NULL) == -1)
		return DOCKER_UNREACHABLE;
	if (status != 200) {
		set_error(d, a, "POST", path, status, &s);
		return status == 404 ? DOCKER_NOT_FOUND : DOCKER_ERROR;
	}
	if (line_fn != NULL && s.len > s.scanned)
		line_fn(line_arg, s.buf + s.scanned, s.len - s.scanned);
	/* The stream can close a moment before the exit code is noted. */
	for (i = 0; i < 50; i++) {
		res = docker_call(d, a, "GET", arena_printf(a, "/exec/%s/json",
		    id), NULL, 10000, &o);
		if (res != DOCKER_OK)
			return res;
		if (!json_object_object_get_ex(o, "Running", &v) ||
		    !json_object_get_boolean(v))
			break;
		usleep(20000);
	}
	if (json_object_object_get_ex(o, "ExitCode", &v) && v != NULL)
		*exit_code = json_object_get_int(v);
	return DOCKER_OK;
}
