/* The reconciler's leftovers for the operator: status, volumes, removals. */
#ifndef WARREN_OPS_H
#define WARREN_OPS_H

#include "conf.h"

/* 0 done, -1 failed (a message on stderr), -2 usage. */
int	ops_status(const struct conf *, int argc, char **argv);
int	ops_volumes(const struct conf *, int argc, char **argv);
int	ops_removals(const struct conf *, int argc, char **argv);

#endif
