/* PostgreSQL: one lazily opened connection, prepared statements, bounded waits. */
#ifndef WARREN_DB_H
#define WARREN_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "arena.h"

struct db;

/* The owner of warm pools' unclaimed members (sql/0016_pools.sql). */
#define POOL_OWNER	"00000000-0000-4000-8000-000000000001"

struct db_stmt {
	const char	*name;
	const char	*sql;
	int		 nparams;
};

enum db_status {
	DB_OK,
	DB_UNAVAILABLE,		/* cannot connect, connection lost, timed out */
	DB_ERROR,		/* the server refused the statement */
};

enum db_error_kind {
	DB_ERR_CONNECT,
	DB_ERR_LOST,
	DB_ERR_TIMEOUT,
	DB_ERR_QUERY,
	DB_ERR_NKINDS
};

extern const char *const db_error_kind_names[DB_ERR_NKINDS];

struct db	*db_new(const char *conninfo, const char *appname,
		    int connect_ms, int query_ms);
void		 db_free(struct db *);
void		 db_on_error(struct db *, void (*)(enum db_error_kind));
enum db_status	 db_query(struct db *, struct arena *, const struct db_stmt *,
		    const char *const *params, PGresult **)
		    __attribute__((warn_unused_result));
enum db_status	 db_exec(struct db *, struct arena *, const char *sql,
		    PGresult **) __attribute__((warn_unused_result));
enum db_status	 db_begin(struct db *, struct arena *)
		    __attribute__((warn_unused_result));
enum db_status	 db_commit(struct db *, struct arena *)
		    __attribute__((warn_unused_result));
void		 db_rollback(struct db *, struct arena *);
/* Is a transaction open (or failed and not yet rolled back)? */
bool		 db_in_transaction(struct db *);
const char	*db_sqlstate(const PGresult *);
PGconn		*db_conn(struct db *);
/* Counts connections made: a change means session state (locks, LISTEN)
 * was lost and must be set up again. */
unsigned	 db_generation(struct db *);

#endif
