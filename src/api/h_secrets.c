/* Secrets: values go in encrypted and never come out through the API. */
#include "config.h"

#include <string.h>

#include "audit.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "log.h"
#include "problem.h"
#include "query.h"
#include "secretbox.h"
#include "server.h"
#include "spec.h"

#define META "s.id, s.scope, s.owner_id, s.name, s.created_at, s.updated_at"

static const struct db_stmt q_list = {
	"secrets_list",
	"SELECT " META " FROM secrets s WHERE (s.scope = 'user'"
	" AND s.owner_id = $1) OR (s.scope = 'org' AND s.owner_id IN"
	" (SELECT org_id FROM memberships WHERE user_id = $1))"
	" ORDER BY s.scope, s.name LIMIT 500", 1
};

static const struct db_stmt q_org_role = {
	"secrets_org_role",
	"SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2", 2
};

static const struct db_stmt q_create = {
	"secrets_create",
	"INSERT INTO secrets (scope, owner_id, name, nonce, ciphertext,"
	" created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, scope,"
	" owner_id, name, created_at, updated_at", 6
};

static const struct db_stmt q_secret = {
	"secrets_get", "SELECT " META " FROM secrets s WHERE s.id = $1", 1
};

static const struct db_stmt q_update = {
	"secrets_update",
	"UPDATE secrets s SET nonce = $2, ciphertext = $3, updated_at = now()"
	" WHERE s.id = $1 RETURNING " META, 3
};

static const struct db_stmt q_delete = {
	"secrets_delete", "DELETE FROM secrets WHERE id = $1", 1
};

bool
secrets_key_ready(struct request *req, struct response *resp,
    const char *what)
{
	if (req->srv->has_secret_key)
		return true;
	problem(req, resp, PROBLEM_NOT_READY, arena_printf(req->arena, "%s "
	    "are not set up on this server: run warrenctl keys init", what));
	return false;
}

static bool
have_key(struct request *req, struct response *resp)
{
	return secrets_key_ready(req, resp, "secrets");
}

/* May the caller manage secrets of this scope and owner? */
static bool
may_manage(struct request *req, struct response *resp, const char *scope,
    const char *owner, bool *found)
{
	PGresult *res = NULL;
	const char *role;

	*found = true;
	if (strcmp(scope, "user") == 0)
		return strcmp(owner, req->caller.user_id) == 0 ||
		    (*found = false);
	if (!q_do(req, resp, &q_org_role, &res, owner, req->caller.user_id))
		return false;
	if (PQntuples(res) == 0) {
		*found = strcmp(req->caller.role, "admin") == 0;
		return *found;
	}
	role = PQgetvalue(res, 0, 0);
	return strcmp(role, "owner") == 0 || strcmp(role, "admin") == 0 ||
	    strcmp(req->caller.role, "admin") == 0;
}

void
h_secrets_list(struct request *req, struct response *resp)
{
	PGresult *res = NULL;

	if (!q_do(req, resp, &q_list, &res, req->caller.user_id))
		return;
	q_items_answer(req, resp, res);
}

void
h_secrets_create(struct request *req, struct response *resp)
{
	const char *name = in_str(req, "name"), *value = in_str(req, "value");
	const char *org = in_str(req, "org_id"), *scope, *owner;
	char *nonce, *cipher;
	struct json_object *o;
	enum db_status st;
	PGresult *res = NULL;
	bool found;

	if (!have_key(req, resp))
		return;
	if (!spec_env_name_valid(name)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "name must be letters, "
		    "digits and _ (an environment variable name)");
		return;
	}
	scope = org ? "org" : "user";
	owner = org ? org : req->caller.user_id;
	if (!may_manage(req, resp, scope, owner, &found)) {
		if (resp->status == 0)
			problem(req, resp, found ? PROBLEM_FORBIDDEN :
			    PROBLEM_NOT_FOUND, found ? "only owners and admins "
			    "of the organization manage its secrets" : NULL);
		return;
	}
	secretbox_seal(req->arena, req->srv->secret_key, value, strlen(value),
	    &nonce, &cipher);
	if ((st = q_begin(req)) != DB_OK ||
	    (st = q_run(req, &q_create, &res, scope, owner, name, nonce, cipher,
	    req->caller.user_id)) != DB_OK) {
		if (st == DB_ERROR && strcmp(db_sqlstate(res), "23505") == 0) {
			q_rollback(req);
			problem(req, resp, PROBLEM_CONFLICT, "a secret with this "
			    "name exists");
			return;
		}
		q_fail(req, resp, st, res);
		return;
	}
	o = json_own(req->arena, q_row_json(req, res, 0));
	if (!audit_do(req, resp, "secret.create", "secret", PQgetvalue(res, 0,
	    0), NULL) || !q_close(req, resp))
		return;
	resp_json(req, resp, 201, o);
}

static PGresult *
secret_for(struct request *req, struct response *resp)
{
	PGresult *res = NULL;
	bool found;

	if (!in_uuid(req->params[0])) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	if (!q_do(req, resp, &q_secret, &res, req->params[0]))
		return NULL;
	if (PQntuples(res) == 0) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	if (!may_manage(req, resp, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
	    &found)) {
		if (resp->status == 0)
			problem(req, resp, found ? PROBLEM_FORBIDDEN :
			    PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	return res;
}

void
h_secret_put(struct request *req, struct response *resp)
{
	const char *value = in_str(req, "value");
	char *nonce, *cipher;
	struct json_object *o;
	PGresult *res = NULL;

	if (!have_key(req, resp) || secret_for(req, resp) == NULL)
		return;
	secretbox_seal(req->arena, req->srv->secret_key, value, strlen(value),
	    &nonce, &cipher);
	if (!q_open(req, resp) || !q_do(req, resp, &q_update, &res,
	    req->params[0], nonce, cipher))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	if (!audit_do(req, resp, "secret.update", "secret", req->params[0],
	    NULL) || !q_close(req, resp))
		return;
	resp_json(req, resp, 200, o);
}

void
h_secret_delete(struct request *req, struct response *resp)
{
	PGresult *res = NULL;

	if (secret_for(req, resp) == NULL)
		return;
	if (!q_open(req, resp) || !q_do(req, resp, &q_delete, &res,
	    req->params[0]) || !audit_do(req, resp, "secret.delete", "secret",
	    req->params[0], NULL) || !q_close(req, resp))
		return;
	resp_text(resp, 204, NULL, "", 0);
}
