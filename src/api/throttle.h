/*
 * Rate limits shared by every warren-api host of an installation: windows
 * in PostgreSQL (rate_windows, sql/0018_rate_windows.sql), so that a
 * budget of N is N whichever host answers.  A window starts at its first
 * event and lasts window seconds; a hit beyond the limit is refused with
 * the seconds left.  What stays per host is in ratelimit.h (places for
 * password hashes and log followers, which are the host's own resources).
 */
#ifndef WARREN_THROTTLE_H
#define WARREN_THROTTLE_H

#include "db.h"
#include "http.h"

/*
 * The statement's part that counts one event against the window of key
 * (SQL text giving the key's name; from, a FROM clause it is read from,
 * or ""), with limit and window the SQL texts of their values: an upsert
 * into rate_windows AS r that returns a row when the event was counted,
 * and none (writing nothing) when the window is at its limit.  For
 * statements that count in the same round trip as they read.
 */
#define THROTTLE_HIT(key, from, limit, window)				\
	"INSERT INTO rate_windows AS r (key, started_at, count)"	\
	" SELECT md5(" key "), now(), 1" from				\
	" ON CONFLICT (key) DO UPDATE SET started_at = CASE WHEN"	\
	"  r.started_at + make_interval(secs => " window ") <= now()"	\
	"  THEN now() ELSE r.started_at END, count = CASE WHEN"		\
	"  r.started_at + make_interval(secs => " window ") <= now()"	\
	"  THEN 1 ELSE r.count + 1 END"					\
	" WHERE r.count < " limit " OR r.started_at + make_interval("	\
	"  secs => " window ") <= now() RETURNING 1"
/* The seconds left in key's window (at least 1), as the statement began. */
#define THROTTLE_WAIT(key, window)					\
	"(SELECT greatest(1, ceil(extract(epoch FROM started_at"	\
	" + make_interval(secs => " window ") - now())))::bigint"	\
	" FROM rate_windows WHERE key = md5(" key "))"

/*
 * Counts one event; the check alone counts nothing.  DB_OK with *ok, and
 * when not ok the seconds to wait; DB_UNAVAILABLE or DB_ERROR when
 * PostgreSQL could not say.
 */
enum db_status	 throttle_hit(struct request *, const char *key,
		    long limit, long window, bool *ok, long *retry_after);
enum db_status	 throttle_check(struct request *, const char *key,
		    long limit, long window, bool *ok, long *retry_after);
/*
 * For budgets spent at a high rate (API tokens): the same, but each host
 * takes a lease of the window (a sixteenth of what is left, at least one)
 * and spends it from memory (ratelimit.h), so PostgreSQL is asked once a
 * lease.  Never more than limit across hosts; units a host leased and its
 * clients did not use there are lost to the others until the window ends.
 */
enum db_status	 throttle_take(struct request *, const char *key,
		    long limit, long window, bool *ok, long *retry_after);
/* Starts key's window again (a sign-in that succeeded). */
void		 throttle_clear(struct request *, const char *key);

#endif
