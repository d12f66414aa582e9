/* Reading the audit log: filters and keyset pagination, never changes. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "query.h"
#include "server.h"

static const struct db_stmt q_audit_list = {
	"audit_list",
	"SELECT id, at, actor_id, actor_name, action, target_type, target_id,"
	" source_addr, result, details, request_id FROM audit_log"
	" WHERE ($1::uuid IS NULL OR actor_id = $1::uuid)"
	" AND ($2::text IS NULL OR action = $2 OR (right($2, 1) = '*'"
	"  AND starts_with(action, left($2, -1))))"
	" AND ($3::text IS NULL OR target_id = $3)"
	" AND ($4::timestamptz IS NULL OR at >= $4::timestamptz)"
	" AND ($5::timestamptz IS NULL OR at < $5::timestamptz)"
	" AND ($6::bigint IS NULL OR id < $6::bigint)"
	" ORDER BY id DESC LIMIT $7", 7
};

static bool
is_digits(const char *s)
{
	return s[0] != '\0' && strspn(s, "0123456789") == strlen(s) &&
	    strlen(s) < 19;
}

/* RFC 3339 only: digits, '-', ':', 'T', 'Z', '.', '+'. */
static bool
is_time(const char *s)
{
	return strlen(s) >= 10 && strlen(s) <= 40 && s[4] == '-' &&
	    strspn(s, "0123456789-:TZ.+") == strlen(s);
}

void
h_audit_list(struct request *req, struct response *resp)
{
	const char *actor = query_param(req, "actor");
	const char *action = query_param(req, "action");
	const char *target = query_param(req, "target");
	const char *since = query_param(req, "since");
	const char *until = query_param(req, "until");
	const char *cursor;
	PGresult *res = NULL;
	long limit;

	if (!in_page(req, resp, &limit, &cursor))
		return;
	if ((since && !is_time(since)) || (until && !is_time(until)) ||
	    (cursor && !is_digits(cursor))) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "since and until must "
		    "be RFC 3339 times, cursor as returned");
		return;
	}
	if (target != NULL)
		target = uuid_canonical(req->arena, target);
	if (!q_do(req, resp, &q_audit_list, &res, actor, action, target, since,
	    until, cursor, arena_printf(req->arena, "%ld", limit)))
		return;
	q_page_answer(req, resp, res, limit, 0);
}
