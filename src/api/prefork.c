/*
 * The master never serves a request.  It owns the listening sockets (the
 * main one and, with authorizer_listen, the Authorizer's), keeps `workers`
 * children alive, and on SIGHUP starts a new generation on the same
 * sockets before asking the old one to finish, so no request is lost.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "prefork.h"
#include "ratelimit.h"
#include "router.h"
#include "util.h"
#include "worker.h"

#define MAX_CHILDREN	METRICS_MAX_SLOTS
#define CRASH_WINDOW_MS	1000
#define CRASH_BURST	10	/* crashes per window before respawns slow down */

struct child {
	pid_t	pid;
	int	gen;
	bool	exiting;
};

static struct child	children[MAX_CHILDREN];
static int		generation;

static int
listen_unix(const struct conf *c)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(c->listen) >= sizeof(sun.sun_path)) {
		log_warnx("listen: socket path is too long");
		return -1;
	}
	strcpy(sun.sun_path, c->listen);
	/* Replace a stale socket, never any other kind of file. */
	if (lstat(c->listen, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("listen: %s exists and is not a socket",
			    c->listen);
			return -1;
		}
		unlink(c->listen);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(c->listen, (mode_t)c->listen_mode) == -1) {
		log_warn("could not listen on %s", c->listen);
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

static int
listen_tcp(const char *key, const char *addr)
{
	struct addrinfo hints, *res;
	char host[CONF_STR_MAX], *port;
	int fd, one = 1, r;

	snprintf(host, sizeof(host), "%s", addr);
	port = strrchr(host, ':');
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((r = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0) {
		log_warnx("%s: bad address %s: %s", key, addr,
		    gai_strerror(r));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		log_warn("could not listen on %s", addr);
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Workers accept only after epoll says so; another may win. */
static int
listen_ready(int fd)
{
	int fl;

	if (listen(fd, 1024) == -1) {
		log_warn("listen");
		close(fd);
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_warn("fcntl");
		close(fd);
		return -1;
	}
	return fd;
}

static int
listen_api(const struct conf *c)
{
	struct stat st;
	int fd;

	if (strcmp(c->listen, "inherit") == 0) {
		/* spawn-fcgi and mod_fcgid pass a listening socket as fd 0. */
		if (fstat(0, &st) == -1 || !S_ISSOCK(st.st_mode)) {
			log_warnx("listen = inherit, but standard input is not "
			    "a socket");
			return -1;
		}
		if ((fd = fcntl(0, F_DUPFD_CLOEXEC, 3)) == -1)
			return -1;
		close(0);
		if (open("/dev/null", O_RDONLY) != 0)
			return -1;
	} else if (c->listen[0] == '/')
		fd = listen_unix(c);
	else
		fd = listen_tcp("listen", c->listen);
	return fd == -1 ? -1 : listen_ready(fd);
}

int
prefork_listen(const struct conf *c, struct listeners *l)
{
	int fd;

	l->authorizer = -1;
	if ((l->api = listen_api(c)) == -1)
		return -1;
	if (c->authorizer_listen[0] == '\0')
		return 0;
	if ((fd = listen_tcp("authorizer_listen", c->authorizer_listen)) ==
	    -1 || (l->authorizer = listen_ready(fd)) == -1) {
		close(l->api);
		return -1;
	}
	return 0;
}

static int
spawn(struct server *srv, const struct listeners *l, int slot)
{
	pid_t pid;

	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0)
		worker_main(srv, l, slot);
	children[slot].pid = pid;
	children[slot].gen = generation;
	children[slot].exiting = false;
	return 0;
}

static int
free_slot(void)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid == 0)
			return i;
	return -1;
}

static int
live_current(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid != 0 && children[i].gen == generation)
			n++;
	return n;
}

static int
live_total(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_CHILDREN; i++)
		if (children[i].pid != 0)
			n++;
	return n;
}

/* Brings the current generation up to the configured count. */
static void
fill(struct server *srv, const struct listeners *l)
{
	int slot;

	while (live_current() < srv->conf.workers &&
	    (slot = free_slot()) != -1)
		if (spawn(srv, l, slot) == -1)
			break;
	metrics_set_workers((int)srv->conf.workers);
}

static void
signal_all(int sig, bool old_only)
{
	int i;

	for (i = 0; i < MAX_CHILDREN; i++) {
		if (children[i].pid == 0 ||
		    (old_only && children[i].gen == generation))
			continue;
		if (sig == SIGTERM && children[i].exiting)
			continue;
		if (sig == SIGTERM)
			children[i].exiting = true;
		kill(children[i].pid, sig);
	}
}

/* Collects dead children; returns how many crashed. */
static int
reap(bool stopping)
{
	int i, status, crashed = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < MAX_CHILDREN && children[i].pid != pid; i++)
			;
		if (i == MAX_CHILDREN)
			continue;
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == WORKER_EXIT_RECYCLE) {
			metrics_restart(RESTART_RECYCLE);
			log_debug("worker %ld recycled", (long)pid);
		} else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		    children[i].exiting)) {
			if (!stopping && !children[i].exiting) {
				metrics_restart(RESTART_CRASH);
				crashed++;
			}
			if (WIFSIGNALED(status))
				log_warnx("worker %ld killed by signal %d",
				    (long)pid, WTERMSIG(status));
			else
				log_warnx("worker %ld exited with status %d",
				    (long)pid, WEXITSTATUS(status));
		}
		children[i].pid = 0;
	}
	return crashed;
}

static int
reload(struct server *srv, const struct listeners *l)
{
	static struct server old;
	const struct conf_key *k;
	struct conf nc;

	log_info("reloading %s", srv->conf_path);
	if (conf_load(&nc, srv->conf_path, conf_print_error, NULL) == -1) {
		log_warnx("configuration not reloaded: keeping the running "
		    "one");
		return -1;
	}
	while ((k = conf_reload_refused(&srv->conf, &nc)) != NULL) {
		log_warnx("%s changed: restart warren-api to apply it; other "
		    "settings are reloaded", k->name);
		conf_copy_key(&nc, &srv->conf, k);
	}
	old = *srv;
	srv->conf = nc;
	if (server_prepare(srv) == -1) {
		log_warnx("configuration not reloaded: keeping the running "
		    "one");
		*srv = old;
		return -1;
	}
	log_set_level((enum log_level)srv->conf.log_level);
	generation++;
	fill(srv, l);
	signal_all(SIGTERM, true);
	return 0;
}

static void
shutdown_all(struct server *srv, int sfd)
{
	int64_t deadline = now_ms() + srv->conf.shutdown_grace * 1000;
	struct signalfd_siginfo si;
	struct pollfd pfd = { sfd, POLLIN, 0 };

	log_info("stopping: waiting up to %lds for requests in flight",
	    srv->conf.shutdown_grace);
	signal_all(SIGTERM, false);
	while (live_total() > 0 && now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now_ms())) > 0)
			(void)!read(sfd, &si, sizeof(si));
		reap(true);
	}
	if (live_total() > 0) {
		log_warnx("grace period over: killing %d workers",
		    live_total());
		signal_all(SIGKILL, false);
		while (live_total() > 0 && waitpid(-1, NULL, 0) > 0)
			reap(true);
		memset(children, 0, sizeof(children));
	}
}

int
prefork_run(struct server *srv, const struct listeners *l)
{
	struct signalfd_siginfo si;
	int64_t window = now_ms(), delay_until = 0;
	struct pollfd pfd;
	sigset_t mask;
	int sfd, crashes = 0, timeout;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	metrics_init(nroutes);
	ratelimit_init();
	fill(srv, l);
	if (l->authorizer != -1)
		log_info("warren-api %s: %ld workers on %s, Authorizer only on "
		    "%s", PACKAGE_VERSION, srv->conf.workers, srv->conf.listen,
		    srv->conf.authorizer_listen);
	else
		log_info("warren-api %s: %ld workers on %s", PACKAGE_VERSION,
		    srv->conf.workers, srv->conf.listen);

	for (;;) {
		timeout = delay_until ? (int)(delay_until - now_ms()) : -1;
		if (timeout < -1)
			timeout = 0;
		pfd.fd = sfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout) > 0 &&
		    read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				break;
			if (si.ssi_signo == SIGHUP)
				(void)reload(srv, l);
		}
		if (now_ms() - window > CRASH_WINDOW_MS) {
			window = now_ms();
			crashes = 0;
		}
		crashes += reap(false);
		if (crashes > CRASH_BURST && delay_until == 0) {
			log_warnx("workers keep crashing: waiting before "
			    "starting more");
			delay_until = now_ms() + CRASH_WINDOW_MS;
		}
		if (delay_until != 0 && now_ms() < delay_until)
			continue;
		delay_until = 0;
		fill(srv, l);
	}
	shutdown_all(srv, sfd);
	close(l->api);
	if (l->authorizer != -1)
		close(l->authorizer);
	if (srv->conf.listen[0] == '/')
		unlink(srv->conf.listen);
	log_info("stopped");
	return 0;
}
