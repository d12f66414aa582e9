/*
 * Sign-in with GitHub (OAuth 2.0) and Google (OpenID Connect): the
 * authorization code flow with PKCE (S256), a one-time state bound to a
 * cookie of this browser, the redirect URI taken from the configuration,
 * and identities linked by the provider's stable subject id.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "auth.h"
#include "handlers.h"
#include "httpc.h"
#include "input.h"
#include "json.h"
#include "log.h"
#include "problem.h"
#include "query.h"
#include "server.h"

#define FLOW_TTL	600

enum provider_kind { KIND_GITHUB, KIND_OIDC };

struct provider {
	const char		*name;
	enum provider_kind	 kind;
	size_t			 client_id, secret, auth_url, token_url;
	const char		*scope;
};

#define C(f)	offsetof(struct conf, f)
static const struct provider providers[] = {
	{ "github", KIND_GITHUB, C(github_client_id), C(github_client_secret),
	    C(github_auth_url), C(github_token_url), "read:user user:email" },
	{ "google", KIND_OIDC, C(google_client_id), C(google_client_secret),
	    C(google_auth_url), C(google_token_url), "openid email profile" },
};
#define NPROVIDERS	(sizeof(providers) / sizeof(providers[0]))

struct identity {
	char	subject[128];
	char	login[128];
	char	email[256];
	bool	email_verified;
	char	name[256];
};

static const struct db_stmt q_flow_new = {
	"oauth_flow_new",
	"WITH old AS (DELETE FROM oauth_flows WHERE expires_at < now())"
	" INSERT INTO oauth_flows (state_hash, provider, verifier, nonce,"
	" binding_hash, invite_code, return_to, expires_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7,"
	" now() + make_interval(secs => $8::int))", 8
};

static const struct db_stmt q_flow_take = {
	"oauth_flow_take",
	"DELETE FROM oauth_flows WHERE state_hash = $1 AND provider = $2"
	" RETURNING verifier, nonce, binding_hash, invite_code, return_to,"
	" expires_at > now()", 2
};

static const struct db_stmt q_code_used = {
	"oauth_code_used",
	"WITH old AS (DELETE FROM oauth_codes_used WHERE used_at <"
	" now() - interval '1 day')"
	" INSERT INTO oauth_codes_used (provider, code_hash) VALUES ($1, $2)"
	" ON CONFLICT DO NOTHING RETURNING 1", 2
};

static const struct db_stmt q_identity_user = {
	"oauth_identity_user",
	"SELECT u.id, u.username, u.disabled FROM identities i"
	" JOIN users u ON u.id = i.user_id"
	" WHERE i.provider = $1 AND i.subject = $2", 2
};

static const struct db_stmt q_invite_use = {
	"oauth_invite_use",
	"UPDATE invitations SET used_at = now() WHERE code_hash = $1"
	" AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()"
	" AND (email IS NULL OR email = lower($2)) RETURNING id, role", 2
};

static const struct db_stmt q_signup_user = {
	"oauth_signup_user",
	"INSERT INTO users (username, email, display_name, role)"
	" SELECT $1, CASE WHEN EXISTS (SELECT 1 FROM users WHERE email ="
	" lower($2)) THEN NULL ELSE lower($2) END, left($3, 200), $4"
	" ON CONFLICT (username) DO NOTHING RETURNING id, username", 4
};

static const struct db_stmt q_identity_new = {
	"oauth_identity_new",
	"INSERT INTO identities (provider, subject, user_id, email)"
	" VALUES ($1, $2, $3, $4)", 4
};

static const struct db_stmt q_invite_mark = {
	"oauth_invite_mark",
	"UPDATE invitations SET used_by = $2 WHERE id = $1", 2
};

static const struct db_stmt q_invite_new = {
	"invitation_new",
	"INSERT INTO invitations (code_hash, email, role, created_by,"
	" expires_at) VALUES ($1, lower($2), coalesce($3, 'member'), $4,"
	" now() + make_interval(hours => $5::int))"
	" RETURNING id, email, role, expires_at", 5
};

#define INVITATION_STATUS \
	"CASE WHEN i.revoked_at IS NOT NULL THEN 'revoked'" \
	" WHEN i.used_at IS NOT NULL THEN 'used'" \
	" WHEN i.expires_at <= now() THEN 'expired' ELSE 'pending' END"

static const struct db_stmt q_invite_list = {
	"invitation_list",
	"SELECT i.id, i.email, i.role, " INVITATION_STATUS " AS status,"
	" i.created_at, i.expires_at, i.created_by, c.username AS"
	" created_by_name, i.used_at, i.used_by, u.username AS used_by_name,"
	" i.revoked_at FROM invitations i"
	" LEFT JOIN users c ON c.id = i.created_by"
	" LEFT JOIN users u ON u.id = i.used_by"
	" WHERE ($1::text IS NULL OR " INVITATION_STATUS " = $1)"
	" AND ($2::uuid IS NULL OR (i.created_at, i.id) < (SELECT created_at,"
	"  id FROM invitations WHERE id = $2::uuid))"
	" ORDER BY i.created_at DESC, i.id DESC LIMIT $3", 3
};

/* Revoked once; a used invitation is left as it is (none is returned). */
static const struct db_stmt q_invite_revoke = {
	"invitation_revoke",
	"UPDATE invitations SET revoked_at = coalesce(revoked_at, now())"
	" WHERE id = $1 AND used_at IS NULL RETURNING id", 1
};

static const struct db_stmt q_invite_used = {
	"invitation_used",
	"SELECT used_at IS NOT NULL FROM invitations WHERE id = $1", 1
};

static const char *
cf(struct request *req, size_t off)
{
	return (const char *)&req->srv->conf + off;
}

static const struct provider *
find_provider(struct request *req, const char *name)
{
	size_t i;

	for (i = 0; i < NPROVIDERS; i++)
		if (strcmp(providers[i].name, name) == 0 &&
		    cf(req, providers[i].client_id)[0] != '\0')
			return &providers[i];
	return NULL;
}

static char *
redirect_uri(struct request *req, const struct provider *p)
{
	return arena_printf(req->arena, "%s/api/v1/auth/oauth/%s/callback",
	    req->srv->conf.public_url, p->name);
}

void
h_providers(struct request *req, struct response *resp)
{
	struct json_object *o, *a, *e;
	size_t i;

	o = json_own(req->arena, json_object_new_object());
	a = json_object_new_array();
	for (i = 0; i < NPROVIDERS; i++) {
		if (cf(req, providers[i].client_id)[0] == '\0')
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "name",
		    json_object_new_string(providers[i].name));
		json_object_object_add(e, "start_url", json_object_new_string(
		    arena_printf(req->arena, "/api/v1/auth/oauth/%s/start",
		    providers[i].name)));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "providers", a);
	json_object_object_add(o, "password", json_object_new_boolean(1));
	resp_json(req, resp, 200, o);
}

static char *
s256(struct request *req, const char *verifier)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	size_t len = sodium_base64_ENCODED_LEN(sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = arena_alloc(req->arena, len);

	crypto_hash_sha256(h, (const unsigned char *)verifier,
	    strlen(verifier));
	sodium_bin2base64(out, len, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* Only paths of this site: "/x", never "//host" or "/\host". */
static bool
safe_return(const char *r)
{
	return r[0] == '/' && r[1] != '/' && r[1] != '\\' && strlen(r) <= 512 &&
	    strpbrk(r, "\\\r\n") == NULL;
}

static void
redirect(struct request *req, struct response *resp, const char *url)
{
	resp_header(resp, "Location", url);
	resp_text(resp, 302, NULL, "", 0);
	(void)req;
}

void
h_oauth_start(struct request *req, struct response *resp)
{
	const struct provider *p = find_provider(req, req->params[0]);
	const char *invite = query_param(req, "invite");
	const char *ret = query_param(req, "return_to");
	char *state, *verifier, *nonce, *binding, *url;
	enum db_status st;
	PGresult *res = NULL;

	if (p == NULL) {
		problem(req, resp, PROBLEM_NOT_FOUND, "no such sign-in provider");
		return;
	}
	if (ret == NULL)
		ret = "/";
	if (!safe_return(ret) || (invite != NULL && (strlen(invite) > 100 ||
	    *invite == '\0'))) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "return_to must be a "
		    "path of this site; invite as given");
		return;
	}
	state = auth_random_token(req->arena, 32);
	verifier = auth_random_token(req->arena, 48);
	nonce = auth_random_token(req->arena, 24);
	binding = auth_random_token(req->arena, 32);
	if ((st = q_run(req, &q_flow_new, &res, auth_hash_hex(req->arena,
	    state), p->name, verifier, nonce, auth_hash_hex(req->arena,
	    binding), invite ? auth_hash_hex(req->arena, invite) : NULL, ret, arena_printf(req->arena, "%d", FLOW_TTL)))
	    != DB_OK) {
		q_fail(req, resp, st, res);
		return;
	}
	url = arena_printf(req->arena, "%s?response_type=code&client_id=%s"
	    "&redirect_uri=%s&scope=%s&state=%s&code_challenge=%s"
	    "&code_challenge_method=S256%s%s", cf(req, p->auth_url),
	    httpc_escape(req->arena, cf(req, p->client_id)),
	    httpc_escape(req->arena, redirect_uri(req, p)),
	    httpc_escape(req->arena, p->scope), state, s256(req, verifier),
	    p->kind == KIND_OIDC ? "&nonce=" : "",
	    p->kind == KIND_OIDC ? nonce : "");
	cookie_set(req, resp, COOKIE_OAUTH, binding, FLOW_TTL, true);
	redirect(req, resp, url);
}

/* Ends a failed sign-in: audit entry and a clear answer. */
static void
signin_failed(struct request *req, struct response *resp,
    const struct provider *p, enum problem pr, const char *why)
{
	struct json_object *d = json_own(req->arena, json_object_new_object());

	q_rollback(req);
	json_object_object_add(d, "provider", json_object_new_string(p->name));
	json_object_object_add(d, "reason", json_object_new_string(why));
	if (audit_as(req, NULL, NULL, "auth.oauth_login", "provider", p->name,
	    AUDIT_FAILURE, d) != DB_OK)
		log_warnx("could not audit a failed sign-in");
	cookie_set(req, resp, COOKIE_OAUTH, "", 0, true);
	problem(req, resp, pr, why);
}

static const char *
jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *
fetch_json(struct request *req, const char *url, const char *form,
    const char *bearer, long *status)
{
	struct httpc_response r;
	struct json_object *o;

	*status = 0;
	if (httpc_request(req->arena, url, form, bearer,
	    req->srv->conf.oauth_timeout, &r) == -1)
		return NULL;
	*status = r.status;
	if (json_parse(req->arena, r.body, r.len, &o) != JSON_OK)
		return NULL;
	return o;
}

static int
github_identity(struct request *req, const char *token, struct identity *id)
{
	const char *api = req->srv->conf.github_api_url;
	struct json_object *u, *emails, *e, *v;
	long status;
	size_t i;

	u = fetch_json(req, arena_printf(req->arena, "%s/user", api), NULL,
	    token, &status);
	if (u == NULL || status != 200 ||
	    !json_object_object_get_ex(u, "id", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0)
		return -1;
	snprintf(id->subject, sizeof(id->subject), "%lld",
	    (long long)json_object_get_int64(v));
	snprintf(id->login, sizeof(id->login), "%s",
	    jstr(u, "login") ? jstr(u, "login") : "");
	snprintf(id->name, sizeof(id->name), "%s",
	    jstr(u, "name") ? jstr(u, "name") : "");
	emails = fetch_json(req, arena_printf(req->arena, "%s/user/emails",
	    api), NULL, token, &status);
	if (emails == NULL || status != 200 ||
	    !json_object_is_type(emails, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(emails); i++) {
		e = json_object_array_get_idx(emails, i);
		if (jstr(e, "email") == NULL ||
		    !json_object_object_get_ex(e, "primary", &v) ||
		    !json_object_get_boolean(v))
			continue;
		snprintf(id->email, sizeof(id->email), "%s", jstr(e, "email"));
		id->email_verified = json_object_object_get_ex(e, "verified",
		    &v) && json_object_is_type(v, json_type_boolean) &&
		    json_object_get_boolean(v);
	}
	return 0;
}

/*
 * The ID token comes straight from the token endpoint over TLS, so its
 * claims are checked here (OpenID Connect Core 3.1.3.7) rather than its
 * signature: issuer, audience, expiry, nonce.
 */
static const char *
oidc_identity(struct request *req, struct json_object *tok,
    const char *nonce, struct identity *id)
{
	const char *idt = jstr(tok, "id_token"), *d1, *d2;
	struct json_object *c, *v;
	size_t n;
	char *raw;

	if (idt == NULL || (d1 = strchr(idt, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || d2 - d1 - 1 > 8192)
		return "no usable ID token";
	raw = arena_alloc(req->arena, (size_t)(d2 - d1));
	if (sodium_base642bin((unsigned char *)raw, (size_t)(d2 - d1), d1 + 1,
	    (size_t)(d2 - d1 - 1), NULL, &n, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    json_parse(req->arena, raw, n, &c) != JSON_OK ||
	    !json_object_is_type(c, json_type_object))
		return "no usable ID token";
	if (jstr(c, "iss") == NULL || strcmp(jstr(c, "iss"),
	    req->srv->conf.google_issuer) != 0)
		return "ID token from another issuer";
	if (jstr(c, "aud") == NULL || strcmp(jstr(c, "aud"),
	    req->srv->conf.google_client_id) != 0)
		return "ID token for another audience";
	if (!json_object_object_get_ex(c, "exp", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= auth_now())
		return "ID token expired";
	if (jstr(c, "nonce") == NULL || strcmp(jstr(c, "nonce"), nonce) != 0)
		return "ID token for another sign-in";
	if (jstr(c, "sub") == NULL || strlen(jstr(c, "sub")) == 0 ||
	    strlen(jstr(c, "sub")) >= sizeof(id->subject))
		return "ID token without subject";
	snprintf(id->subject, sizeof(id->subject), "%s", jstr(c, "sub"));
	snprintf(id->email, sizeof(id->email), "%s",
	    jstr(c, "email") ? jstr(c, "email") : "");
	snprintf(id->name, sizeof(id->name), "%s",
	    jstr(c, "name") ? jstr(c, "name") : "");
	id->email_verified = json_object_object_get_ex(c, "email_verified",
	    &v) && ((json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v)) || (json_object_is_type(v,
	    json_type_string) && strcmp(json_object_get_string(v),
	    "true") == 0));
	return NULL;
}

static bool
domain_allowed(struct request *req, const char *email)
{
	const char *at = strrchr(email, '@'), *p;
	size_t n;

	if (at == NULL)
		return false;
	n = strlen(at + 1);
	for (p = req->srv->conf.signup_domains; *p != '\0';) {
		p += strspn(p, " ,");
		if (strncasecmp(p, at + 1, n) == 0 &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == ','))
			return true;
		p += strcspn(p, " ,");
	}
	return false;
}

/* A lower-case username from the provider's login or e-mail. */
static char *
base_username(struct request *req, const struct identity *id)
{
	const char *src = id->login[0] ? id->login : id->email;
	char *out = arena_alloc(req->arena, 48), *o = out;
	size_t i;

	for (i = 0; src[i] != '\0' && src[i] != '@' && o - out < 40; i++) {
		char ch = src[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ((ch == '.' || ch == '_' || ch == '-') && o != out))
			*o++ = ch;
	}
	*o = '\0';
	return out[0] ? out : arena_strdup(req->arena, "user");
}

/* Creates the account for a new identity; NULL after answering. */
static const char *
sign_up(struct request *req, struct response *resp, const struct provider *p,
    const struct identity *id, const char *invite, const char **username)
{
	const char *role = "member", *invite_id = NULL, *base;
	enum db_status st;
	PGresult *res = NULL;
	int i;

	if (!id->email_verified || id->email[0] == '\0') {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
		    "the provider has not verified this e-mail address");
		return NULL;
	}
	switch (req->srv->conf.signup_policy) {
	case SIGNUP_OPEN:
		break;
	case SIGNUP_DOMAINS:
		if (!domain_allowed(req, id->email)) {
			signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
			    "sign-up is not open to this e-mail domain");
			return NULL;
		}
		break;
	case SIGNUP_INVITE:
		if (invite == NULL) {
			signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
			    "an invitation is needed to sign up");
			return NULL;
		}
		/* The flow keeps only the code's hash. */
		if ((st = q_run(req, &q_invite_use, &res, invite, id->email))
		    != DB_OK) {
			q_fail(req, resp, st, res);
			return NULL;
		}
		if (PQntuples(res) == 0) {
			signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
			    "the invitation is not valid");
			return NULL;
		}
		invite_id = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
		role = arena_strdup(req->arena, PQgetvalue(res, 0, 1));
		break;
	}
	base = base_username(req, id);
	for (i = 1; i <= 20; i++) {
		const char *name = i == 1 ? base : arena_printf(req->arena,
		    "%s-%d", base, i);
		if ((st = q_run(req, &q_signup_user, &res, name, id->email,
		    id->name, role)) != DB_OK) {
			q_fail(req, resp, st, res);
			return NULL;
		}
		if (PQntuples(res) == 1)
			break;
	}
	if (i > 20) {
		signin_failed(req, resp, p, PROBLEM_CONFLICT,
		    "no free username");
		return NULL;
	}
	*username = arena_strdup(req->arena, PQgetvalue(res, 0, 1));
	base = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	if ((st = q_run(req, &q_identity_new, &res, p->name, id->subject,
	    base, id->email)) != DB_OK ||
	    (invite_id != NULL && (st = q_run(req, &q_invite_mark, &res,
	    invite_id, base)) != DB_OK) ||
	    (st = audit_as(req, base, *username, "user.signup", "user", base,
	    AUDIT_SUCCESS, NULL)) != DB_OK) {
		q_fail(req, resp, st, res);
		return NULL;
	}
	return base;
}

static void
finish(struct request *req, struct response *resp, const struct provider *p,
    const struct identity *id, const char *invite, const char *ret)
{
	const char *uid, *username = NULL;
	struct json_object *answer, *d;
	enum db_status st;
	PGresult *res = NULL;

	if ((st = q_begin(req)) != DB_OK ||
	    (st = q_run(req, &q_identity_user, &res, p->name, id->subject))
	    != DB_OK) {
		q_fail(req, resp, st, NULL);
		return;
	}
	if (PQntuples(res) == 1) {
		/* OpenID Connect providers vouch for the address every time. */
		if (p->kind == KIND_OIDC && !id->email_verified) {
			signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
			    "the provider has not verified this e-mail address");
			return;
		}
		if (q_bool(res, 0, 2)) {
			signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
			    "this account is disabled");
			return;
		}
		uid = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
		username = arena_strdup(req->arena, PQgetvalue(res, 0, 1));
	} else if ((uid = sign_up(req, resp, p, id, invite, &username)) == NULL)
		return;
	answer = json_own(req->arena, json_object_new_object());
	if (auth_start_session(req, resp, uid, answer) == -1)
		return;
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "provider", json_object_new_string(p->name));
	if ((st = audit_as(req, uid, username, "auth.oauth_login", "user", uid,
	    AUDIT_SUCCESS, d)) != DB_OK || (st = q_commit(req)) != DB_OK) {
		q_fail(req, resp, st, NULL);
		return;
	}
	cookie_set(req, resp, COOKIE_OAUTH, "", 0, true);
	redirect(req, resp, arena_printf(req->arena, "%s%s",
	    req->srv->conf.public_url, ret));
}

/* Did the sign-in start in this browser: one of its cookies the flow's? */
static bool
bound(struct request *req, const char **cookies, int n, const char *hash)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(auth_hash_hex(req->arena, cookies[i]), hash) == 0)
			return true;
	return false;
}

void
h_oauth_callback(struct request *req, struct response *resp)
{
	const struct provider *p = find_provider(req, req->params[0]);
	const char *state = query_param(req, "state");
	const char *code = query_param(req, "code");
	const char *error = query_param(req, "error");
	const char *bindings[COOKIE_MAX_SAME], *why;
	char *verifier, *nonce, *invite, *ret, *form;
	struct json_object *tok;
	struct identity id;
	enum db_status st;
	PGresult *res = NULL;
	long status;

	if (p == NULL) {
		problem(req, resp, PROBLEM_NOT_FOUND, "no such sign-in provider");
		return;
	}
	if (state == NULL || strlen(state) > 128 ||
	    (error == NULL && (code == NULL || strlen(code) > 1024))) {
		problem(req, resp, PROBLEM_INVALID_INPUT,
		    "state and code are required");
		return;
	}
	/* The state is spent whatever happens next. */
	if ((st = q_run(req, &q_flow_take, &res, auth_hash_hex(req->arena,
	    state), p->name)) != DB_OK) {
		q_fail(req, resp, st, res);
		return;
	}
	if (PQntuples(res) == 0 || !q_bool(res, 0, 5)) {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
		    "unknown, used or expired state");
		return;
	}
	if (!bound(req, bindings, cookie_all(req, COOKIE_OAUTH, bindings,
	    COOKIE_MAX_SAME), PQgetvalue(res, 0, 2))) {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
		    "the sign-in did not start in this browser");
		return;
	}
	if (error != NULL) {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
		    strcmp(error, "access_denied") == 0 ?
		    "access was denied at the provider" :
		    "the provider reported an error");
		return;
	}
	verifier = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	nonce = arena_strdup(req->arena, PQgetvalue(res, 0, 1));
	invite = q_get(res, 0, 3) ? arena_strdup(req->arena,
	    PQgetvalue(res, 0, 3)) : NULL;
	ret = arena_strdup(req->arena, PQgetvalue(res, 0, 4));
	if ((st = q_run(req, &q_code_used, &res, p->name,
	    auth_hash_hex(req->arena, code))) != DB_OK) {
		q_fail(req, resp, st, res);
		return;
	}
	if (PQntuples(res) == 0) {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
		    "this code was already used");
		return;
	}
	form = arena_printf(req->arena, "grant_type=authorization_code"
	    "&code=%s&redirect_uri=%s&client_id=%s&client_secret=%s"
	    "&code_verifier=%s", httpc_escape(req->arena, code),
	    httpc_escape(req->arena, redirect_uri(req, p)),
	    httpc_escape(req->arena, cf(req, p->client_id)),
	    httpc_escape(req->arena, cf(req, p->secret)), verifier);
	tok = fetch_json(req, cf(req, p->token_url), form, NULL, &status);
	if (tok == NULL && status == 0) {
		signin_failed(req, resp, p, PROBLEM_PROVIDER_ERROR,
		    "the provider could not be reached");
		return;
	}
	if (tok == NULL || status != 200 || jstr(tok, "error") != NULL ||
	    (p->kind == KIND_GITHUB && jstr(tok, "access_token") == NULL)) {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
		    "the provider refused the authorization code");
		return;
	}
	memset(&id, 0, sizeof(id));
	if (p->kind == KIND_GITHUB) {
		if (github_identity(req, jstr(tok, "access_token"), &id) == -1) {
			signin_failed(req, resp, p, PROBLEM_PROVIDER_ERROR,
			    "the provider did not say who signed in");
			return;
		}
	} else if ((why = oidc_identity(req, tok, nonce, &id)) != NULL) {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED, why);
		return;
	}
	finish(req, resp, p, &id, invite, ret);
}

void
h_invitations_create(struct request *req, struct response *resp)
{
	static const char *const fields[] = { "email", "role",
	    "expires_in_hours", NULL };
	static const char *const roles[] = { "admin", "template-admin",
	    "auditor", "member", NULL };
	const char *email = NULL, *role = NULL;
	struct json_object *o;
	enum db_status st;
	PGresult *res = NULL;
	long hours = 168;
	char *code;

	if (!in_fields(req, resp, fields) ||
	    !in_string(req, resp, "email", 3, 254, false, &email) ||
	    !in_enum(req, resp, "role", roles, false, &role) ||
	    !in_int(req, resp, "expires_in_hours", 1, 720, false, &hours,
	    NULL))
		return;
	code = auth_random_token(req->arena, 24);
	if ((st = q_begin(req)) != DB_OK ||
	    (st = q_run(req, &q_invite_new, &res, auth_hash_hex(req->arena,
	    code), email, role, req->caller.user_id, arena_printf(req->arena,
	    "%ld", hours))) != DB_OK) {
		q_fail(req, resp, st, res);
		return;
	}
	o = json_own(req->arena, q_row_json(req, res, 0));
	json_object_object_add(o, "code", json_object_new_string(code));
	if ((st = audit(req, "invitation.create", "invitation",
	    PQgetvalue(res, 0, 0), AUDIT_SUCCESS, NULL)) != DB_OK ||
	    (st = q_commit(req)) != DB_OK) {
		q_fail(req, resp, st, NULL);
		return;
	}
	resp_json(req, resp, 201, o);
}

void
h_invitations_list(struct request *req, struct response *resp)
{
	static const char *const statuses[] = { "pending", "used", "expired",
	    "revoked", NULL };
	const char *status = query_param(req, "status");
	const char *cursor;
	enum db_status st;
	PGresult *res = NULL;
	long limit;

	if (!in_page(req, resp, &limit, &cursor))
		return;
	if ((status != NULL && !in_choices(status, statuses)) ||
	    (cursor != NULL && !in_uuid(cursor))) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "status must be "
		    "pending, used, expired or revoked, cursor as returned");
		return;
	}
	if ((st = q_run(req, &q_invite_list, &res, status, cursor,
	    arena_printf(req->arena, "%ld", limit))) != DB_OK) {
		q_fail(req, resp, st, res);
		return;
	}
	q_page_answer(req, resp, res, limit, 0);
}

void
h_invitation_revoke(struct request *req, struct response *resp)
{
	const char *id = req->params[0];
	enum db_status st;
	PGresult *res = NULL;

	if (!in_uuid(id)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if ((st = q_begin(req)) != DB_OK ||
	    (st = q_run(req, &q_invite_revoke, &res, id)) != DB_OK) {
		q_fail(req, resp, st, res);
		return;
	}
	if (PQntuples(res) == 0) {
		/* Unknown, or used already: the account is there to disable. */
		if ((st = q_run(req, &q_invite_used, &res, id)) != DB_OK) {
			q_fail(req, resp, st, res);
			return;
		}
		q_rollback(req);
		if (PQntuples(res) == 0)
			problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		else
			problem(req, resp, PROBLEM_CONFLICT, "the invitation was "
			    "used already: disable the account it made instead");
		return;
	}
	audit_commit_204(req, resp, "invitation.revoke", "invitation", id);
}
