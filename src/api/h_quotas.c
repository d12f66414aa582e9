/* Quotas per user and per organization, set by admins. */
#include "config.h"

#include <string.h>

#include "audit.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "query.h"
#include "server.h"

#define LIMITS "max_workspaces, max_running, max_cpu_millis, max_memory_mb"

static const struct db_stmt q_quota_get = {
	"quota_get",
	"SELECT $1::text AS scope, $2::uuid AS subject_id, " LIMITS
	" FROM (SELECT 1) x LEFT JOIN quotas q ON q.scope = $1"
	" AND q.subject_id = $2", 2
};

static const struct db_stmt q_subject = {
	"quota_subject",
	"SELECT 1 FROM users WHERE $1 = 'user' AND id = $2 UNION ALL"
	" SELECT 1 FROM organizations WHERE $1 = 'org' AND id = $2", 2
};

static const struct db_stmt q_quota_put = {
	"quota_put",
	"INSERT INTO quotas (scope, subject_id, " LIMITS ") VALUES ($1, $2,"
	" $3, $4, $5, $6) ON CONFLICT (scope, subject_id) DO UPDATE SET"
	" max_workspaces = EXCLUDED.max_workspaces,"
	" max_running = EXCLUDED.max_running,"
	" max_cpu_millis = EXCLUDED.max_cpu_millis,"
	" max_memory_mb = EXCLUDED.max_memory_mb, updated_at = now()"
	" RETURNING scope, subject_id, " LIMITS ", updated_at", 6
};

static const char *
scope_of(struct request *req)
{
	if (strcmp(req->params[0], "users") == 0)
		return "user";
	if (strcmp(req->params[0], "orgs") == 0)
		return "org";
	return NULL;
}

static bool
subject_exists(struct request *req, struct response *resp,
    const char *scope)
{
	PGresult *res = NULL;

	if (scope == NULL || !in_uuid(req->params[1])) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return false;
	}
	if (!q_do(req, resp, &q_subject, &res, scope, req->params[1]))
		return false;
	if (PQntuples(res) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return false;
	}
	return true;
}

void
h_quota_get(struct request *req, struct response *resp)
{
	const char *scope = scope_of(req);
	PGresult *res = NULL;

	if (!subject_exists(req, resp, scope))
		return;
	if (!q_do(req, resp, &q_quota_get, &res, scope, req->params[1]))
		return;
	resp_json(req, resp, 200, json_own(req->arena, q_row_json(req, res, 0)));
}

/* Each limit: a number, or null (or absent) for none. */
static const char *
limit(struct request *req, const char *key)
{
	long n;

	return in_num(req, key, &n) ? arena_printf(req->arena, "%ld", n) :
	    NULL;
}

void
h_quota_put(struct request *req, struct response *resp)
{
	const char *scope = scope_of(req);
	struct json_object *o;
	PGresult *res = NULL;

	if (!q_open(req, resp))
		return;
	if (!subject_exists(req, resp, scope))
		return;
	if (!q_do(req, resp, &q_quota_put, &res, scope, req->params[1],
	    limit(req, "max_workspaces"), limit(req, "max_running"),
	    limit(req, "max_cpu_millis"), limit(req, "max_memory_mb")))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	if (!audit_do(req, resp, "quota.set", scope, req->params[1],
	    json_own(req->arena, json_object_get(req->body))) || !q_close(req,
	    resp))
		return;
	resp_json(req, resp, 200, o);
}
