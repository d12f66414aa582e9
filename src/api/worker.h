/* A worker process: accepts FastCGI connections and serves requests. */
#ifndef WARREN_WORKER_H
#define WARREN_WORKER_H

#include "server.h"

#define WORKER_EXIT_STOPPED	0
#define WORKER_EXIT_RECYCLE	3

__attribute__((noreturn))
void	worker_main(struct server *, int listen_fd, int slot);

#endif
