/* The master process: listens, forks workers, replaces them, stops them. */
#ifndef WARREN_PREFORK_H
#define WARREN_PREFORK_H

#include "server.h"
#include "worker.h"

int	prefork_listen(const struct conf *, struct listeners *)
	    __attribute__((warn_unused_result));
int	prefork_run(struct server *, const struct listeners *);

#endif
