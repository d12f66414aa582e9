/* A worker process: accepts FastCGI connections and serves requests. */
#ifndef WARREN_WORKER_H
#define WARREN_WORKER_H

#include "server.h"

#define WORKER_EXIT_STOPPED	0
#define WORKER_EXIT_RECYCLE	3

/* The master's listening sockets, shared by every worker. */
struct listeners {
	int	api;		/* every FastCGI role */
	int	authorizer;	/* the Authorizer role only; -1: none */
};

__attribute__((noreturn))
void	worker_main(struct server *, const struct listeners *, int slot);

#endif
