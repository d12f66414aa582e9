/*
 * warren-reconciler: makes Docker match the desired state in PostgreSQL.
 * One active instance per Docker host, elected with an advisory lock
 * (leader.c); worker threads carry out the runs it queues (queue.c).
 * Here: the options, the configuration, the signals, start-up and
 * shutdown.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "conf.h"
#include "converge.h"
#include "leader.h"
#include "log.h"
#include "queue.h"
#include "recon.h"
#include "secretbox.h"
#include "state.h"
#include "traefik.h"

_Static_assert(ATOMIC_BOOL_LOCK_FREE == 2,
    "stopping is set in a signal handler: its atomic must be lock-free");

struct conf		 conf;
atomic_bool		 stopping;
int			 wake[2] = { -1, -1 };

static const char		*conf_path = CONF_DEFAULT_FILE;
static bool			 once;
/*
 * Filled before the first worker starts and read-only from then on (the
 * workers read it as w->shared): no lock.
 */
static struct recon_shared	 shared;
/* Written at the first signal and never read: readable from then on. */
static int			 stop_pipe[2] = { -1, -1 };

static const struct db_stmt q_host = {
	"recon_host",
	"SELECT endpoint, tls_ca, tls_cert, tls_key, host(publish_address)"
	" FROM docker_hosts WHERE name = $1 AND enabled", 1
};

static void
on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	atomic_store(&stopping, true);
	if (wake[1] != -1)
		(void)!write(wake[1], "x", 1);
	if (stop_pipe[1] != -1)
		(void)!write(stop_pipe[1], "x", 1);
	errno = saved;
}

void
recon_wake(void)
{
	(void)!write(wake[1], "x", 1);
}

static struct worker *
worker_new(const char *endpoint, const struct docker_tls *tls)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		fatal("worker");
	w->db = db_new(conf.db_conninfo, "warren-reconciler",
	    (int)conf.db_connect_timeout, (int)conf.db_query_timeout);
	if ((w->docker = docker_new(endpoint, tls, conf.docker_timeout))
	    == NULL)
		fatalx("docker_host: cannot use %s", endpoint);
	w->a = arena_new(64 * 1024);
	w->shared = &shared;
	return w;
}

static void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	db_free(w->db);
	docker_free(w->docker);
	arena_free(w->a);
	free(w);
}

/* The endpoint and publish address of this host: its docker_hosts row,
 * else the config. */
static void
endpoint(struct worker *w, char *out, size_t outlen, struct docker_tls *tls)
{
	const char *p[] = { conf.reconciler_host_name };
	PGresult *r;

	snprintf(out, outlen, "%s", conf.docker_host);
	snprintf(shared.publish_address, sizeof(shared.publish_address), "%s",
	    conf.docker_publish_address);
	memset(tls, 0, sizeof(*tls));
	if (db_query(w->db, w->a, &q_host, p, &r) != DB_OK ||
	    PQntuples(r) != 1)
		return;
	snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
	tls->ca = PQgetisnull(r, 0, 1) ? NULL : strdup(PQgetvalue(r, 0, 1));
	tls->cert = PQgetisnull(r, 0, 2) ? NULL : strdup(PQgetvalue(r, 0, 2));
	tls->key = PQgetisnull(r, 0, 3) ? NULL : strdup(PQgetvalue(r, 0, 3));
	if (!PQgetisnull(r, 0, 4))
		snprintf(shared.publish_address, sizeof(shared.publish_address),
		    "%s", PQgetvalue(r, 0, 4));
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: warren-reconciler [-n] [--once] [-c file]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct docker_tls tls;
	struct sigaction sa;
	struct worker *w, **pool;
	bool check = false;
	char ep[CONF_STR_MAX], err[256];
	int i;

	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:nV", longopts, NULL)) != -1)
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'n':
			check = true;
			break;
		case 'V':
			printf("warren-reconciler %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	if (optind != argc)
		usage();
	if (conf_load(&conf, conf_path, conf_print_error, NULL) == -1)
		return 1;
	if (check) {
		printf("%s: configuration OK\n", conf_path);
		return 0;
	}
	log_init("warren-reconciler", (enum log_level)conf.log_level);
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("could not initialise libsodium or libcurl");
	shared.conf = &conf;
	shared.host = conf.reconciler_host_name;
	shared.have_key = secretbox_load(conf.secret_key_file, shared.key, err,
	    sizeof(err)) == 0;
	if (!shared.have_key)
		log_warnx("secret_key_file: %s: workspaces that select secrets "
		    "will fail to start", err);
	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) == -1 ||
	    pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	shared.stop_fd = stop_pipe[0];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (conf.traefik_file[0] != '\0')
		traefik_clean(conf.traefik_file);
	w = worker_new(conf.docker_host, NULL);
	if (!leader_elect(w, once)) {
		worker_free(w);
		curl_global_cleanup();
		return once && !atomic_load(&stopping) ? 1 : 0;
	}
	if (state_instance(w->db, w->a, shared.instance,
	    sizeof(shared.instance)) == -1)
		fatalx("could not read this installation's id from the database "
		    "(table instance): run warrenctl migrate");
	log_info("installation %s: its Docker objects only", shared.instance);
	endpoint(w, ep, sizeof(ep), &tls);
	docker_free(w->docker);
	if ((w->docker = docker_new(ep, &tls, conf.docker_timeout)) == NULL)
		fatalx("cannot use Docker endpoint %s", ep);
	if (docker_negotiate(w->docker, w->a) == -1)
		log_warnx("Docker at %s does not answer yet: %s", ep,
		    docker_error(w->docker));
	else
		(void)converge_network(w);
	if ((pool = calloc((size_t)conf.reconciler_threads, sizeof(*pool)))
	    == NULL)
		fatal("threads");
	for (i = 0; i < conf.reconciler_threads; i++) {
		pool[i] = worker_new(ep, &tls);
		(void)docker_negotiate(pool[i]->docker, pool[i]->a);
	}
	queue_start(pool, conf.reconciler_threads);
	int rc = 0;
	if (once)
		rc = leader_once(w);
	else
		leader_loop(w);
	/*
	 * Stop: the steps in progress finish (readiness waits are cut short
	 * and left for the next run), the queue is dropped.
	 */
	queue_stop();
	for (i = 0; i < conf.reconciler_threads; i++)
		worker_free(pool[i]);
	free(pool);
	worker_free(w);
	free((char *)tls.ca);
	free((char *)tls.cert);
	free((char *)tls.key);
	curl_global_cleanup();
	log_info("stopped");
	return rc;
}
