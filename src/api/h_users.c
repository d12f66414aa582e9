/* The signed-in user, and users as admins manage them. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "query.h"
#include "server.h"

#define USER_COLUMNS \
	"id, username, email, display_name, role, disabled," \
	" password_hash IS NOT NULL AS has_password, created_at, updated_at"

static const struct db_stmt q_user_get = {
	"user_get", "SELECT " USER_COLUMNS " FROM users WHERE id = $1", 1
};

static const struct db_stmt q_user_orgs = {
	"user_orgs",
	"SELECT o.id, o.name, o.display_name, m.role FROM memberships m"
	" JOIN organizations o ON o.id = m.org_id WHERE m.user_id = $1"
	" ORDER BY o.name", 1
};

static const struct db_stmt q_user_list = {
	"user_list",
	"SELECT " USER_COLUMNS " FROM users WHERE ($1::text IS NULL OR"
	" username > $1) AND id <> '" POOL_OWNER "'"
	" ORDER BY username LIMIT $2", 2
};

static const struct db_stmt q_user_create = {
	"user_create",
	"INSERT INTO users (username, email, display_name, password_hash, role)"
	" VALUES (lower($1), lower($2), coalesce($3, ''), $4,"
	" coalesce($5, 'member')) RETURNING " USER_COLUMNS, 5
};

/* NULL parameters leave a column as it is. */
static const struct db_stmt q_user_update = {
	"user_update",
	"UPDATE users SET email = CASE WHEN $2 THEN lower($3) ELSE email END,"
	" display_name = coalesce($4, display_name),"
	" password_hash = coalesce($5, password_hash),"
	" role = coalesce($6, role), disabled = coalesce($7::boolean, disabled),"
	" valid_after = CASE WHEN $7::boolean THEN now() ELSE valid_after END,"
	" updated_at = now() WHERE id = $1 RETURNING " USER_COLUMNS, 7
};

static const struct db_stmt q_user_lock = {
	"user_lock",
	"SELECT role, disabled, password_hash,"
	" (SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled)"
	" FROM users WHERE id = $1 FOR UPDATE", 1
};

/* Taken before changing an admin: two demotions cannot both pass. */
static const struct db_stmt q_lock_admins = {
	"user_lock_admins",
	"SELECT id FROM users WHERE role = 'admin' AND NOT disabled"
	" ORDER BY id FOR UPDATE", 0
};

static const struct db_stmt q_user_delete = {
	"user_delete", "DELETE FROM users WHERE id = $1", 1
};

static const struct db_stmt q_user_revoke_sessions = {
	"user_revoke_sessions",
	"UPDATE sessions SET revoked_at = now(), revoke_reason = $2"
	" WHERE user_id = $1 AND revoked_at IS NULL", 2
};

static const struct db_stmt q_my_sessions = {
	"my_sessions",
	"SELECT id, created_at, last_seen_at, expires_at, source_addr,"
	" user_agent, id = $2::uuid AS current FROM sessions"
	" WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()"
	" ORDER BY last_seen_at DESC LIMIT 200", 2
};

static const struct db_stmt q_my_session_revoke = {
	"my_session_revoke",
	"UPDATE sessions SET revoked_at = now(), revoke_reason = 'revoked by user'"
	" WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL", 2
};

static bool
is_admin(struct request *req)
{
	return strcmp(req->caller.role, "admin") == 0;
}

static bool
username_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63 || !(islower((unsigned char)s[0]) ||
	    isdigit((unsigned char)s[0])))
		return false;
	for (i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && strchr("._-", s[i]) == NULL)
			return false;
	return true;
}

static bool
email_valid(const char *s)
{
	const char *at = strchr(s, '@');

	return at != NULL && at != s && strchr(at + 1, '@') == NULL &&
	    strchr(at + 1, '.') != NULL && strpbrk(s, " <>\"'") == NULL;
}

/* One user, with organizations, or a 404 that says nothing more. */
static void
answer_user(struct request *req, struct response *resp, const char *id,
    int status)
{
	struct json_object *o;
	PGresult *res = NULL;

	if (!q_do(req, resp, &q_user_get, &res, id))
		return;
	if (PQntuples(res) == 0) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	o = json_own(req->arena, q_row_json(req, res, 0));
	if (!q_do(req, resp, &q_user_orgs, &res, id))
		return;
	json_object_object_add(o, "organizations",
	    json_object_get(q_rows_json(req, res)));
	resp_json(req, resp, status, o);
}

/* Answered from what authentication read: no further query. */
void
h_me(struct request *req, struct response *resp)
{
	const struct caller *c = &req->caller;
	const char *text;
	struct jw w;
	size_t len;

	jw_init(&w, req->arena, 512);
	jw_open(&w, '{');
	jw_key(&w, "id");
	jw_string(&w, c->user_id);
	jw_key(&w, "username");
	jw_string(&w, c->username);
	jw_key(&w, "email");
	jw_string(&w, c->email[0] ? c->email : NULL);
	jw_key(&w, "display_name");
	jw_string(&w, c->display_name);
	jw_key(&w, "role");
	jw_string(&w, c->role);
	jw_key(&w, "auth");
	jw_string(&w, c->via == AUTH_API_TOKEN ? "api_token" :
	    c->via == AUTH_COOKIE ? "cookie" : "bearer");
	if (c->via == AUTH_API_TOKEN) {
		jw_key(&w, "token_scope");
		jw_string(&w, auth_scopes[c->scope]);
	} else {
		jw_key(&w, "session_id");
		jw_string(&w, c->session_id);
	}
	jw_close(&w, '}');
	text = jw_text(&w, &len);
	resp_text(resp, 200, "application/json", text, len);
}

/* Admins see everyone; others only themselves (404 for the rest). */
static const char *
visible_user(struct request *req, struct response *resp)
{
	const char *id = req->params[0];

	if (!in_uuid(id) || (!is_admin(req) &&
	    strcmp(id, req->caller.user_id) != 0)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	return id;
}

void
h_user_get(struct request *req, struct response *resp)
{
	const char *id = visible_user(req, resp);

	if (id != NULL)
		answer_user(req, resp, id, 200);
}

void
h_users_list(struct request *req, struct response *resp)
{
	struct json_object *o, *items;
	const char *cursor;
	PGresult *res = NULL;
	long limit;
	int n;

	if (!in_page(req, resp, &limit, &cursor))
		return;
	if (!q_do(req, resp, &q_user_list, &res, cursor,
	    arena_printf(req->arena, "%ld", limit)))
		return;
	o = json_own(req->arena, json_object_new_object());
	items = q_rows_json(req, res);
	json_object_object_add(o, "items", json_object_get(items));
	n = PQntuples(res);
	json_object_object_add(o, "next_cursor", n == limit ?
	    json_object_new_string(PQgetvalue(res, n - 1, 1)) : NULL);
	resp_json(req, resp, 200, o);
}

static bool
read_password(struct request *req, struct response *resp, const char *pw,
    char **hash)
{
	*hash = NULL;
	if (pw == NULL)
		return true;
	if (auth_password_hash(req, pw, hash) == -1) {
		problem(req, resp, PROBLEM_BUSY, "too many password changes "
		    "at once");
		resp_header(resp, "Retry-After", "1");
		return false;
	}
	return true;
}

void
h_users_create(struct request *req, struct response *resp)
{
	const char *username = in_str(req, "username");
	const char *email = in_str(req, "email"), *pw = in_str(req, "password");
	const char *dname = in_str(req, "display_name");
	const char *role = in_str(req, "role");
	struct json_object *o;
	PGresult *res = NULL;
	char *hash;

	if (!username_valid(username)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "username must be "
		    "lower-case letters, digits, '.', '_' or '-'");
		return;
	}
	if (email != NULL && !email_valid(email)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "email is not valid");
		return;
	}
	if (!read_password(req, resp, pw, &hash))
		return;
	if (!q_open(req, resp) || !q_do(req, resp, &q_user_create, &res,
	    username, email, dname, hash, role))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	if (!audit_do(req, resp, "user.create", "user", PQgetvalue(res, 0, 0),
	    NULL) || !q_close(req, resp))
		return;
	resp_json(req, resp, 201, o);
}

/* Admin changes to role or disabled must leave an enabled admin. */
static bool
keeps_an_admin(PGresult *lock, const char *role, bool disabling)
{
	bool was_admin = strcmp(PQgetvalue(lock, 0, 0), "admin") == 0 &&
	    !q_bool(lock, 0, 1);
	bool stays = (role == NULL || strcmp(role, "admin") == 0) && !disabling;

	return !was_admin || stays || strcmp(PQgetvalue(lock, 0, 3), "1") != 0;
}

void
h_user_patch(struct request *req, struct response *resp)
{
	const char *id, *email = in_str(req, "email"), *dis = NULL;
	const char *dname = in_str(req, "display_name");
	const char *pw = in_str(req, "password");
	const char *cur = in_str(req, "current_password");
	const char *role = in_str(req, "role");
	bool disabled = false, has_dis, self, ok;
	struct json_object *d;
	enum db_status st;
	PGresult *lock = NULL, *res = NULL;
	char *hash = NULL;

	if ((id = visible_user(req, resp)) == NULL)
		return;
	self = strcmp(id, req->caller.user_id) == 0;
	has_dis = in_flag(req, "disabled", &disabled);
	if (!is_admin(req) && (role != NULL || has_dis || email != NULL)) {
		problem(req, resp, PROBLEM_FORBIDDEN, "only admins change "
		    "roles, e-mail addresses and disabled accounts");
		return;
	}
	if (email != NULL && !email_valid(email)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "email is not valid");
		return;
	}
	if (has_dis)
		dis = disabled ? "true" : "false";
	if (!q_open(req, resp) || !q_do(req, resp, &q_lock_admins, &res)
	    || !q_do(req, resp, &q_user_lock, &lock, id))
		return;
	if (PQntuples(lock) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (is_admin(req) && !keeps_an_admin(lock, role, has_dis && disabled)) {
		q_rollback(req);
		problem(req, resp, PROBLEM_CONFLICT, "the last admin cannot be "
		    "demoted or disabled");
		return;
	}
	/* Users changing their own password prove they know the old one. */
	if (pw != NULL && self && q_get(lock, 0, 2) != NULL) {
		if (cur == NULL) {
			q_rollback(req);
			problem(req, resp, PROBLEM_INVALID_INPUT,
			    "current_password is required");
			return;
		}
		if (auth_password_verify(req, q_get(lock, 0, 2), cur,
		    &ok) == -1 || !ok) {
			q_rollback(req);
			problem(req, resp, PROBLEM_FORBIDDEN,
			    "current_password is wrong");
			return;
		}
	}
	if (!read_password(req, resp, pw, &hash)) {
		q_rollback(req);
		return;
	}
	if (!q_do(req, resp, &q_user_update, &res, id, email ? "true" : "false",
	    email, dname, hash, role, dis))
		return;
	d = json_own(req->arena, json_object_new_object());
	if (role != NULL)
		json_object_object_add(d, "role", json_object_new_string(role));
	if (has_dis)
		json_object_object_add(d, "disabled",
		    json_object_new_boolean(disabled));
	if (pw != NULL)
		json_object_object_add(d, "password_changed",
		    json_object_new_boolean(true));
	if ((has_dis && disabled && (st = q_run(req, &q_user_revoke_sessions,
	    &res, id, "user disabled")) != DB_OK) ||
	    (st = audit(req, role != NULL ? "user.role_change" : has_dis ?
	    (disabled ? "user.disable" : "user.enable") : "user.update",
	    "user", id, AUDIT_SUCCESS, d)) != DB_OK ||
	    (st = q_commit(req)) != DB_OK) {
		q_fail(req, resp, st, NULL);
		return;
	}
	answer_user(req, resp, id, 200);
}

void
h_user_delete(struct request *req, struct response *resp)
{
	const char *id = req->params[0];
	PGresult *lock = NULL, *res = NULL;

	if (!in_uuid(id)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (strcmp(id, req->caller.user_id) == 0) {
		problem(req, resp, PROBLEM_CONFLICT, "you cannot delete "
		    "yourself");
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_lock_admins, &res)
	    || !q_do(req, resp, &q_user_lock, &lock, id))
		return;
	if (PQntuples(lock) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!keeps_an_admin(lock, "member", true)) {
		q_rollback(req);
		problem(req, resp, PROBLEM_CONFLICT, "the last admin cannot be "
		    "deleted");
		return;
	}
	if (!q_do(req, resp, &q_user_delete, &res, id) || !audit_do(req, resp,
	    "user.delete", "user", id, NULL) || !q_close(req, resp))
		return;
	resp_text(resp, 204, NULL, "", 0);
}

void
h_my_sessions(struct request *req, struct response *resp)
{
	PGresult *res = NULL;

	if (!q_do(req, resp, &q_my_sessions, &res, req->caller.user_id,
	    req->caller.session_id[0] ? req->caller.session_id : NULL))
		return;
	q_items_answer(req, resp, res);
}

void
h_my_session_delete(struct request *req, struct response *resp)
{
	const char *id = req->params[0];
	PGresult *res = NULL;

	if (!in_uuid(id)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_my_session_revoke, &res,
	    id, req->caller.user_id))
		return;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	audit_commit_204(req, resp, "auth.session_revoke", "session", id);
}
