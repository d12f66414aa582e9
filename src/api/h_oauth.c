/*
 * Sign-in with GitHub (OAuth 2.0) and any OpenID Connect provider (one
 * file each in oidc_provider_dir; endpoints from its discovery document):
 * the authorization code flow with PKCE (S256), a one-time state bound to
 * a cookie of this browser, the redirect URI taken from the configuration,
 * ID tokens verified against the provider's key set, and identities linked
 * by the provider's stable subject id.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "audit.h"
#include "auth.h"
#include "handlers.h"
#include "httpc.h"
#include "input.h"
#include "json.h"
#include "log.h"
#include "oidc.h"
#include "problem.h"
#include "query.h"
#include "server.h"

#define FLOW_TTL	600
#define META_TTL	3600	/* seconds a discovery document is kept */
#define JWKS_MIN_AGE	30	/* an unknown kid fetches keys at most this often */

enum provider_kind { KIND_GITHUB, KIND_OIDC };

struct provider {
	const char			*name, *display;
	enum provider_kind		 kind;
	const struct oidc_provider	*oidc;
	int				 index;		/* of srv->oidc */
};

/* What a provider's discovery document says, per worker. */
struct meta {
	time_t			 at, jwks_at;
	time_t			 jwks_forced;	/* last fetch for an unknown kid */
	char			 issuer[CONF_STR_MAX];
	char			 auth[CONF_STR_MAX], token[CONF_STR_MAX];
	char			 userinfo[CONF_STR_MAX], jwks_uri[CONF_STR_MAX];
	bool			 basic;
	struct json_object	*jwks;
};

static struct meta	metas[OIDC_MAX_PROVIDERS];

struct identity {
	char	subject[256];
	char	login[128];
	char	email[256];
	bool	email_verified;
	bool	by_subject;	/* an account without e-mail, by subject */
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
	" lower($2)) THEN NULL ELSE nullif(lower($2), '') END, left($3, 200),"
	" $4"
	" ON CONFLICT (username) DO NOTHING RETURNING id, username", 4
};

static const struct db_stmt q_identity_new = {
	"oauth_identity_new",
	"INSERT INTO identities (provider, subject, user_id, email)"
	" VALUES ($1, $2, $3, nullif($4, ''))", 4
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

/* The provider of this name, when configured. */
static bool
find_provider(struct request *req, const char *name, struct provider *p)
{
	int i;

	memset(p, 0, sizeof(*p));
	if (strcmp(name, "github") == 0 &&
	    req->srv->conf.github_client_id[0] != '\0') {
		p->name = "github";
		p->display = "GitHub";
		p->kind = KIND_GITHUB;
		return true;
	}
	for (i = 0; i < req->srv->noidc; i++)
		if (strcmp(req->srv->oidc[i].name, name) == 0) {
			p->oidc = &req->srv->oidc[i];
			p->name = p->oidc->name;
			p->display = p->oidc->display_name;
			p->kind = KIND_OIDC;
			p->index = i;
			return true;
		}
	return false;
}

static char *
redirect_uri(struct request *req, const struct provider *p)
{
	return arena_printf(req->arena, "%s/api/v1/auth/oauth/%s/callback",
	    req->srv->conf.public_url, p->name);
}

static void
provider_entry(struct request *req, struct json_object *a, const char *name,
    const char *display)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, "display_name",
	    json_object_new_string(display));
	json_object_object_add(e, "start_url", json_object_new_string(
	    arena_printf(req->arena, "/api/v1/auth/oauth/%s/start", name)));
	json_object_array_add(a, e);
}

void
h_providers(struct request *req, struct response *resp)
{
	struct json_object *o, *a;
	int i;

	o = json_own(req->arena, json_object_new_object());
	a = json_object_new_array();
	if (req->srv->conf.github_client_id[0] != '\0')
		provider_entry(req, a, "github", "GitHub");
	for (i = 0; i < req->srv->noidc; i++)
		provider_entry(req, a, req->srv->oidc[i].name,
		    req->srv->oidc[i].display_name);
	json_object_object_add(o, "providers", a);
	json_object_object_add(o, "password", json_object_new_boolean(1));
	resp_json(req, resp, 200, o);
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

/* authorization: the header's value, or NULL. */
static struct json_object *
fetch_json(struct request *req, const char *url, const char *form,
    const char *authorization, long *status)
{
	struct httpc_response r;
	struct json_object *o;

	*status = 0;
	if (httpc_request(req->arena, url, form, authorization,
	    req->srv->conf.oauth_timeout, &r) == -1)
		return NULL;
	*status = r.status;
	if (json_parse(req->arena, r.body, r.len, &o) != JSON_OK)
		return NULL;
	return o;
}


/* An endpoint of the discovery document, where the provider allows it. */
static bool
endpoint(const struct provider *p, struct json_object *doc, const char *key,
    bool required, char *out, size_t len)
{
	const char *v = jstr(doc, key);

	out[0] = '\0';
	if (v == NULL)
		return !required;
	if (!oidc_url_ok(p->oidc, v) || strlen(v) >= len)
		return false;
	snprintf(out, len, "%s", v);
	return true;
}

static bool
listed(struct json_object *doc, const char *key, const char *want,
    bool absent)
{
	struct json_object *a;
	size_t i;

	if (!json_object_object_get_ex(doc, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return absent;
	for (i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a,
		    i)), want) == 0)
			return true;
	return false;
}

/*
 * The provider's endpoints, from its discovery document (kept for an hour
 * by each worker); NULL, and why, when it is not usable.
 */
static struct meta *
discover(struct request *req, const struct provider *p, const char **why)
{
	struct meta *m = &metas[p->index], fresh;
	struct json_object *doc;
	const char *base = p->oidc->issuer;
	size_t n = strlen(base);
	time_t now = time(NULL);
	long status;

	if (m->at != 0 && now - m->at < META_TTL &&
	    strcmp(m->issuer, base) == 0)
		return m;
	doc = fetch_json(req, arena_printf(req->arena, "%.*s/.well-known/"
	    "openid-configuration", (int)(n && base[n - 1] == '/' ? n - 1 : n),
	    base), NULL, NULL, &status);
	if (doc == NULL || status != 200) {
		log_warnx("provider %s: no discovery document at its issuer "
		    "(status %ld)", p->name, status);
		*why = "the provider's discovery document could not be read";
		return NULL;
	}
	memset(&fresh, 0, sizeof(fresh));
	if (jstr(doc, "issuer") == NULL || strcmp(jstr(doc, "issuer"),
	    base) != 0 || !endpoint(p, doc, "authorization_endpoint", true,
	    fresh.auth, sizeof(fresh.auth)) || !endpoint(p, doc,
	    "token_endpoint", true, fresh.token, sizeof(fresh.token)) ||
	    !endpoint(p, doc, "jwks_uri", true, fresh.jwks_uri,
	    sizeof(fresh.jwks_uri)) || !endpoint(p, doc, "userinfo_endpoint",
	    false, fresh.userinfo, sizeof(fresh.userinfo)) ||
	    (!listed(doc, "id_token_signing_alg_values_supported", "RS256",
	    false) && !listed(doc, "id_token_signing_alg_values_supported",
	    "ES256", false))) {
		log_warnx("provider %s: its discovery document names another "
		    "issuer, an endpoint that is not https, or no RS256 or "
		    "ES256 signatures", p->name);
		*why = "the provider's discovery document is not usable";
		return NULL;
	}
	/* Without the list, client_secret_basic is the default. */
	fresh.basic = listed(doc, "token_endpoint_auth_methods_supported",
	    "client_secret_basic", true);
	snprintf(fresh.issuer, sizeof(fresh.issuer), "%s", base);
	fresh.at = now;
	/* Keys of the same provider stay while its key set is the same. */
	fresh.jwks = m->jwks;
	fresh.jwks_at = strcmp(m->jwks_uri, fresh.jwks_uri) == 0 ? m->jwks_at :
	    0;
	fresh.jwks_forced = m->jwks_forced;
	*m = fresh;
	return m;
}

/*
 * The provider's key set, fetched again when stale or when a token names
 * a key the set lacks (the provider rolled its keys); the latter at most
 * every JWKS_MIN_AGE seconds.
 */
static struct json_object *
key_set(struct request *req, const struct provider *p, struct meta *m,
    bool again)
{
	struct json_object *set;
	time_t now = time(NULL);
	long status;

	if (m->jwks != NULL && m->jwks_at != 0 && (again ? now -
	    m->jwks_forced < JWKS_MIN_AGE : now - m->jwks_at < META_TTL))
		return m->jwks;
	if (again)
		m->jwks_forced = now;
	set = fetch_json(req, m->jwks_uri, NULL, NULL, &status);
	if (set == NULL || status != 200 ||
	    !json_object_is_type(set, json_type_object)) {
		log_warnx("provider %s: its key set could not be read "
		    "(status %ld)", p->name, status);
		return m->jwks;
	}
	/* Kept past this request: the cache holds its own reference. */
	if (m->jwks != NULL)
		json_object_put(m->jwks);
	m->jwks = json_object_get(set);
	m->jwks_at = now;
	return m->jwks;
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
	const char *invite = query_param(req, "invite");
	const char *ret = query_param(req, "return_to");
	const char *auth_url, *client_id, *scope, *why;
	char *state, *verifier, *nonce, *binding, *url;
	struct provider p;
	struct meta *m;
	PGresult *res = NULL;

	if (!find_provider(req, req->params[0], &p)) {
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
	if (p.kind == KIND_GITHUB) {
		auth_url = req->srv->conf.github_auth_url;
		client_id = req->srv->conf.github_client_id;
		scope = "read:user user:email";
	} else {
		if ((m = discover(req, &p, &why)) == NULL) {
			problem(req, resp, PROBLEM_PROVIDER_ERROR, why);
			return;
		}
		auth_url = m->auth;
		client_id = p.oidc->client_id;
		scope = p.oidc->scopes;
	}
	state = auth_random_token(req->arena, 32);
	verifier = auth_random_token(req->arena, 48);
	nonce = auth_random_token(req->arena, 24);
	binding = auth_random_token(req->arena, 32);
	if (!q_do(req, resp, &q_flow_new, &res, auth_hash_hex(req->arena,
	    state), p.name, verifier, nonce, auth_hash_hex(req->arena, binding),
	    invite ? auth_hash_hex(req->arena, invite) : NULL, ret,
	    arena_printf(req->arena, "%d", FLOW_TTL)))
		return;
	url = arena_printf(req->arena, "%s%cresponse_type=code&client_id=%s"
	    "&redirect_uri=%s&scope=%s&state=%s&code_challenge=%s"
	    "&code_challenge_method=S256%s%s", auth_url,
	    strchr(auth_url, '?') ? '&' : '?',
	    httpc_escape(req->arena, client_id),
	    httpc_escape(req->arena, redirect_uri(req, &p)),
	    httpc_escape(req->arena, scope), state, s256(req, verifier),
	    p.kind == KIND_OIDC ? "&nonce=" : "",
	    p.kind == KIND_OIDC ? nonce : "");
	cookie_set(req, resp, COOKIE_OAUTH, binding, FLOW_TTL, true);
	redirect(req, resp, url);
}

static void	signin_refused(struct request *, struct response *,
		    const struct provider *, enum problem, const char *,
		    struct json_object *);

/* Ends a failed sign-in: audit entry and a clear answer. */
static void
signin_failed(struct request *req, struct response *resp,
    const struct provider *p, enum problem pr, const char *why)
{
	signin_refused(req, resp, p, pr, why, NULL);
}

/* A browser's navigation, not a script's request. */
static bool
wants_page(struct request *req)
{
	const char *accept = req->header(req, "HTTP_ACCEPT");

	return accept != NULL && strstr(accept, "text/html") != NULL;
}

/* What the sign-in page is told about a refusal: a code it knows. */
static const char *
refusal_code(enum problem pr, const char *why)
{
	static const struct {
		const char *why, *code;
	} codes[] = {
		{ "the provider has not verified this e-mail address",
		    "email-unverified" },
		{ "sign-up is not open to this e-mail domain", "signup-closed" },
		{ "an invitation is needed to sign up", "signup-closed" },
		{ "the invitation is not valid", "invitation-invalid" },
		{ "this account is disabled", "account-disabled" },
		{ "access was denied at the provider", "access-denied" },
		{ "unknown, used or expired state", "expired" },
		{ "the sign-in did not start in this browser", "expired" },
		{ "this code was already used", "expired" },
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(why, codes[i].why) == 0)
			return codes[i].code;
	if (pr == PROBLEM_PROVIDER_ERROR)
		return "provider-error";
	if (pr == PROBLEM_CONFLICT)
		return "conflict";
	return "failed";
}

/* The same, with what the provider said (extra) in the audit entry. */
static void
signin_refused(struct request *req, struct response *resp,
    const struct provider *p, enum problem pr, const char *why,
    struct json_object *extra)
{
	struct json_object *d = json_own(req->arena, json_object_new_object());

	q_rollback(req);
	json_object_object_add(d, "provider", json_object_new_string(p->name));
	json_object_object_add(d, "reason", json_object_new_string(why));
	if (extra != NULL) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(d, k, json_object_get(v));
	}
	if (audit_as(req, NULL, NULL, "auth.oauth_login", "provider", p->name,
	    AUDIT_FAILURE, d) != DB_OK)
		log_warnx("could not audit a failed sign-in");
	cookie_set(req, resp, COOKIE_OAUTH, "", 0, true);
	if (wants_page(req)) {
		/* A browser goes back to the sign-in page, which says what
		 * went wrong from a fixed list: nothing of the request or the
		 * provider's answer is shown there. */
		redirect(req, resp, arena_printf(req->arena,
		    "%s/?signin_error=%s&provider=%s",
		    req->srv->conf.public_url, refusal_code(pr, why),
		    httpc_escape(req->arena, p->name)));
		return;
	}
	problem(req, resp, pr, why);
}

static int
github_identity(struct request *req, const char *token, struct identity *id)
{
	const char *api = req->srv->conf.github_api_url;
	const char *bearer = arena_printf(req->arena, "Bearer %s", token);
	struct json_object *u, *emails, *e, *v;
	long status;
	size_t i;

	u = fetch_json(req, arena_printf(req->arena, "%s/user", api), NULL,
	    bearer, &status);
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
	    api), NULL, bearer, &status);
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

/* email_verified: true, or the string "true" some providers send. */
static int
verified_claim(struct json_object *c)
{
	struct json_object *v;

	if (!json_object_object_get_ex(c, "email_verified", &v))
		return -1;
	return (json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v)) || (json_object_is_type(v,
	    json_type_string) && strcmp(json_object_get_string(v), "true") ==
	    0);
}

/* Claims the ID token lacks, from the userinfo endpoint (same subject). */
static void
userinfo(struct request *req, const struct provider *p, struct meta *m,
    const char *access_token, struct json_object **claims)
{
	struct json_object *u;
	long status;

	if (m->userinfo[0] == '\0' || access_token == NULL)
		return;
	u = fetch_json(req, m->userinfo, NULL, arena_printf(req->arena,
	    "Bearer %s", access_token), &status);
	if (u == NULL || status != 200 || !json_object_is_type(u,
	    json_type_object) || jstr(u, "sub") == NULL || strcmp(jstr(u,
	    "sub"), jstr(*claims, "sub")) != 0) {
		log_warnx("provider %s: no userinfo for this subject (status "
		    "%ld)", p->name, status);
		return;
	}
	json_object_object_foreach(u, k, v) {
		if (!json_object_object_get_ex(*claims, k, NULL))
			json_object_object_add(*claims, k, json_object_get(v));
	}
}

/*
 * Who signed in: the ID token, verified (its signature by a key of the
 * provider's set, fetched again once if it names another key, then its
 * claims), completed by userinfo.  NULL, or why not.
 */
static const char *
oidc_identity(struct request *req, const struct provider *p, struct meta *m,
    struct json_object *tok, const char *nonce, struct identity *id)
{
	struct json_object *c;
	enum oidc_result r;
	const char *why = NULL;
	int v;

	r = oidc_verify(req->arena, jstr(tok, "id_token"), key_set(req, p, m,
	    false), p->oidc->issuer, p->oidc->client_id, nonce, auth_now(),
	    &c, &why);
	if (r == OIDC_NO_KEY)
		r = oidc_verify(req->arena, jstr(tok, "id_token"), key_set(req,
		    p, m, true), p->oidc->issuer, p->oidc->client_id, nonce,
		    auth_now(), &c, &why);
	if (r == OIDC_NO_KEY)
		return "the ID token is signed by a key the provider does not "
		    "publish";
	if (r != OIDC_OK)
		return why;
	if (jstr(c, "email") == NULL || jstr(c, "name") == NULL)
		userinfo(req, p, m, jstr(tok, "access_token"), &c);
	snprintf(id->subject, sizeof(id->subject), "%s", jstr(c, "sub"));
	snprintf(id->email, sizeof(id->email), "%s",
	    jstr(c, "email") ? jstr(c, "email") : "");
	snprintf(id->name, sizeof(id->name), "%s",
	    jstr(c, "name") ? jstr(c, "name") : "");
	snprintf(id->login, sizeof(id->login), "%s",
	    jstr(c, "preferred_username") ? jstr(c, "preferred_username") : "");
	/* The provider's policy when it does not say (without_email_verified). */
	if ((v = verified_claim(c)) == -1)
		v = p->oidc->email == OIDC_EMAIL_TRUST && id->email[0] != '\0';
	id->email_verified = v;
	if (p->oidc->email == OIDC_EMAIL_SUBJECT) {
		id->email[0] = '\0';
		id->by_subject = true;
	}
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

	if (!id->by_subject && (!id->email_verified || id->email[0] == '\0')) {
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
		if (!q_do(req, resp, &q_invite_use, &res, invite, id->email))
			return NULL;
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
		if (!q_do(req, resp, &q_signup_user, &res, name, id->email,
		    id->name, role))
			return NULL;
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

	if (!q_open(req, resp) || !q_do(req, resp, &q_identity_user, &res,
	    p->name, id->subject))
		return;
	if (PQntuples(res) == 1) {
		/* OpenID Connect providers vouch for the address every time. */
		if (p->kind == KIND_OIDC && !id->email_verified &&
		    !id->by_subject) {
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

/*
 * The authorization code for tokens at the token endpoint, the client
 * authenticated as the provider takes it (client_secret_basic or _post);
 * NULL after answering.  A refusal's own words go to the log and the
 * audit entry.
 */
static struct json_object *
exchange(struct request *req, struct response *resp, const struct provider *p,
    const struct meta *m, const char *code, const char *verifier)
{
	const char *id, *secret, *url, *auth = NULL, *perr, *pdesc;
	struct json_object *tok, *extra;
	bool basic;
	long status;
	char *form, *pair, *b64;
	size_t len;

	if (p->kind == KIND_GITHUB) {
		id = req->srv->conf.github_client_id;
		secret = req->srv->conf.github_client_secret;
		url = req->srv->conf.github_token_url;
		basic = false;
	} else {
		id = p->oidc->client_id;
		secret = p->oidc->client_secret;
		url = m->token;
		basic = p->oidc->auth == OIDC_AUTH_BASIC ||
		    (p->oidc->auth == OIDC_AUTH_AUTO && m->basic);
	}
	form = arena_printf(req->arena, "grant_type=authorization_code"
	    "&code=%s&redirect_uri=%s&code_verifier=%s",
	    httpc_escape(req->arena, code),
	    httpc_escape(req->arena, redirect_uri(req, p)), verifier);
	if (basic) {
		/* RFC 6749 2.3.1: each part form-encoded, then Base64. */
		pair = arena_printf(req->arena, "%s:%s", httpc_escape(req->arena,
		    id), httpc_escape(req->arena, secret));
		len = sodium_base64_ENCODED_LEN(strlen(pair),
		    sodium_base64_VARIANT_ORIGINAL);
		b64 = arena_alloc(req->arena, len);
		sodium_bin2base64(b64, len, (const unsigned char *)pair,
		    strlen(pair), sodium_base64_VARIANT_ORIGINAL);
		auth = arena_printf(req->arena, "Basic %s", b64);
	} else
		form = arena_printf(req->arena, "%s&client_id=%s&client_secret=%s",
		    form, httpc_escape(req->arena, id),
		    httpc_escape(req->arena, secret));
	tok = fetch_json(req, url, form, auth, &status);
	if (tok == NULL && status == 0) {
		signin_failed(req, resp, p, PROBLEM_PROVIDER_ERROR,
		    "the provider could not be reached");
		return NULL;
	}
	if (tok != NULL && status == 200 && jstr(tok, "error") == NULL &&
	    (p->kind == KIND_OIDC ? jstr(tok, "id_token") != NULL :
	    jstr(tok, "access_token") != NULL))
		return tok;
	perr = jstr(tok, "error") ? jstr(tok, "error") : "none";
	pdesc = jstr(tok, "error_description") ? jstr(tok,
	    "error_description") : "";
	log_warnx("provider %s refused the authorization code (status %ld): "
	    "%.100s: %.300s", p->name, status, perr, pdesc);
	extra = json_own(req->arena, json_object_new_object());
	json_object_object_add(extra, "provider_status",
	    json_object_new_int64(status));
	json_object_object_add(extra, "provider_error",
	    json_object_new_string(arena_printf(req->arena, "%.100s", perr)));
	json_object_object_add(extra, "provider_error_description",
	    json_object_new_string(arena_printf(req->arena, "%.300s", pdesc)));
	signin_refused(req, resp, p, PROBLEM_SIGNIN_FAILED,
	    "the provider refused the authorization code", extra);
	return NULL;
}

void
h_oauth_callback(struct request *req, struct response *resp)
{
	const char *state = query_param(req, "state");
	const char *code = query_param(req, "code");
	const char *error = query_param(req, "error");
	const char *bindings[COOKIE_MAX_SAME], *why;
	char *verifier, *nonce, *invite, *ret;
	struct provider prov, *p = &prov;
	struct meta *m = NULL;
	struct json_object *tok;
	struct identity id;
	PGresult *res = NULL;

	if (!find_provider(req, req->params[0], p)) {
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
	if (!q_do(req, resp, &q_flow_take, &res, auth_hash_hex(req->arena,
	    state), p->name))
		return;
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
	if (!q_do(req, resp, &q_code_used, &res, p->name,
	    auth_hash_hex(req->arena, code)))
		return;
	if (PQntuples(res) == 0) {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED,
		    "this code was already used");
		return;
	}
	if (p->kind == KIND_OIDC && (m = discover(req, p, &why)) == NULL) {
		signin_failed(req, resp, p, PROBLEM_PROVIDER_ERROR, why);
		return;
	}
	if ((tok = exchange(req, resp, p, m, code, verifier)) == NULL)
		return;
	memset(&id, 0, sizeof(id));
	if (p->kind == KIND_GITHUB) {
		if (github_identity(req, jstr(tok, "access_token"), &id) == -1) {
			signin_failed(req, resp, p, PROBLEM_PROVIDER_ERROR,
			    "the provider did not say who signed in");
			return;
		}
	} else if ((why = oidc_identity(req, p, m, tok, nonce, &id)) != NULL) {
		signin_failed(req, resp, p, PROBLEM_SIGNIN_FAILED, why);
		return;
	}
	finish(req, resp, p, &id, invite, ret);
}

void
h_invitations_create(struct request *req, struct response *resp)
{
	const char *email = in_str(req, "email"), *role = in_str(req, "role");
	struct json_object *o;
	PGresult *res = NULL;
	long hours = 168;
	char *code;

	(void)in_num(req, "expires_in_hours", &hours);
	code = auth_random_token(req->arena, 24);
	if (!q_open(req, resp) || !q_do(req, resp, &q_invite_new, &res,
	    auth_hash_hex(req->arena, code), email, role, req->caller.user_id,
	    arena_printf(req->arena, "%ld", hours)))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	json_object_object_add(o, "code", json_object_new_string(code));
	audit_done(req, resp, 201, o, "invitation.create", "invitation",
	    PQgetvalue(res, 0, 0), NULL);
}

void
h_invitations_list(struct request *req, struct response *resp)
{
	const char *status = query_param(req, "status");
	const char *cursor;
	PGresult *res = NULL;
	long limit;

	if (!in_page(req, resp, &limit, &cursor))
		return;
	if (!q_do(req, resp, &q_invite_list, &res, status, cursor,
	    arena_printf(req->arena, "%ld", limit)))
		return;
	q_page_answer(req, resp, res, limit, 0);
}

void
h_invitation_revoke(struct request *req, struct response *resp)
{
	const char *id = req->params[0];
	PGresult *res = NULL;

	if (!in_uuid(id)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_invite_revoke, &res, id))
		return;
	if (PQntuples(res) == 0) {
		/* Unknown, or used already: the account is there to disable. */
		if (!q_do(req, resp, &q_invite_used, &res, id))
			return;
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
