/*
 * The FastCGI adapter and the worker's accept loop.  The worker accepts
 * connections itself (epoll with EPOLLEXCLUSIVE, signals unblocked only
 * while waiting) and hands each one to libfcgi, so a stop signal is never
 * lost between the check and the wait, and never interrupts a request.
 * A connection on the Authorizer listener gets an answer in that role
 * only: the API is not served there.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#include "listcache.h"
#include "log.h"
#include "metrics.h"
#include "problem.h"
#include "router.h"
#include "worker.h"

#define ARENA_FIRST_BLOCK	(64 * 1024)
#define DRAIN_MAX		(64L * 1024 * 1024)
/* The route that answers a FastCGI Authorizer (Apache mod_authnz_fcgi). */
#define AUTHORIZER_PATH		"/api/v1/auth/forward"

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static const char *
fcgi_header(struct request *req, const char *cgi)
{
	FCGX_Request *fr = req->adapter;

	return FCGX_GetParam(cgi, fr->envp);
}

static long
fcgi_read_body(struct request *req, char *buf, size_t n)
{
	FCGX_Request *fr = req->adapter;

	if (n > 1 << 30)
		n = 1 << 30;
	return FCGX_GetStr(buf, (int)n, fr->in);
}

/*
 * Reads what is left of the body, so the web server never sees a reset;
 * true when all of it was read.
 */
static bool
drain(FCGX_Request *fr)
{
	char buf[16384];
	long total = 0;
	int n = -1;

	while (total < DRAIN_MAX &&
	    (n = FCGX_GetStr(buf, sizeof(buf), fr->in)) > 0)
		total += n;
	return n == 0 && FCGX_GetError(fr->in) == 0;
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Header values we write must not be able to split the response. */
static void
put_header(FCGX_Request *fr, const char *name, const char *value)
{
	FCGX_PutS(name, fr->out);
	FCGX_PutS(": ", fr->out);
	for (; *value; value++)
		if ((unsigned char)*value >= 0x20 && *value != 0x7f)
			FCGX_PutChar(*value, fr->out);
	FCGX_PutS("\r\n", fr->out);
}

static void
write_response(FCGX_Request *fr, struct request *req, struct response *resp)
{
	size_t i;

	/*
	 * An Authorizer's 200 lets the request go on: the web server keeps the
	 * Variable-* headers as its environment and would add any other
	 * header to the answer the client gets from elsewhere.
	 */
	if (fr->role == FCGI_AUTHORIZER && resp->status == 200) {
		FCGX_PutS("Status: 200 OK\r\n", fr->out);
		for (i = 0; i < resp->nheaders; i++)
			if (strncasecmp(resp->headers[i].name, "Variable-", 9)
			    == 0)
				put_header(fr, resp->headers[i].name,
				    resp->headers[i].value);
		FCGX_PutS("\r\n", fr->out);
		return;
	}
	FCGX_FPrintF(fr->out, "Status: %d %s\r\n", resp->status,
	    http_status_text(resp->status));
	if (resp->content_type != NULL)
		put_header(fr, "Content-Type", resp->content_type);
	FCGX_FPrintF(fr->out, "Content-Length: %lu\r\n",
	    (unsigned long)resp->len);
	put_header(fr, "X-Request-Id", req->request_id);
	FCGX_PutS("Cache-Control: no-store\r\n", fr->out);
	for (i = 0; i < resp->nheaders; i++)
		put_header(fr, resp->headers[i].name, resp->headers[i].value);
	FCGX_PutS("\r\n", fr->out);
	if (req->method != HTTP_HEAD && resp->len > 0)
		FCGX_PutStr(resp->body, (int)resp->len, fr->out);
}

/* Quotes a client-supplied string for the log: printable ASCII only. */
static const char *
log_quote(struct arena *a, const char *s, size_t max)
{
	char *out = arena_alloc(a, max * 4 + 4), *o = out;
	size_t i;

	for (i = 0; s[i] != '\0' && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += sprintf(o, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	if (s[i] != '\0')
		o += sprintf(o, "...");
	*o = '\0';
	return out;
}

/* A request of another role on the Authorizer listener. */
static void
refuse(struct request *req, struct response *resp)
{
	const char *role = req->header(req, "FCGI_ROLE");

	request_id_new(req->request_id);
	log_set_request_id(req->request_id);
	log_warnx("authorizer_listen: refused a FastCGI %s request: only "
	    "the Authorizer role is served there", role ? role : "unknown");
	problem(req, resp, PROBLEM_FORBIDDEN, NULL);
}

/* True when all of the request was read. */
static bool
serve(struct server *srv, FCGX_Request *fr, struct arena *a,
    bool authorizer_only)
{
	bool all_read = true;
	struct response resp = { 0 };
	struct request req = { 0 };
	struct timespec t0;
	const char *cl, *q;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	req.arena = a;
	req.srv = srv;
	req.adapter = fr;
	req.header = fcgi_header;
	req.read_body = fcgi_read_body;
	req.method_name = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	if (req.method_name == NULL)
		req.method_name = "";
	req.method = http_method_parse(req.method_name);
	req.uri = FCGX_GetParam("REQUEST_URI", fr->envp);
	if (req.uri == NULL)
		req.uri = "";
	if ((q = strchr(req.uri, '?')) != NULL) {
		req.path = arena_strndup(a, req.uri, (size_t)(q - req.uri));
		req.query = q + 1;
	} else {
		req.path = req.uri;
		req.query = "";
	}
	req.content_type = FCGX_GetParam("CONTENT_TYPE", fr->envp);
	if ((cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp)) != NULL &&
	    *cl != '\0')
		req.content_length = strtol(cl, NULL, 10);
	if (req.content_length < 0)
		req.content_length = 0;
	req.remote_addr = FCGX_GetParam("REMOTE_ADDR", fr->envp);
	/*
	 * An Authorizer shows the client's own request, without its body,
	 * and asks whether it may go on: the forward route's question.
	 */
	if (fr->role == FCGI_AUTHORIZER) {
		req.method_name = "GET";
		req.method = HTTP_GET;
		req.uri = req.path = AUTHORIZER_PATH;
		req.query = "";
		req.content_length = 0;
	}

	if (authorizer_only && fr->role != FCGI_AUTHORIZER)
		refuse(&req, &resp);
	else
		server_handle(srv, &req, &resp);
	/* No FCGI_STDIN comes to an Authorizer: reading would wait. */
	if (fr->role != FCGI_AUTHORIZER)
		all_read = drain(fr);
	write_response(fr, &req, &resp);
	secs = elapsed(&t0);
	metrics_request(server_route_index(&req), req.method, resp.status,
	    secs);
	if (srv->conf.access_log)
		log_line("access method=%s path=\"%s\" status=%d bytes=%zu "
		    "duration_ms=%.3f request_id=%s",
		    log_quote(a, req.method_name, 16),
		    log_quote(a, req.path, 512), resp.status,
		    req.method == HTTP_HEAD ? 0 : resp.len, secs * 1000,
		    req.request_id);
	log_set_request_id(NULL);
	return all_read;
}

/*
 * Waits for a connection with stop signals deliverable; -1 when stopping.
 * *from is the listening socket it came in on.
 */
static int
next_connection(struct server *srv, int ep, const sigset_t *waitmask,
    int *from)
{
	struct epoll_event ev;
	int fd, n;

	for (;;) {
		if (stopping)
			return -1;
		/* A LISTENing connection is read at least once a second. */
		n = epoll_pwait(ep, &ev, 1, lc_listening() ? 1000 : -1,
		    waitmask);
		if (n < 0 && errno != EINTR)
			fatal("epoll_pwait");
		if (n == 0)
			lc_idle(srv->db);
		if (n <= 0)
			continue;
		fd = accept4(ev.data.fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			*from = ev.data.fd;
			return fd;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
	}
}

static void
worker_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_SETMASK, &block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
}

static void
watch(int ep, int fd)
{
	struct epoll_event ev = { 0 };

	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		fatal("epoll_ctl");
}

/*
 * A request that runs away with memory fails alone: this worker's
 * allocations fail past the limit, it exits, and the master starts
 * another.  AddressSanitizer reserves terabytes of address space, so a
 * sanitized build runs without it.
 */
static void
limit_memory(long bytes)
{
#if defined(__SANITIZE_ADDRESS__)
	(void)bytes;
#else
	struct rlimit rl;

	if (bytes <= 0)
		return;
	rl.rlim_cur = rl.rlim_max = (rlim_t)bytes;
	if (setrlimit(RLIMIT_AS, &rl) == -1)
		log_warn("could not limit this worker's memory to %ld bytes",
		    bytes);
#endif
}

void
worker_main(struct server *srv, const struct listeners *l, int slot)
{
	FCGX_Request fr;
	struct arena *a;
	sigset_t waitmask;
	long served = 0;
	int ep, fd, from;

	log_forked();
	request_id_seed();
	worker_signals(&waitmask);
	limit_memory(srv->conf.worker_memory_limit);
	metrics_use_slot(slot);
	srv->db = db_new(srv->conf.db_conninfo, "warren-api",
	    (int)srv->conf.db_connect_timeout,
	    (int)srv->conf.db_query_timeout);
	db_on_error(srv->db, metrics_db_error);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, l->api, 0) != 0)
		fatalx("could not initialise libfcgi");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	watch(ep, l->api);
	if (l->authorizer != -1)
		watch(ep, l->authorizer);
	a = arena_new(ARENA_FIRST_BLOCK);

	while ((fd = next_connection(srv, ep, &waitmask, &from)) != -1) {
		arena_reset(a);
		/*
		 * FCGX_Accept_r first finishes the previous request and
		 * would close a connection not marked as kept: mark it.
		 * After a broken connection it accepts the next one itself,
		 * from listen_sock: the same listener, so its role rule holds.
		 */
		fr.ipcFd = fd;
		fr.keepConnection = 1;
		fr.listen_sock = from;
		if (FCGX_Accept_r(&fr) < 0) {
			/* A broken FastCGI connection: drop it, go on. */
			if (fr.ipcFd >= 0)
				close(fr.ipcFd);
			fr.ipcFd = -1;
			continue;
		}
		/*
		 * When all of the request was read, nothing unread can turn
		 * the close into a reset: close at once.  libfcgi's own close
		 * lingers (shutdown, then wait for the web server to close
		 * first), a wait on the web server for every request.
		 */
		if (serve(srv, &fr, a, from == l->authorizer))
			fr.keepConnection = 1;
		FCGX_Finish_r(&fr);
		lc_idle(srv->db);
		/* Kept connections are not supported: one request each. */
		if (fr.ipcFd >= 0) {
			close(fr.ipcFd);
			fr.ipcFd = -1;
		}
		if (srv->conf.max_requests > 0 &&
		    ++served >= srv->conf.max_requests) {
			arena_free(a);
			db_free(srv->db);
			exit(WORKER_EXIT_RECYCLE);
		}
	}
	arena_free(a);
	db_free(srv->db);
	exit(WORKER_EXIT_STOPPED);
}
