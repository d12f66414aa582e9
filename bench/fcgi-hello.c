/*
 * The benchmark's baseline: the least a libfcgi program can do.  N worker
 * processes share one listening unix socket, each looping on
 * FCGX_Accept_r and answering {"status":"ok"}.
 *
 *   fcgi-hello SOCKET WORKERS
 *
 * SIGTERM or SIGINT to the master stops the workers and removes the socket.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

#define MAX_WORKERS	128

static volatile sig_atomic_t stop;

static void
on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void __attribute__((noreturn))
worker(int sock)
{
	static const char body[] = "{\"status\":\"ok\"}";
	FCGX_Request req;

	sigset_t none;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (FCGX_InitRequest(&req, sock, 0) != 0)
		exit(1);
	while (FCGX_Accept_r(&req) >= 0) {
		/* libfcgi's own printf knows no %zu. */
		FCGX_FPrintF(req.out, "Status: 200 OK\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: %d\r\n\r\n", (int)sizeof(body) - 1);
		FCGX_PutStr(body, (int)sizeof(body) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	exit(0);
}

int
main(int argc, char *argv[])
{
	pid_t pids[MAX_WORKERS];
	struct sigaction sa;
	sigset_t block, old;
	int i, n, sock;

	if (argc != 3 || (n = atoi(argv[2])) < 1 || n > MAX_WORKERS) {
		fprintf(stderr, "usage: fcgi-hello SOCKET WORKERS (1..%d)\n",
		    MAX_WORKERS);
		return 2;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "fcgi-hello: could not initialise libfcgi\n");
		return 1;
	}
	unlink(argv[1]);
	if ((sock = FCGX_OpenSocket(argv[1], 1024)) < 0) {
		fprintf(stderr, "fcgi-hello: could not listen on %s\n",
		    argv[1]);
		return 1;
	}
	chmod(argv[1], 0666);	/* the web server runs as another user */

	/* Blocked except inside sigsuspend, so a stop is never missed. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("fcgi-hello: fork");
			n = i;
			stop = 1;
			break;
		}
		if (pids[i] == 0)
			worker(sock);
	}
	while (!stop)
		sigsuspend(&old);
	for (i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	unlink(argv[1]);
	return 0;
}
