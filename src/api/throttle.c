/* Rate limits shared by every host, in PostgreSQL (throttle.h). */
#include "config.h"

#include <stdlib.h>

#include "log.h"
#include "query.h"
#include "ratelimit.h"
#include "throttle.h"
#include "util.h"

static const struct db_stmt q_throttle_hit = {
	"throttle_hit",
	"WITH hit AS (" THROTTLE_HIT("$1::text", "", "$2::int", "$3::int") ")"
	" SELECT EXISTS (SELECT 1 FROM hit), "
	THROTTLE_WAIT("$1::text", "$3::int"), 3
};

/* A lease: a sixteenth of what is left of the window (at least one). */
#define EXPIRED	"r.started_at + make_interval(secs => $3::int) <= now()"
static const struct db_stmt q_throttle_lease = {
	"throttle_lease",
	"WITH hit AS (INSERT INTO rate_windows AS r (key, started_at, count,"
	"  granted) VALUES (md5($1), now(), greatest(1, $2::int / 16),"
	"  greatest(1, $2::int / 16))"
	" ON CONFLICT (key) DO UPDATE SET"
	"  started_at = CASE WHEN " EXPIRED " THEN now() ELSE r.started_at END,"
	"  count = CASE WHEN " EXPIRED " THEN greatest(1, $2::int / 16)"
	"   ELSE r.count + greatest(1, ($2::int - r.count) / 16) END,"
	"  granted = CASE WHEN " EXPIRED " THEN greatest(1, $2::int / 16)"
	"   ELSE greatest(1, ($2::int - r.count) / 16) END"
	" WHERE r.count < $2::int OR " EXPIRED
	" RETURNING granted, greatest(1, ceil(extract(epoch FROM started_at"
	"  + make_interval(secs => $3::int) - now())))::bigint AS left_s)"
	" SELECT coalesce((SELECT granted FROM hit), 0), coalesce((SELECT"
	"  left_s FROM hit), " THROTTLE_WAIT("$1::text", "$3::int") ")", 3
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
	if (!q_bool(res, 0, 0)) {
		*ok = false;
		if ((*retry_after = atol(PQgetvalue(res, 0, 1))) < 1)
			*retry_after = 1;
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

enum db_status
throttle_take(struct request *req, const char *key, long limit, long window,
    bool *ok, long *retry_after)
{
	enum db_status st;
	PGresult *res = NULL;
	int64_t now = now_ms() / 1000;
	long granted, left;

	*ok = true;
	*retry_after = 0;
	if (ratelimit_lease_take(key, now))
		return DB_OK;
	if ((st = q_run(req, &q_throttle_lease, &res, key, num(req, limit),
	    num(req, window))) != DB_OK)
		return st;
	granted = atol(PQgetvalue(res, 0, 0));
	left = atol(PQgetvalue(res, 0, 1));
	if (granted <= 0) {
		*ok = false;
		*retry_after = left < 1 ? 1 : left;
		return DB_OK;
	}
	/* One unit is this request's; the rest wait in this host's lease. */
	ratelimit_lease_add(key, now + left, granted - 1, now);
	return DB_OK;
}

void
throttle_clear(struct request *req, const char *key)
{
	PGresult *res = NULL;

	if (q_run(req, &q_throttle_clear, &res, key) != DB_OK)
		log_warnx("could not clear a rate-limit window");
}
