/* Rate limits shared by every host, in PostgreSQL (throttle.h). */
#include "config.h"

#include <stdlib.h>

#include "throttle.h"
#include "log.h"
#include "query.h"

static const struct db_stmt q_throttle_hit = {
	"throttle_hit", THROTTLE_HIT("$1::text", "", "$2::int", "$3::int"), 3
};

static const struct db_stmt q_throttle_check = {
	"throttle_check",
	"SELECT count, greatest(1, ceil(extract(epoch FROM started_at"
	" + make_interval(secs => $2::int) - now())))::bigint"
	" FROM rate_windows WHERE key = md5($1)"
	" AND started_at + make_interval(secs => $2::int) > now()", 2
};

static const struct db_stmt q_throttle_clear = {
	"throttle_clear", "DELETE FROM rate_windows WHERE key = md5($1)", 1
};

static const char *
num(struct request *req, long n)
{
	return arena_printf(req->arena, "%ld", n);
}

enum db_status
throttle_hit(struct request *req, const char *key, long limit, long window,
    bool *ok, long *retry_after)
{
	enum db_status st;
	PGresult *res = NULL;

	*ok = true;
	*retry_after = 0;
	if ((st = q_run(req, &q_throttle_hit, &res, key, num(req, limit),
	    num(req, window))) != DB_OK)
		return st;
	if (atol(PQgetvalue(res, 0, 0)) > limit) {
		*ok = false;
		*retry_after = atol(PQgetvalue(res, 0, 1));
	}
	return DB_OK;
}

enum db_status
throttle_check(struct request *req, const char *key, long limit, long window,
    bool *ok, long *retry_after)
{
	enum db_status st;
	PGresult *res = NULL;

	*ok = true;
	*retry_after = 0;
	if ((st = q_run(req, &q_throttle_check, &res, key, num(req, window)))
	    != DB_OK)
		return st;
	if (PQntuples(res) == 1 && atol(PQgetvalue(res, 0, 0)) >= limit) {
		*ok = false;
		*retry_after = atol(PQgetvalue(res, 0, 1));
	}
	return DB_OK;
}

void
throttle_clear(struct request *req, const char *key)
{
	PGresult *res = NULL;

	if (q_run(req, &q_throttle_clear, &res, key) != DB_OK)
		log_warnx("could not clear a rate-limit window");
}
