/* Sign-in with a password, refresh rotation, sign-out. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "auth.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "log.h"
#include "problem.h"
#include "query.h"
#include "server.h"
#include "throttle.h"

static const struct db_stmt q_login_user = {
	"login_user",
	"SELECT id, username, password_hash, disabled, role FROM users"
	" WHERE username = lower($1) OR email = lower($1)"
	" ORDER BY username = lower($1) DESC LIMIT 1", 1
};

static const struct db_stmt q_refresh_lookup = {
	"refresh_lookup",
	"SELECT rt.session_id, rt.used_at IS NOT NULL, s.user_id,"
	" s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled,"
	" greatest(1, floor(extract(epoch FROM s.expires_at - now())))::bigint,"
	" u.username"
	" FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id"
	" JOIN users u ON u.id = s.user_id"
	" WHERE rt.hash = $1 FOR UPDATE OF rt, s", 1
};

static const struct db_stmt q_refresh_use = {
	"refresh_use",
	"UPDATE refresh_tokens SET used_at = now() WHERE hash = $1", 1
};

static const struct db_stmt q_refresh_add = {
	"refresh_add",
	"WITH s AS (UPDATE sessions SET last_seen_at = now() WHERE id = $2)"
	" INSERT INTO refresh_tokens (hash, session_id) VALUES ($1, $2)", 2
};

static const struct db_stmt q_session_revoke = {
	"session_revoke",
	"UPDATE sessions SET revoked_at = now(), revoke_reason = $2"
	" WHERE id = $1 AND revoked_at IS NULL", 2
};

static const struct db_stmt q_sessions_revoke_user = {
	"sessions_revoke_user",
	"WITH u AS (UPDATE users SET valid_after = now() WHERE id = $1)"
	" UPDATE sessions SET revoked_at = now(), revoke_reason = $2"
	" WHERE user_id = $1 AND revoked_at IS NULL", 2
};

static void
too_many(struct request *req, struct response *resp, long retry)
{
	problem(req, resp, PROBLEM_TOO_MANY_REQUESTS,
	    "too many failed sign-ins: try again later");
	resp_header(resp, "Retry-After", arena_printf(req->arena, "%ld",
	    retry));
}

static struct json_object *
details_username(struct request *req, const char *username,
    const char *reason)
{
	struct json_object *d = json_own(req->arena, json_object_new_object());

	json_object_object_add(d, "username", json_object_new_string(username));
	if (reason != NULL)
		json_object_object_add(d, "reason",
		    json_object_new_string(reason));
	return d;
}

/* Failed sign-in: counted per address and per account-and-address. */
static void
login_failed(struct request *req, struct response *resp, const char *user_id,
    const char *username, const char *reason, const char *kaddr,
    const char *kacct)
{
	struct conf *c = &req->srv->conf;
	long retry;
	bool ok;

	if (throttle_hit(req, kaddr, c->login_failures_per_address,
	    c->login_window, &ok, &retry) != DB_OK ||
	    throttle_hit(req, kacct, c->login_failures_per_account,
	    c->login_window, &ok, &retry) != DB_OK)
		log_warnx("could not count a failed sign-in");
	/* Whoever typed it is not known: no actor; the account is the target. */
	if (audit_as(req, NULL, NULL, "auth.login", "user", user_id,
	    AUDIT_FAILURE, details_username(req, username, reason)) != DB_OK)
		log_warnx("could not audit a failed sign-in");
	problem(req, resp, PROBLEM_INVALID_CREDENTIALS, NULL);
}

void
h_login(struct request *req, struct response *resp)
{
	const char *username = in_str(req, "username");
	const char *password = in_str(req, "password"), *kaddr, *kacct, *uid;
	struct conf *c = &req->srv->conf;
	struct json_object *answer;
	enum db_status st;
	PGresult *res = NULL;
	long retry;
	bool ok;

	if (req->header(req, "HTTP_ORIGIN") != NULL && !auth_origin_ok(req)) {
		problem(req, resp, PROBLEM_CSRF, "sign-in from another origin");
		return;
	}
	if (!q_do(req, resp, &q_login_user, &res, username))
		return;
	kaddr = arena_printf(req->arena, "login-addr:%s", auth_client_addr(req));
	/*
	 * One counter per account, however it was named (any case, or its
	 * e-mail address); per name, in lower case, when there is none.
	 */
	if (PQntuples(res) == 1)
		kacct = arena_printf(req->arena, "login-acct:%s:%s",
		    PQgetvalue(res, 0, 0), auth_client_addr(req));
	else {
		char *lower = arena_strdup(req->arena, username), *p;
		for (p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		kacct = arena_printf(req->arena, "login-acct:%s:%s", lower,
		    auth_client_addr(req));
	}
	if ((st = throttle_check(req, kaddr, c->login_failures_per_address,
	    c->login_window, &ok, &retry)) != DB_OK || (ok &&
	    (st = throttle_check(req, kacct, c->login_failures_per_account,
	    c->login_window, &ok, &retry)) != DB_OK)) {
		q_fail(req, resp, st, NULL);
		return;
	}
	if (!ok) {
		if (audit_as(req, NULL, NULL, "auth.login", "user", NULL,
		    AUDIT_DENIED, details_username(req, username,
		    "rate limited")) != DB_OK)
			log_warnx("could not audit a throttled sign-in");
		too_many(req, resp, retry);
		return;
	}
	if (auth_password_verify(req, PQntuples(res) ? q_get(res, 0, 2) :
	    NULL, password, &ok) == -1) {
		problem(req, resp, PROBLEM_BUSY, "too many sign-ins at once");
		resp_header(resp, "Retry-After", "1");
		return;
	}
	if (!ok || PQntuples(res) == 0) {
		login_failed(req, resp, PQntuples(res) ? PQgetvalue(res, 0, 0)
		    : NULL, username, PQntuples(res) ? "wrong password" :
		    "unknown user", kaddr, kacct);
		return;
	}
	uid = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	if (q_bool(res, 0, 3)) {
		login_failed(req, resp, uid, username, "disabled", kaddr,
		    kacct);
		return;
	}
	throttle_clear(req, kacct);
	answer = json_own(req->arena, json_object_new_object());
	json_object_object_add(answer, "user_id", json_object_new_string(uid));
	json_object_object_add(answer, "username",
	    json_object_new_string(PQgetvalue(res, 0, 1)));
	json_object_object_add(answer, "role",
	    json_object_new_string(PQgetvalue(res, 0, 4)));
	if (!q_open(req, resp))
		return;
	if (auth_start_session(req, resp, uid, answer) == -1)
		return;
	if ((st = audit_as(req, uid, PQgetvalue(res, 0, 1), "auth.login",
	    "user", uid, AUDIT_SUCCESS, NULL)) != DB_OK ||
	    (st = q_commit(req)) != DB_OK) {
		q_fail(req, resp, st, NULL);
		return;
	}
	resp_json(req, resp, 200, answer);
}

static void
refresh_refused(struct request *req, struct response *resp,
    const char *detail)
{
	auth_clear_cookies(req, resp);
	problem(req, resp, PROBLEM_UNAUTHORIZED, detail);
}

void
h_refresh(struct request *req, struct response *resp)
{
	const char *token = in_str(req, "refresh_token"), *hash = NULL;
	const char *sid, *uid, *next;
	const char *cand[COOKIE_MAX_SAME], *all[COOKIE_MAX_SAME];
	struct json_object *answer, *d;
	int i, n, ncand = 0;
	enum db_status st;
	PGresult *res = NULL;

	if (token != NULL)
		cand[ncand++] = token;
	else {
		/* From the cookies: a browser, so the CSRF rules apply. */
		for (i = 0, n = cookie_all(req, COOKIE_REFRESH, all,
		    COOKIE_MAX_SAME); i < n; i++)
			if (*all[i] != '\0')
				cand[ncand++] = all[i];
		if (ncand == 0) {
			refresh_refused(req, resp, "no refresh token");
			return;
		}
		if (!auth_csrf_ok(req)) {
			problem(req, resp, PROBLEM_CSRF, "send the X-CSRF-Token "
			    "header from the same origin");
			return;
		}
	}
	if (!q_open(req, resp))
		return;
	/* The first the database knows: another may be a stranger's. */
	for (i = 0; i < ncand; i++) {
		hash = auth_hash_hex(req->arena, cand[i]);
		if (!q_do(req, resp, &q_refresh_lookup, &res, hash))
			return;
		if (PQntuples(res) > 0)
			break;
	}
	if (i == ncand) {
		q_rollback(req);
		refresh_refused(req, resp, "unknown refresh token");
		return;
	}
	sid = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	uid = arena_strdup(req->arena, PQgetvalue(res, 0, 2));
	if (q_bool(res, 0, 1)) {
		/* A used token came back: someone holds a copy.  End it all. */
		d = json_own(req->arena, json_object_new_object());
		json_object_object_add(d, "session_id",
		    json_object_new_string(sid));
		if ((st = q_run(req, &q_session_revoke, &res, sid,
		    "refresh token reuse")) != DB_OK ||
		    (st = audit_as(req, NULL, NULL, "auth.refresh_reuse",
		    "session", sid, AUDIT_DENIED, d)) != DB_OK ||
		    (st = q_commit(req)) != DB_OK) {
			q_fail(req, resp, st, NULL);
			return;
		}
		log_warnx("refresh token reused: session %s revoked", sid);
		refresh_refused(req, resp, "refresh token already used");
		return;
	}
	if (!q_bool(res, 0, 3)) {
		q_rollback(req);
		refresh_refused(req, resp, "the session has ended");
		return;
	}
	answer = json_own(req->arena, json_object_new_object());
	json_object_object_add(answer, "user_id", json_object_new_string(uid));
	json_object_object_add(answer, "session_id",
	    json_object_new_string(sid));
	next = auth_random_token(req->arena, 32);
	{
		long left = strtol(PQgetvalue(res, 0, 4), NULL, 10);
		if (!q_do(req, resp, &q_refresh_use, &res, hash) || !q_do(req,
		    resp, &q_refresh_add, &res, auth_hash_hex(req->arena, next),
		    sid) || !q_close(req, resp))
			return;
		auth_rotated(req, resp, uid, sid, next, left, answer);
	}
	resp_json(req, resp, 200, answer);
}

void
h_logout(struct request *req, struct response *resp)
{
	const char *sid = req->caller.session_id;
	PGresult *res = NULL;

	if (req->caller.via == AUTH_API_TOKEN) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "API tokens are "
		    "revoked with DELETE /api/v1/tokens/{id}");
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_session_revoke, &res, sid,
	    "logout") || !audit_do(req, resp, "auth.logout", "session", sid,
	    NULL) || !q_close(req, resp))
		return;
	auth_clear_cookies(req, resp);
	resp_text(resp, 204, NULL, "", 0);
}

void
h_logout_all(struct request *req, struct response *resp)
{
	const char *uid = req->caller.user_id;
	PGresult *res = NULL;

	if (!q_open(req, resp) || !q_do(req, resp, &q_sessions_revoke_user,
	    &res, uid, "sign out everywhere") || !audit_do(req, resp,
	    "auth.logout_all", "user", uid, NULL) || !q_close(req, resp))
		return;
	auth_clear_cookies(req, resp);
	resp_text(resp, 204, NULL, "", 0);
}
