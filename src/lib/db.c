/*
 * libpq adapter.  Every wait on the server is a poll(2) with a deadline,
 * so a lost or stuck PostgreSQL turns into DB_UNAVAILABLE in bounded time
 * instead of a hung worker; the next call reconnects by itself.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "util.h"

#define DB_MAX_PREPARED	128
#define DB_RETRY_MS	200	/* pause between failed connection attempts */

const char *const db_error_kind_names[DB_ERR_NKINDS] = {
	"connect", "lost", "timeout", "query"
};

struct db {
	char			*conninfo;
	char			*appname;
	int			 connect_ms;
	int			 query_ms;
	PGconn			*conn;
	int64_t			 retry_at;
	int64_t			 last_used;
	const struct db_stmt	*prepared[DB_MAX_PREPARED];
	size_t			 nprepared;
	void			(*on_error)(enum db_error_kind);
	unsigned		 generation;
};

struct db *
db_new(const char *conninfo, const char *appname, int connect_ms,
    int query_ms)
{
	struct db *db;

	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->conninfo = strdup(conninfo)) == NULL ||
	    (db->appname = strdup(appname)) == NULL)
		fatal("db_new");
	db->connect_ms = connect_ms;
	db->query_ms = query_ms;
	return db;
}

static void
db_disconnect(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db->conninfo);
	free(db->appname);
	free(db);
}

void
db_on_error(struct db *db, void (*fn)(enum db_error_kind))
{
	db->on_error = fn;
}

static void
db_fail(struct db *db, enum db_error_kind kind)
{
	if (db->on_error != NULL)
		db->on_error(kind);
}

/* 1 ready, 0 timed out, -1 error */
static int
wait_fd(PGconn *c, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	pfd.fd = PQsocket(c);
	pfd.events = events;
	if (pfd.fd < 0)
		return -1;
	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Server notices go to the log, not raw to stderr. */
static void
notice(void *arg, const char *msg)
{
	(void)arg;
	log_debug("database: %s", FIRST_LINE(msg));
}

static int
db_connect(struct db *db)
{
	/* UTC, so that timestamps leave as RFC 3339 with a Z. */
	const char *keys[] = { "dbname", "application_name", "options", NULL };
	const char *vals[] = { db->conninfo, db->appname, "-c TimeZone=UTC",
	    NULL };
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int64_t deadline;
	int r = 1;

	if (db->conn != NULL)
		return 0;
	if (now_ms() < db->retry_at)
		return -1;
	deadline = now_ms() + db->connect_ms;
	if ((db->conn = PQconnectStartParams(keys, vals, 1)) == NULL)
		fatalx("db: out of memory");
	PQsetNoticeProcessor(db->conn, notice, NULL);
	if (PQstatus(db->conn) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		r = wait_fd(db->conn, st == PGRES_POLLING_READING ? POLLIN :
		    POLLOUT, deadline);
		if (r <= 0)
			break;
		st = PQconnectPoll(db->conn);
	}
	if (st != PGRES_POLLING_OK) {
		if (r == 0)
			log_warnx("could not connect to database: timed out "
			    "after %d ms", db->connect_ms);
		else
			log_warnx("could not connect to database: %s",
			    FIRST_LINE(PQerrorMessage(db->conn)));
		db_disconnect(db);
		db->retry_at = now_ms() + DB_RETRY_MS;
		db_fail(db, DB_ERR_CONNECT);
		return -1;
	}
	log_debug("connected to database");
	db->generation++;
	return 0;
}

static bool
conn_lost(struct db *db)
{
	return db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK;
}

/*
 * An idle connection that has something to read was closed or told to go
 * away by the server (restart, idle timeout): drop it before using it, so
 * that a restart of PostgreSQL costs no failed request.
 */
static void
check_idle(struct db *db)
{
	struct pollfd pfd;

	if (db->conn == NULL)
		return;
	pfd.fd = PQsocket(db->conn);
	pfd.events = POLLIN;
	if (pfd.fd < 0 || poll(&pfd, 1, 0) != 0) {
		if (pfd.fd < 0 || !PQconsumeInput(db->conn) ||
		    conn_lost(db)) {
			log_info("database connection was closed, reconnecting");
			db_disconnect(db);
		}
		/* Notifications stay queued for a LISTENing caller. */
	}
}

static void
clear_result(void *res)
{
	PQclear(res);
}

/* Collects the result of the query just sent; NULL result on failure. */
static enum db_status
wait_result(struct db *db, struct arena *a, PGresult **out)
{
	int64_t deadline = now_ms() + db->query_ms;
	PGresult *res, *last = NULL;
	int r;

	*out = NULL;
	for (;;) {
		while (PQisBusy(db->conn)) {
			if ((r = wait_fd(db->conn, POLLIN, deadline)) <= 0) {
				log_warnx("database query %s", r == 0 ?
				    "timed out" : "failed: poll error");
				if (last != NULL)
					PQclear(last);
				db_disconnect(db);
				db_fail(db, r == 0 ? DB_ERR_TIMEOUT :
				    DB_ERR_LOST);
				return DB_UNAVAILABLE;
			}
			if (!PQconsumeInput(db->conn))
				break;
		}
		if ((res = PQgetResult(db->conn)) == NULL)
			break;
		if (last != NULL)
			PQclear(last);
		last = res;
	}
	if (last == NULL || conn_lost(db)) {
		log_warnx("database connection lost: %s",
		    FIRST_LINE(PQerrorMessage(db->conn)));
		if (last != NULL)
			PQclear(last);
		db_disconnect(db);
		db_fail(db, DB_ERR_LOST);
		return DB_UNAVAILABLE;
	}
	arena_defer(a, clear_result, last);
	db->last_used = now_ms();
	*out = last;
	switch (PQresultStatus(last)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		return DB_OK;
	default:
		break;
	}
	/* Class 08 and 57P0x: the server went or is going away. */
	if (strncmp(db_sqlstate(last), "08", 2) == 0 ||
	    strncmp(db_sqlstate(last), "57P0", 4) == 0) {
		log_warnx("database unavailable: %s",
		    FIRST_LINE(PQresultErrorMessage(last)));
		db_disconnect(db);
		db_fail(db, DB_ERR_LOST);
		return DB_UNAVAILABLE;
	}
	db_fail(db, DB_ERR_QUERY);
	return DB_ERROR;
}

static bool
is_prepared(struct db *db, const struct db_stmt *s)
{
	size_t i;

	for (i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == s)
			return true;
	return false;
}

static enum db_status
prepare(struct db *db, struct arena *a, const struct db_stmt *s)
{
	enum db_status st;
	PGresult *res;

	if (is_prepared(db, s))
		return DB_OK;
	if (db->nprepared == DB_MAX_PREPARED)
		fatalx("db: more than %d prepared statements", DB_MAX_PREPARED);
	if (!PQsendPrepare(db->conn, s->name, s->sql, s->nparams, NULL)) {
		db_disconnect(db);
		db_fail(db, DB_ERR_LOST);
		return DB_UNAVAILABLE;
	}
	if ((st = wait_result(db, a, &res)) != DB_OK) {
		if (st == DB_ERROR)
			log_warnx("could not prepare %s: %s", s->name,
			    FIRST_LINE(PQresultErrorMessage(res)));
		return st;
	}
	db->prepared[db->nprepared++] = s;
	return DB_OK;
}

static enum db_status
db_ready(struct db *db)
{
	/* A connection used within the last second is trusted as is. */
	if (now_ms() - db->last_used > 1000)
		check_idle(db);
	if (db_connect(db) == -1)
		return DB_UNAVAILABLE;
	return DB_OK;
}

enum db_status
db_query(struct db *db, struct arena *a, const struct db_stmt *s,
    const char *const *params, PGresult **out)
{
	enum db_status st;

	*out = NULL;
	if ((st = db_ready(db)) != DB_OK || (st = prepare(db, a, s)) != DB_OK)
		return st;
	if (!PQsendQueryPrepared(db->conn, s->name, s->nparams, params, NULL,
	    NULL, 0)) {
		log_warnx("could not send query: %s",
		    FIRST_LINE(PQerrorMessage(db->conn)));
		db_disconnect(db);
		db_fail(db, DB_ERR_LOST);
		return DB_UNAVAILABLE;
	}
	return wait_result(db, a, out);
}

enum db_status
db_exec(struct db *db, struct arena *a, const char *sql, PGresult **out)
{
	enum db_status st;

	*out = NULL;
	if ((st = db_ready(db)) != DB_OK)
		return st;
	if (!PQsendQuery(db->conn, sql)) {
		db_disconnect(db);
		db_fail(db, DB_ERR_LOST);
		return DB_UNAVAILABLE;
	}
	return wait_result(db, a, out);
}

const char *
db_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

PGconn *
db_conn(struct db *db)
{
	return db->conn;
}

enum db_status
db_begin(struct db *db, struct arena *a)
{
	PGresult *res;

	return db_exec(db, a, "BEGIN", &res);
}

enum db_status
db_commit(struct db *db, struct arena *a)
{
	PGresult *res;

	return db_exec(db, a, "COMMIT", &res);
}

bool
db_in_transaction(struct db *db)
{
	return db != NULL && db->conn != NULL &&
	    PQtransactionStatus(db->conn) != PQTRANS_IDLE &&
	    PQtransactionStatus(db->conn) != PQTRANS_UNKNOWN;
}

/* Safe to call in any state: does nothing outside a transaction. */
void
db_rollback(struct db *db, struct arena *a)
{
	PGresult *res;

	if (!db_in_transaction(db))
		return;
	if (db_exec(db, a, "ROLLBACK", &res) != DB_OK)
		db_disconnect(db);
}

unsigned
db_generation(struct db *db)
{
	return db->generation;
}
