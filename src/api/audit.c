#include "config.h"

#include "audit.h"
#include "auth.h"
#include "input.h"
#include "json.h"
#include "query.h"

static const struct db_stmt q_audit = {
	"audit_insert",
	"INSERT INTO audit_log (actor_id, actor_name, action, target_type,"
	" target_id, source_addr, result, details, request_id)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)", 9
};

static const char *const results[] = { "success", "failure", "denied" };

enum db_status
audit_as(struct request *req, const char *actor_id, const char *actor_name,
    const char *action, const char *target_type, const char *target_id,
    enum audit_result result, struct json_object *details)
{
	PGresult *res = NULL;
	size_t len;

	/* Ids as one form only, so that a filter finds them all. */
	return q_run(req, &q_audit, &res, actor_id, actor_name, action,
	    target_type, target_id ? uuid_canonical(req->arena, target_id) :
	    NULL, auth_client_addr(req), results[result],
	    details ? json_text(details, &len) : "{}", req->request_id);
}

enum db_status
audit(struct request *req, const char *action, const char *target_type,
    const char *target_id, enum audit_result result,
    struct json_object *details)
{
	const struct caller *c = &req->caller;

	return audit_as(req, c->via != AUTH_NONE ? c->user_id : NULL,
	    c->via != AUTH_NONE ? c->username : NULL, action, target_type,
	    target_id, result, details);
}

void
audit_commit_row(struct request *req, struct response *resp, int status,
    PGresult *res, const char *action, const char *target_type)
{
	struct json_object *o = json_own(req->arena, q_row_json(req, res, 0));
	enum db_status st;

	if ((st = audit(req, action, target_type, PQgetvalue(res, 0, 0),
	    AUDIT_SUCCESS, NULL)) != DB_OK || (st = q_commit(req)) != DB_OK) {
		q_fail(req, resp, st, NULL);
		return;
	}
	resp_json(req, resp, status, o);
}

void
audit_commit_204(struct request *req, struct response *resp,
    const char *action, const char *target_type, const char *target_id)
{
	enum db_status st;

	if ((st = audit(req, action, target_type, target_id, AUDIT_SUCCESS,
	    NULL)) != DB_OK || (st = q_commit(req)) != DB_OK) {
		q_fail(req, resp, st, NULL);
		return;
	}
	resp_text(resp, 204, NULL, "", 0);
}
