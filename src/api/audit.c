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

bool
audit_do(struct request *req, struct response *resp, const char *action,
    const char *target_type, const char *target_id,
    struct json_object *details)
{
	enum db_status st;

	if ((st = audit(req, action, target_type, target_id, AUDIT_SUCCESS,
	    details)) == DB_OK)
		return true;
	q_fail(req, resp, st, NULL);
	return false;
}

void
audit_done(struct request *req, struct response *resp, int status,
    struct json_object *body, const char *action, const char *target_type,
    const char *target_id, struct json_object *details)
{
	if ((action != NULL && !audit_do(req, resp, action, target_type,
	    target_id, details)) || !q_close(req, resp))
		return;
	if (body != NULL)
		resp_json(req, resp, status, body);
	else
		resp_text(resp, status, NULL, "", 0);
}

void
audit_commit_row(struct request *req, struct response *resp, int status,
    PGresult *res, const char *action, const char *target_type)
{
	audit_done(req, resp, status, json_own(req->arena,
	    q_row_json(req, res, 0)), action, target_type,
	    PQgetvalue(res, 0, 0), NULL);
}

void
audit_commit_204(struct request *req, struct response *resp,
    const char *action, const char *target_type, const char *target_id)
{
	audit_done(req, resp, 204, NULL, action, target_type, target_id,
	    NULL);
}
