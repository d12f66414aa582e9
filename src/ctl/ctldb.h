/* warrenctl's database connection and its small helpers. */
#ifndef WARREN_CTLDB_H
#define WARREN_CTLDB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "conf.h"

/* A connection as db_conninfo says, or NULL (and a message on stderr). */
PGconn	*ctl_connect(const struct conf *);
/* Runs sql; the result when it succeeded, else NULL (and a message). */
PGresult *ctl_exec(PGconn *, const char *what, const char *sql, int nparams,
	    const char *const *params);
/* "warrenctl (user)": who asks, for the audit log. */
const char *ctl_actor(void);

#endif
