/* API tokens: created with their secret shown once, listed, revoked. */
#include "config.h"

#include <string.h>

#include "audit.h"
#include "auth.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "query.h"
#include "server.h"

#define TOKEN_COLUMNS \
	"id, name, scope, created_at, expires_at, last_used_at, revoked_at"

static const struct db_stmt q_tokens = {
	"tokens_list",
	"SELECT " TOKEN_COLUMNS " FROM api_tokens WHERE user_id = $1"
	" ORDER BY created_at DESC LIMIT 200", 1
};

static const struct db_stmt q_token_create = {
	"token_create",
	"INSERT INTO api_tokens (user_id, name, hash, scope, expires_at)"
	" VALUES ($1, $2, $3, $4, CASE WHEN $5::int IS NULL THEN NULL"
	" ELSE now() + make_interval(days => $5::int) END)"
	" RETURNING " TOKEN_COLUMNS, 5
};

static const struct db_stmt q_token_revoke = {
	"token_revoke",
	"UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
	" WHERE id = $1 AND (user_id = $2 OR $3) RETURNING user_id", 3
};

void
h_tokens_list(struct request *req, struct response *resp)
{
	PGresult *res = NULL;

	if (!q_do(req, resp, &q_tokens, &res, req->caller.user_id))
		return;
	q_items_answer(req, resp, res);
}

void
h_tokens_create(struct request *req, struct response *resp)
{
	const char *name = in_str(req, "name"), *scope = in_str(req, "scope");
	const char *days = NULL;
	struct json_object *o, *d;
	PGresult *res = NULL;
	long n;
	char *secret;

	if (in_num(req, "expires_in_days", &n))
		days = arena_printf(req->arena, "%ld", n);
	secret = arena_printf(req->arena, API_TOKEN_PREFIX "%s",
	    auth_random_token(req->arena, 32));
	if (!q_open(req, resp) || !q_do(req, resp, &q_token_create, &res,
	    req->caller.user_id, name, auth_hash_hex(req->arena, secret), scope,
	    days))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	json_object_object_add(o, "token", json_object_new_string(secret));
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "name", json_object_new_string(name));
	json_object_object_add(d, "scope", json_object_new_string(scope));
	audit_done(req, resp, 201, o, "token.create", "api_token",
	    PQgetvalue(res, 0, 0), d);
}

void
h_token_delete(struct request *req, struct response *resp)
{
	const char *id = req->params[0];
	PGresult *res = NULL;

	if (!in_uuid(id)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_token_revoke, &res, id,
	    req->caller.user_id, strcmp(req->caller.role,
	    "admin") == 0 ? "true" : "false"))
		return;
	if (PQntuples(res) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	audit_commit_204(req, resp, "token.revoke", "api_token", id);
}
