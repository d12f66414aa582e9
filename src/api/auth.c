/*
 * The central authentication step.  Browsers carry an access token and a
 * refresh token in HttpOnly cookies (and a CSRF token in a readable one);
 * scripts send "Authorization: Bearer" with an access token or an API
 * token.  Every check that can be made without the database is made first;
 * then one statement reads the user and the session or token together, so
 * a disabled user or a revoked session stops working at once.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "auth.h"
#include "input.h"
#include "json.h"
#include "log.h"
#include "password.h"
#include "problem.h"
#include "query.h"
#include "ratelimit.h"
#include "server.h"
#include "throttle.h"

#define AUDIENCE	"warren"

/*
 * No row: no such user or session, the user disabled or the session
 * revoked or expired.  The token's issue time is checked against
 * valid_after by the token code (date_part: double precision, cheaper
 * than extract's numeric on every request).
 */
static const struct db_stmt q_session_caller = {
	"auth_session_caller",
	"SELECT u.username, u.role, coalesce(u.email, ''), u.display_name,"
	" floor(date_part('epoch', u.valid_after))::bigint"
	" FROM users u JOIN sessions s ON s.user_id = u.id"
	" WHERE u.id = $1 AND s.id = $2 AND NOT u.disabled"
	" AND s.revoked_at IS NULL AND s.expires_at > now()", 2
};

/* The last-used time is written at most once a minute per token. */
static const struct db_stmt q_token_caller = {
	"auth_token_caller",
	"WITH touch AS (UPDATE api_tokens SET last_used_at = now()"
	"  WHERE hash = $1 AND revoked_at IS NULL AND (last_used_at IS NULL"
	"  OR last_used_at < now() - interval '60 seconds'))"
	" SELECT t.id, t.scope, u.id, u.username, u.role, u.disabled,"
	" t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()),"
	" coalesce(u.email, ''), u.display_name"
	" FROM api_tokens t JOIN users u ON u.id = t.user_id"
	" WHERE t.hash = $1", 1
};

static const struct db_stmt q_session_new = {
	"auth_session_new",
	"INSERT INTO sessions (user_id, expires_at, source_addr, user_agent)"
	" VALUES ($1, now() + make_interval(secs => $2::int), $3,"
	" left($4, 512)) RETURNING id", 4
};

static const struct db_stmt q_refresh_new = {
	"auth_refresh_new",
	"INSERT INTO refresh_tokens (hash, session_id) VALUES ($1, $2)", 2
};

const char *const auth_scopes[] = { "session", "read", "full", "workspace",
	NULL };

enum token_scope
auth_scope(const char *name)
{
	int i;

	for (i = SCOPE_READ; auth_scopes[i] != NULL; i++)
		if (strcmp(auth_scopes[i], name) == 0)
			return (enum token_scope)i;
	return SCOPE_READ;	/* unknown: the least */
}

int64_t
auth_now(void)
{
	return (int64_t)time(NULL);
}

char *
auth_random_token(struct arena *a, size_t bytes)
{
	unsigned char raw[64];
	size_t len;
	char *out;

	if (bytes > sizeof(raw))
		bytes = sizeof(raw);
	randombytes_buf(raw, bytes);
	len = sodium_base64_ENCODED_LEN(bytes,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out = arena_alloc(a, len);
	sodium_bin2base64(out, len, raw, bytes,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* SHA-256 as a bytea literal; the tokens hashed are high-entropy. */
char *
auth_hash_hex(struct arena *a, const char *s)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char *out = arena_alloc(a, 2 + 2 * sizeof(h) + 1);

	crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
	out[0] = '\\';
	out[1] = 'x';
	sodium_bin2hex(out + 2, 2 * sizeof(h) + 1, h, sizeof(h));
	return out;
}

const char *
cookie_name(struct request *req, enum cookie_kind k)
{
	static const char *const plain[] = { "warren_access",
	    "warren_refresh", "warren_csrf", "warren_oauth" };
	static const char *const host[] = { "__Host-warren_access",
	    "__Host-warren_refresh", "__Host-warren_csrf",
	    "__Host-warren_oauth" };

	return req->srv->secure ? host[k] : plain[k];
}

/*
 * Every value of cookie name, in the order the browser sent them.  A
 * browser sends several cookies of one name when a page of another host
 * in the domain set one with a Domain or a longer Path (a workspace on
 * http): each is tried, so such a cookie can neither lock a user out nor
 * stand in for the real one.
 */
int
cookie_values(struct request *req, const char *name, const char **out,
    int max)
{
	const char *h = req->header(req, "HTTP_COOKIE"), *p, *end;
	size_t nlen = strlen(name);
	int n = 0;

	for (p = h; p != NULL && *p != '\0' && n < max;
	    p = *end ? end + 1 : end) {
		while (*p == ' ')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=')
			out[n++] = arena_strndup(req->arena, p + nlen + 1,
			    (size_t)(end - p) - nlen - 1);
	}
	return n;
}

int
cookie_all(struct request *req, enum cookie_kind k, const char **out, int max)
{
	return cookie_values(req, cookie_name(req, k), out, max);
}

void
cookie_set(struct request *req, struct response *resp, enum cookie_kind k,
    const char *value, long max_age, bool http_only)
{
	resp_header(resp, "Set-Cookie", arena_printf(req->arena,
	    "%s=%s; Path=/; Max-Age=%ld; SameSite=Lax%s%s",
	    cookie_name(req, k), value, max_age, http_only ? "; HttpOnly" : "",
	    req->srv->secure ? "; Secure" : ""));
}

void
auth_clear_cookies(struct request *req, struct response *resp)
{
	cookie_set(req, resp, COOKIE_ACCESS, "", 0, true);
	cookie_set(req, resp, COOKIE_REFRESH, "", 0, true);
	cookie_set(req, resp, COOKIE_CSRF, "", 0, false);
}

static bool
same(const char *a, const char *b)
{
	size_t n;

	if (a == NULL || b == NULL || (n = strlen(a)) == 0 || n != strlen(b))
		return false;
	return sodium_memcmp(a, b, n) == 0;
}

/* Origin (or, without it, Referer) must be the deployment's own. */
bool
auth_origin_ok(struct request *req)
{
	const char *origin = req->header(req, "HTTP_ORIGIN");
	const char *referer = req->header(req, "HTTP_REFERER");
	size_t n = strlen(req->srv->origin);

	if (origin != NULL)
		return strcmp(origin, req->srv->origin) == 0;
	return referer != NULL && strncmp(referer, req->srv->origin, n) == 0 &&
	    referer[n] == '/';
}

bool
auth_csrf_ok(struct request *req)
{
	const char *v[COOKIE_MAX_SAME];
	int i, n = cookie_all(req, COOKIE_CSRF, v, COOKIE_MAX_SAME);

	for (i = 0; i < n; i++)
		if (same(req->header(req, "HTTP_X_CSRF_TOKEN"), v[i]))
			return auth_origin_ok(req);
	return false;
}

static bool
addr_trusted(struct request *req, const char *addr)
{
	const char *p = req->srv->conf.trusted_proxies;
	size_t n = strlen(addr);

	while (*p != '\0') {
		p += strspn(p, " ,");
		if (strncmp(p, addr, n) == 0 && (p[n] == '\0' || p[n] == ' ' ||
		    p[n] == ','))
			return true;
		p += strcspn(p, " ,");
	}
	return false;
}

static bool
is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * The peer nginx saw, unless it is a trusted proxy: then the right-most
 * X-Forwarded-For entry that is not one.
 */
const char *
auth_client_addr(struct request *req)
{
	const char *peer = req->remote_addr ? req->remote_addr : "";
	const char *xff;
	char *list, *p;
	bool last;

	if (req->client_addr != NULL)
		return req->client_addr;
	req->client_addr = peer;
	if (!addr_trusted(req, peer) ||
	    (xff = req->header(req, "HTTP_X_FORWARDED_FOR")) == NULL ||
	    strlen(xff) > 1024)
		return peer;
	list = arena_strdup(req->arena, xff);
	/* Walk from the right: each hop was added by the one after it. */
	for (last = false; !last;) {
		p = strrchr(list, ',');
		if (p != NULL)
			*p++ = '\0';
		else {
			p = list;
			last = true;
		}
		p += strspn(p, " ");
		p[strcspn(p, " ")] = '\0';
		if (!is_ip(p))
			break;
		req->client_addr = p;
		if (!addr_trusted(req, p))
			break;
	}
	return req->client_addr;
}

/* Who the caller is, from the columns of row 0 named. */
static void
caller_user(struct caller *c, PGresult *res, int username, int role,
    int email, int display_name)
{
	snprintf(c->username, sizeof(c->username), "%s",
	    PQgetvalue(res, 0, username));
	snprintf(c->role, sizeof(c->role), "%s", PQgetvalue(res, 0, role));
	snprintf(c->email, sizeof(c->email), "%s", PQgetvalue(res, 0, email));
	snprintf(c->display_name, sizeof(c->display_name), "%s",
	    PQgetvalue(res, 0, display_name));
}

static enum auth_result
resolve_access(struct request *req, const char *token, enum auth_via via)
{
	struct webtoken_claims c;
	enum webtoken_result r;
	PGresult *res = NULL;

	r = webtoken_verify(req->arena, &req->srv->keys, token,
	    req->srv->conf.public_url, AUDIENCE, "access", auth_now(), &c);
	if (r != WEBTOKEN_OK) {
		log_info("access token refused: %s", webtoken_result_str(r));
		return AUTH_INVALID;
	}
	if (!in_uuid(c.sub) || !in_uuid(c.sid))
		return AUTH_INVALID;
	switch (q_run(req, &q_session_caller, &res, c.sub, c.sid)) {
	case DB_OK:
		break;
	case DB_UNAVAILABLE:
		return AUTH_UNAVAILABLE;
	case DB_ERROR:
		return AUTH_INVALID;
	}
	if (PQntuples(res) != 1 || webtoken_check_valid_after(&c,
	    strtoll(PQgetvalue(res, 0, 4), NULL, 10)) != WEBTOKEN_OK)
		return AUTH_INVALID;
	req->caller.via = via;
	snprintf(req->caller.user_id, sizeof(req->caller.user_id), "%s", c.sub);
	snprintf(req->caller.session_id, sizeof(req->caller.session_id), "%s",
	    c.sid);
	caller_user(&req->caller, res, 0, 1, 2, 3);
	return AUTH_OK;
}

static enum auth_result
resolve_api_token(struct request *req, const char *token, long *retry_after)
{
	PGresult *res = NULL;
	bool ok;

	if (strlen(token) > 128)
		return AUTH_INVALID;
	switch (q_run(req, &q_token_caller, &res,
	    auth_hash_hex(req->arena, token))) {
	case DB_OK:
		break;
	case DB_UNAVAILABLE:
		return AUTH_UNAVAILABLE;
	case DB_ERROR:
		return AUTH_INVALID;
	}
	if (PQntuples(res) != 1 || q_bool(res, 0, 5) || !q_bool(res, 0, 6))
		return AUTH_INVALID;
	/* The budget of every host together (throttle.h). */
	switch (throttle_take(req, arena_printf(req->arena, "token:%s",
	    PQgetvalue(res, 0, 0)), req->srv->conf.token_rate_limit, 60, &ok,
	    retry_after)) {
	case DB_OK:
		break;
	case DB_UNAVAILABLE:
	case DB_ERROR:
		return AUTH_UNAVAILABLE;
	}
	if (!ok)
		return AUTH_LIMITED;
	req->caller.via = AUTH_API_TOKEN;
	req->caller.scope = auth_scope(PQgetvalue(res, 0, 1));
	snprintf(req->caller.token_id, sizeof(req->caller.token_id), "%s",
	    PQgetvalue(res, 0, 0));
	snprintf(req->caller.user_id, sizeof(req->caller.user_id), "%s",
	    PQgetvalue(res, 0, 2));
	caller_user(&req->caller, res, 3, 4, 7, 8);
	return AUTH_OK;
}

enum auth_result
auth_resolve(struct request *req, long *retry_after)
{
	const char *h = req->header(req, "HTTP_AUTHORIZATION"), *tok;

	*retry_after = 0;
	if (h != NULL) {
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return AUTH_INVALID;
		tok = h + 7;
		while (*tok == ' ')
			tok++;
		if (strncmp(tok, API_TOKEN_PREFIX,
		    strlen(API_TOKEN_PREFIX)) == 0)
			return resolve_api_token(req, tok, retry_after);
		return resolve_access(req, tok, AUTH_BEARER);
	}
	{
		const char *v[COOKIE_MAX_SAME];
		enum auth_result r = AUTH_ANONYMOUS;
		int i, n = cookie_all(req, COOKIE_ACCESS, v, COOKIE_MAX_SAME);

		for (i = 0; i < n; i++) {
			if (*v[i] == '\0')
				continue;
			if ((r = resolve_access(req, v[i], AUTH_COOKIE)) ==
			    AUTH_OK || r == AUTH_UNAVAILABLE)
				return r;
		}
		return r;
	}
}

char *
auth_access_token(struct request *req, const char *user_id,
    const char *session_id)
{
	struct webtoken_claims c;
	int64_t now = auth_now();

	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", user_id);
	snprintf(c.sid, sizeof(c.sid), "%s", session_id);
	snprintf(c.jti, sizeof(c.jti), "%s", auth_random_token(req->arena,
	    16));
	snprintf(c.typ, sizeof(c.typ), "access");
	c.iat = c.nbf = now;
	c.exp = now + req->srv->conf.access_token_ttl;
	return webtoken_sign(req->arena, &req->srv->keys,
	    req->srv->conf.public_url, AUDIENCE, &c);
}

/* Cookies always; the tokens in the body only for non-browser clients. */
static void
hand_out(struct request *req, struct response *resp, const char *access,
    const char *refresh, long lifetime, struct json_object *answer)
{
	const char *csrf = auth_random_token(req->arena, 18);
	long ttl = req->srv->conf.access_token_ttl;

	cookie_set(req, resp, COOKIE_ACCESS, access, ttl, true);
	cookie_set(req, resp, COOKIE_REFRESH, refresh, lifetime, true);
	cookie_set(req, resp, COOKIE_CSRF, csrf, lifetime, false);
	json_object_object_add(answer, "csrf_token",
	    json_object_new_string(csrf));
	json_object_object_add(answer, "token_type",
	    json_object_new_string("Bearer"));
	json_object_object_add(answer, "expires_in", json_object_new_int64(ttl));
	if (req->header(req, "HTTP_ORIGIN") == NULL) {
		json_object_object_add(answer, "access_token",
		    json_object_new_string(access));
		json_object_object_add(answer, "refresh_token",
		    json_object_new_string(refresh));
	}
}

int
auth_start_session(struct request *req, struct response *resp,
    const char *user_id, struct json_object *answer)
{
	const char *ua = req->header(req, "HTTP_USER_AGENT");
	char *refresh, *lifetime, *sid;
	PGresult *res = NULL;

	lifetime = arena_printf(req->arena, "%ld",
	    req->srv->conf.session_lifetime);
	if (!q_do(req, resp, &q_session_new, &res, user_id, lifetime,
	    auth_client_addr(req), ua ? ua : ""))
		return -1;
	sid = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	refresh = auth_random_token(req->arena, 32);
	if (!q_do(req, resp, &q_refresh_new, &res, auth_hash_hex(req->arena,
	    refresh), sid))
		return -1;
	json_object_object_add(answer, "session_id",
	    json_object_new_string(sid));
	hand_out(req, resp, auth_access_token(req, user_id, sid), refresh,
	    req->srv->conf.session_lifetime, answer);
	return 0;
}

void
auth_rotated(struct request *req, struct response *resp, const char *user_id,
    const char *session_id, const char *refresh, long lifetime_left,
    struct json_object *answer)
{
	hand_out(req, resp, auth_access_token(req, user_id, session_id),
	    refresh, lifetime_left, answer);
}

int
auth_password_hash(struct request *req, const char *pw, char **out)
{
	char *h = arena_alloc(req->arena, PASSWORD_HASH_SIZE);
	int rc;

	if (!ratelimit_acquire_slot(SLOT_HASHING,
	    req->srv->conf.max_concurrent_hashes))
		return -1;
	rc = password_hash(h, pw);
	ratelimit_release_slot(SLOT_HASHING);
	if (rc == -1)
		fatalx("password hashing: out of memory");
	*out = h;
	return 0;
}

int
auth_password_verify(struct request *req, const char *hash,
    const char *pw, bool *ok)
{
	if (!ratelimit_acquire_slot(SLOT_HASHING,
	    req->srv->conf.max_concurrent_hashes))
		return -1;
	*ok = password_verify(hash, pw);
	ratelimit_release_slot(SLOT_HASHING);
	return 0;
}
