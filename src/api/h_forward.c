/*
 * Routing to workspaces.  The data plane (nginx auth_request, Traefik
 * forwardAuth, Apache mod_authnz_fcgi as a FastCGI Authorizer) asks
 * GET /api/v1/auth/forward about every proxied request;
 * a browser gets its own short-lived, host-only cookie for a workspace host
 * through a one-time code handed over from the API host, so the platform's
 * session cookie never reaches a workspace.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "audit.h"
#include "auth.h"
#include "handlers.h"
#include "httpc.h"
#include "input.h"
#include "json.h"
#include "listcache.h"
#include "log.h"
#include "problem.h"
#include "query.h"
#include "server.h"
#include "spec.h"
#include "util.h"
#include "wstatus.h"

#define WS_AUDIENCE_PREFIX	"warren-ws:"
#define WS_COOKIE		"warren_ws"
#define HANDOFF_TTL		30	/* seconds a one-time code lives */
#define CACHE_SIZE		128
#define CACHE_TTL_MS		1000

/*
 * The decision and the activity it makes, in one statement: who may open
 * the port (the owner; by its share level, at most the template's, org
 * members, anyone signed in or anyone; admins where the config allows),
 * and for a signed-in caller let through to a running workspace, its
 * activity, written at most once a minute.  $2 user, $4 session, $5 the
 * credential's issue time (0: none), $6 workspace_admin_access, $7 the
 * activity's cause (NULL: not a signed-in caller), $8 the publish address
 * of a Docker host without one of its own (docker_hosts.publish_address).
 */
static const struct db_stmt q_forward = {
	"forward_lookup",
	"WITH x AS (SELECT w.id, w.owner_id, w.status,"
	"  coalesce($3::int, (v.ports->0->>'port')::int) AS port,"
	"  d.ports->>coalesce($3::int, (v.ports->0->>'port')::int)::text"
	"   AS hostport,"
	"  coalesce(ps.level, 'owner') AS level, v.max_share_level, u.role,"
	"  EXISTS (SELECT 1 FROM memberships a JOIN memberships b"
	"   ON a.org_id = b.org_id WHERE a.user_id = w.owner_id"
	"   AND b.user_id = $2::uuid AND (w.org_id IS NULL OR"
	"   a.org_id = w.org_id)) AS member,"
	"  EXISTS (SELECT 1 FROM jsonb_array_elements(v.ports) p"
	"   WHERE (p->>'port')::int = coalesce($3::int,"
	"   (v.ports->0->>'port')::int)) AS port_known,"
	"  ($2::uuid IS NOT NULL AND NOT coalesce(u.disabled, true)"
	"   AND ($4::uuid IS NULL OR coalesce(s.revoked_at IS NULL"
	"   AND s.expires_at > now(), false)) AND ($5::bigint = 0 OR $5 >="
	"   coalesce(floor(extract(epoch FROM u.valid_after))::bigint, 0)))"
	"   AS known,"
	"  warren_upstream_host(h.publish_address, $8) AS publish"
	"  FROM workspace_states w"
	"  JOIN template_versions v ON v.id = w.template_version_id"
	"  LEFT JOIN deployments d ON d.workspace_id = w.id"
	"  LEFT JOIN docker_hosts h ON h.name = d.docker_host"
	"  LEFT JOIN port_shares ps ON ps.workspace_id = w.id"
	"   AND ps.port = coalesce($3::int, (v.ports->0->>'port')::int)"
	"  LEFT JOIN users u ON u.id = $2::uuid"
	"  LEFT JOIN sessions s ON s.id = $4::uuid"
	"  WHERE w.short_id = $1 AND w.deleted_at IS NULL),"
	" y AS (SELECT x.*, (x.known AND x.owner_id = $2::uuid)"
	"  OR e.level = 'public' OR (x.known AND e.level = 'authenticated')"
	"  OR (x.known AND e.level = 'org' AND x.member)"
	"  OR (x.known AND $6::bool AND x.role = 'admin') AS allowed"
	"  FROM x, LATERAL (SELECT CASE WHEN array_position(" SHARE_LEVELS_SQL
	"  , x.level) > array_position(" SHARE_LEVELS_SQL ", x.max_share_level)"
	"  THEN x.max_share_level ELSE x.level END AS level) e),"
	" act AS (UPDATE workspaces SET last_activity_at = now(),"
	"  last_activity_cause = $7 FROM y WHERE workspaces.id = y.id"
	"  AND $7::text IS NOT NULL AND y.known AND y.allowed AND y.port_known"
	"  AND y.status = 'running' AND y.hostport IS NOT NULL"
	"  AND (workspaces.last_activity_at IS NULL OR"
	"  workspaces.last_activity_at < now() - interval '60 seconds'))"
	" SELECT id, owner_id, status, port, hostport, allowed, known,"
	" port_known, publish FROM y", 8
};

static const struct db_stmt q_handoff_new = {
	"handoff_new",
	"WITH old AS (DELETE FROM handoff_codes WHERE expires_at < now())"
	" INSERT INTO handoff_codes (code_hash, user_id, session_id, host,"
	" expires_at) VALUES ($1, $2, $3, $4,"
	" now() + make_interval(secs => $5::int))", 5
};

static const struct db_stmt q_handoff_take = {
	"handoff_take",
	"DELETE FROM handoff_codes WHERE code_hash = $1"
	" RETURNING user_id, session_id, host, expires_at > now()", 1
};

/*
 * The pages a FastCGI Authorizer answers itself: the web server sends a
 * refusal to the client as it is, so it says what nginx's site says.
 */
static const struct {
	const char	*state;
	int		 status;
	const char	*retry_after;
	const char	*text;
} pages[] = {
	{ "signin",	401, NULL, "Sign in to reach this workspace.\n" },
	{ "denied",	403, NULL, "You may not open this workspace.\n" },
	{ "notfound",	404, NULL, "No such workspace.\n" },
	{ "stopped",	503, NULL, "This workspace is stopped.\n" },
	{ "starting",	503, "2", "This workspace is starting.\n" },
	{ "unreachable", 503, "5", "This workspace's Docker host does not "
	    "answer.\n" },
};

/* The page a workspace that is not running gets, by its status. */
static const char *
forward_page(int ws)
{
	switch (ws) {
	case WS_UNKNOWN:
		return "unreachable";
	case WS_RUNNING:		/* no published port yet */
	case WS_STARTING:
	case WS_RESTARTING:
	case WS_UPDATING:
		return "starting";
	default:
		return "stopped";
	}
}

/*
 * A short per-worker memory of recent answers (and activity writes), good
 * while nothing they read has changed: PostgreSQL announces each change
 * (listcache.h's epoch), and the second bounds what only time changes
 * (a token's or a session's expiry).
 */
struct cached {
	char		 key[200];
	int64_t		 at_ms;
	unsigned long	 epoch;
	int		 allowed;	/* 1 yes, 0 no */
	char		 upstream[CONF_STR_MAX + 8];
	char		 state[16];
	int		 status;
};

static struct cached	cache[CACHE_SIZE];

static unsigned
slot(const char *key)
{
	unsigned h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % CACHE_SIZE;
}

/*
 * "<short-id>.<base_domain>[:port]" or "<short-id>-<port>.<base_domain>":
 * fills the short id, the port (0 for the main one) and the label.
 */
static bool
parse_host(struct request *req, const char *host, char *short_id,
    long *port, char *label)
{
	const char *base = req->srv->conf.base_domain, *dot, *dash;
	size_t hlen, blen = strlen(base);
	char *end;

	if (host == NULL || (dot = strchr(host, '.')) == NULL)
		return false;
	hlen = strcspn(host, ":");
	/* Nothing after the name but an optional ":" and 1 to 5 digits. */
	if (host[hlen] == ':' && (strlen(host + hlen + 1) < 1 ||
	    strlen(host + hlen + 1) > 5 || strspn(host + hlen + 1,
	    "0123456789") != strlen(host + hlen + 1)))
		return false;
	if (hlen != (size_t)(dot - host) + 1 + blen ||
	    strncasecmp(dot + 1, base, blen) != 0)
		return false;
	if ((size_t)(dot - host) > 63)
		return false;
	snprintf(label, 64, "%.*s", (int)(dot - host), host);
	*port = 0;
	if ((dash = strchr(label, '-')) != NULL) {
		*port = strtol(dash + 1, &end, 10);
		if (end == dash + 1 || *end != '\0' || *port < 1 ||
		    *port > 65535 || dash[1] == '0')
			return false;
	}
	snprintf(short_id, 16, "%.*s", dash ? (int)(dash - label) :
	    (int)strlen(label), label);
	return strlen(short_id) == 10 &&
	    strspn(short_id, "abcdefghijklmnopqrstuvwxyz234567") == 10;
}

/* Asked in the FastCGI Authorizer role, about the client's own request. */
static bool
authorizer(struct request *req)
{
	const char *role = req->header(req, "FCGI_ROLE");

	return role != NULL && strcmp(role, "AUTHORIZER") == 0;
}

/*
 * Traefik's forwardAuth (X-Forwarded-Uri, not nginx's X-Original-URI)
 * hands a refusal to the browser as it is, like Apache's Authorizer: both
 * get the pages.  nginx's auth_request takes only 401 and 403 and shows
 * its own.
 */
static bool
pages_wanted(struct request *req)
{
	return authorizer(req) || (req->header(req, "HTTP_X_ORIGINAL_URI") ==
	    NULL && req->header(req, "HTTP_X_FORWARDED_URI") != NULL);
}

static const char *
forwarded_host(struct request *req)
{
	const char *h = authorizer(req) ? NULL :
	    req->header(req, "HTTP_X_FORWARDED_HOST");

	return h ? h : req->header(req, "HTTP_HOST");
}

/* The request target the data plane was asked for. */
static const char *
original_uri(struct request *req)
{
	const char *uri;

	if (authorizer(req))
		return req->header(req, "REQUEST_URI");
	uri = req->header(req, "HTTP_X_ORIGINAL_URI");
	return uri ? uri : req->header(req, "HTTP_X_FORWARDED_URI");
}

/* The workspace host's own cookie: __Host- on https, like the API's. */
static const char *
ws_cookie_name(struct request *req)
{
	return req->srv->secure ? "__Host-" WS_COOKIE : WS_COOKIE;
}

/*
 * The values of the workspace cookie (all of them: a page of another host
 * in the domain may have set one too, on http), and the Cookie header
 * without any of Warren's cookies for the workspace.
 */
static int
split_cookies(struct request *req, const char **found, int max,
    const char **rest)
{
	const char *h = req->header(req, "HTTP_COOKIE"), *p, *end;
	const char *name = ws_cookie_name(req);
	size_t n = strlen(name), o = 0;
	char *out;
	int nfound = 0;

	*rest = "";
	if (h == NULL)
		return 0;
	out = arena_alloc(req->arena, strlen(h) + 1);
	for (p = h; *p != '\0'; p = *end ? end + 1 : end) {
		while (*p == ' ')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 &&
		    p[n] == '=' && nfound < max)
			found[nfound++] = arena_strndup(req->arena, p + n + 1,
			    (size_t)(end - p) - n - 1);
		/* No Warren cookie of any kind goes on to a workspace. */
		if (strncmp(p, "warren_", 7) == 0 ||
		    strncmp(p, "__Host-warren_", 14) == 0)
			continue;
		if (o > 0) {
			out[o++] = ';';
			out[o++] = ' ';
		}
		memcpy(out + o, p, (size_t)(end - p));
		o += (size_t)(end - p);
	}
	out[o] = '\0';
	*rest = out;
	return nfound;
}

static const char *safe_path(struct request *, const char *);

/*
 * A short digest of the workspace cookies or the Authorization header, "-"
 * for none: the cache's key.
 */
static const char *
credential_hash(struct request *req, const char **cookies, int ncookies)
{
	const char *h = req->header(req, "HTTP_AUTHORIZATION");
	crypto_generichash_state st;
	unsigned char out[16];
	char *hex;
	int i;

	if (ncookies == 0 && h == NULL)
		return "-";
	crypto_generichash_init(&st, NULL, 0, sizeof(out));
	for (i = 0; i < ncookies; i++)
		crypto_generichash_update(&st, (const unsigned char *)
		    cookies[i], strlen(cookies[i]) + 1);
	if (ncookies == 0)
		crypto_generichash_update(&st, (const unsigned char *)h,
		    strlen(h));
	crypto_generichash_final(&st, out, sizeof(out));
	hex = arena_alloc(req->arena, 2 * sizeof(out) + 2);
	hex[0] = ncookies ? 'c' : 'a';
	sodium_bin2hex(hex + 1, 2 * sizeof(out) + 1, out, sizeof(out));
	return hex;
}

static void
deny(struct request *req, struct response *resp, int status,
    const char *state)
{
	const char *text = state;
	size_t i;

	resp_header(resp, "X-Warren-State", state);
	for (i = 0; pages_wanted(req) && i < sizeof(pages) / sizeof(pages[0]);
	    i++)
		if (strcmp(pages[i].state, state) == 0) {
			status = pages[i].status;
			text = pages[i].text;
			if (pages[i].retry_after != NULL)
				resp_header(resp, "Retry-After",
				    pages[i].retry_after);
		}
	resp_text(resp, status, "text/plain; charset=utf-8", text,
	    strlen(text));
}

/* Who asks: a workspace cookie, or a Bearer token from a script. */
static bool
identify(struct request *req, const char *label, const char **cookies,
    int ncookies, char *uid, char *sid, bool *bearer, int64_t *iat)
{
	const char *h = req->header(req, "HTTP_AUTHORIZATION");
	struct webtoken_claims c;
	long retry;
	int i;

	*bearer = false;
	*iat = 0;
	uid[0] = sid[0] = '\0';
	/* The first of the workspace cookies that is this host's. */
	for (i = 0; i < ncookies; i++) {
		if (webtoken_verify(req->arena, &req->srv->keys, cookies[i],
		    req->srv->conf.public_url, arena_printf(req->arena, "%s%s",
		    WS_AUDIENCE_PREFIX, label), "workspace", auth_now(), &c)
		    != WEBTOKEN_OK || !in_uuid(c.sub) || !in_uuid(c.sid))
			continue;
		snprintf(uid, 64, "%s", c.sub);
		snprintf(sid, 64, "%s", c.sid);
		*iat = c.iat;
		return true;
	}
	if (ncookies > 0)
		return false;
	/* An access token is checked here; its session and user by the
	 * one lookup statement, like a cookie's. */
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
	    strncmp(h + 7, API_TOKEN_PREFIX, strlen(API_TOKEN_PREFIX)) != 0) {
		if (webtoken_verify(req->arena, &req->srv->keys, h + 7,
		    req->srv->conf.public_url, "warren", "access", auth_now(),
		    &c) != WEBTOKEN_OK || !in_uuid(c.sub) || !in_uuid(c.sid))
			return false;
		snprintf(uid, 64, "%s", c.sub);
		snprintf(sid, 64, "%s", c.sid);
		*iat = c.iat;
		*bearer = true;
		return true;
	}
	/* API tokens need their own lookup. */
	if (h != NULL && auth_resolve(req, &retry) == AUTH_OK) {
		*bearer = true;
		snprintf(uid, 64, "%s", req->caller.user_id);
		snprintf(sid, 64, "%s", req->caller.session_id);
		return true;
	}
	return false;
}

static void
answer(struct request *req, struct response *resp, const struct cached *c,
    const char *rest)
{
	/* Traefik's catch-all router for workspace hosts (pending=1): the
	 * host has no router of its own yet, so an allowed visitor is told
	 * it is starting rather than let through to nowhere. */
	if (c->allowed && query_param(req, "pending") != NULL) {
		deny(req, resp, 403, "starting");
		return;
	}
	if (!c->allowed) {
		deny(req, resp, c->status, c->state);
		if (c->status == 401) {
			/* Where a browser goes to sign in and come back. */
			const char *uri = original_uri(req);
			const char *accept = req->header(req, "HTTP_ACCEPT");
			const char *signin = arena_printf(req->arena,
			    "%s/api/v1/auth/handoff?host=%s&path=%s",
			    req->srv->conf.public_url, httpc_escape(req->arena,
			    forwarded_host(req)), httpc_escape(req->arena,
			    safe_path(req, uri)));

			resp_header(resp, "X-Warren-Signin", signin);
			resp_header(resp, "WWW-Authenticate",
			    "Bearer realm=\"warren\"");
			/* Traefik and Apache hand answers back as they are: a
			 * browser (nginx passes no Accept) is sent to sign in
			 * here. */
			if (accept != NULL && strstr(accept, "text/html")) {
				resp_header(resp, "Location", signin);
				resp->status = 302;
			}
		}
		return;
	}
	/* For an Authorizer, variables of the request it lets through. */
	if (authorizer(req)) {
		resp_header(resp, "Variable-WARREN_UPSTREAM",
		    arena_strdup(req->arena, c->upstream));
		resp_header(resp, "Variable-WARREN_COOKIE", rest);
		resp_text(resp, 200, NULL, "", 0);
		return;
	}
	resp_header(resp, "X-Warren-Upstream", arena_strdup(req->arena,
	    c->upstream));
	resp_header(resp, "X-Warren-Cookie", rest);
	/* Traefik copies this one onto the request (authResponseHeaders). */
	resp_header(resp, "Cookie", rest[0] ? rest : "warren_none=1");
	resp_text(resp, 200, "text/plain; charset=utf-8", "ok", 2);
}

void
h_forward(struct request *req, struct response *resp)
{
	const char *rest, *cookies[COOKIE_MAX_SAME], *hostport, *key;
	char short_id[16], label[64], uid[64], sid[64];
	struct cached *c, fresh;
	int ws;
	PGresult *res = NULL;
	bool bearer, known, listening;
	unsigned long epoch;
	int64_t iat;
	long port;
	int ncookies;

	ncookies = split_cookies(req, cookies, COOKIE_MAX_SAME, &rest);
	if (!parse_host(req, forwarded_host(req), short_id, &port, label)) {
		deny(req, resp, 403, "notfound");
		return;
	}
	/*
	 * The same credentials for the same host within the cache's second
	 * get the same answer: the key is a hash of exactly what was
	 * presented, so a hit needs neither a signature check nor the
	 * database.
	 */
	key = arena_printf(req->arena, "%s|%s", label, credential_hash(req,
	    cookies, ncookies));
	c = &cache[slot(key)];
	listening = lc_sync(req->srv->db, req->arena);
	epoch = lc_epoch();
	if (listening && strcmp(c->key, key) == 0 && c->epoch == epoch &&
	    now_ms() - c->at_ms < CACHE_TTL_MS) {
		answer(req, resp, c, rest);
		return;
	}
	known = identify(req, label, cookies, ncookies, uid, sid, &bearer,
	    &iat);
	/* A token that may only read the API opens no workspace. */
	if (known && req->caller.scope == SCOPE_READ) {
		memset(&fresh, 0, sizeof(fresh));
		snprintf(fresh.key, sizeof(fresh.key), "%s", key);
		fresh.at_ms = now_ms();
		fresh.status = 403;
		snprintf(fresh.state, sizeof(fresh.state), "denied");
		goto done;
	}
	if (!q_do(req, resp, &q_forward, &res, short_id, known ? uid : NULL,
	    port ? arena_printf(req->arena, "%ld", port) : NULL,
	    known && sid[0] ? sid : NULL, arena_printf(req->arena, "%lld",
	    known ? (long long)iat : 0LL),
	    req->srv->conf.workspace_admin_access ? "true" : "false",
	    known ? (bearer ? "api" : "http") : NULL,
	    req->srv->conf.docker_publish_address))
		return;
	memset(&fresh, 0, sizeof(fresh));
	snprintf(fresh.key, sizeof(fresh.key), "%s", key);
	fresh.at_ms = now_ms();
	if (PQntuples(res) == 0 || !q_bool(res, 0, 7)) {
		fresh.status = 403;
		snprintf(fresh.state, sizeof(fresh.state), "notfound");
		goto done;
	}
	/* A user who is disabled, signed out or logged out everywhere, or
	 * whose credential predates their valid-after time, is nobody. */
	known = q_bool(res, 0, 6);
	if (!q_bool(res, 0, 5)) {
		fresh.status = known ? 403 : 401;
		snprintf(fresh.state, sizeof(fresh.state), known ? "denied" :
		    "signin");
		goto done;
	}
	ws = ws_status_parse(PQgetvalue(res, 0, 2));
	hostport = q_get(res, 0, 4);
	if (ws != WS_RUNNING || hostport == NULL) {
		fresh.status = 403;
		snprintf(fresh.state, sizeof(fresh.state), "%s",
		    forward_page(ws));
		goto done;
	}
	fresh.allowed = 1;
	/* On the workspace's Docker host: its row's address, or ours. */
	snprintf(fresh.upstream, sizeof(fresh.upstream), "%s:%s",
	    PQgetvalue(res, 0, 8), hostport);
done:
	/*
	 * Kept only when a change would be heard of, and never while the
	 * workspace starts: its notice may reach this worker a moment after
	 * the build's commit, and the first request after the build gets the
	 * workspace, asking the database again until then.
	 */
	fresh.epoch = epoch;
	if (!listening || strcmp(fresh.state, "starting") == 0)
		fresh.key[0] = '\0';
	*c = fresh;
	answer(req, resp, c, rest);
}

static const char *
httpc_escape_path(struct request *req, const char *s)
{
	return httpc_escape(req->arena, s);
}

/* Only paths of the workspace: "/x", never "//host". */
static const char *
safe_path(struct request *req, const char *raw)
{
	if (raw == NULL || raw[0] != '/' || raw[1] == '/' || raw[1] == '\\' ||
	    strlen(raw) > 2048 || strpbrk(raw, "\r\n\\") != NULL)
		return "/";
	return arena_strdup(req->arena, raw);
}

/* ":8080" when public_url names a port, else "". */
static const char *
public_port(struct request *req)
{
	const char *host = strstr(req->srv->conf.public_url, "://") + 3;
	const char *colon = strchr(host, ':');
	char *p;

	if (colon == NULL)
		return "";
	p = arena_strdup(req->arena, colon);
	p[strcspn(p, "/")] = '\0';
	return p;
}

/*
 * On the API host: a signed-in browser gets a one-time code bound to the
 * workspace host, and goes there with it.  Not signed in: to the sign-in
 * page, which brings it back here.
 */
void
h_handoff(struct request *req, struct response *resp)
{
	const char *host = query_param(req, "host");
	const char *path = safe_path(req, query_param(req, "path"));
	const char *scheme = req->srv->secure ? "https" : "http";
	char short_id[16], label[64], *code;
	PGresult *res = NULL;
	long port, retry;

	if (!parse_host(req, host, short_id, &port, label)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "host is not a "
		    "workspace host");
		return;
	}
	if (auth_resolve(req, &retry) != AUTH_OK ||
	    req->caller.via != AUTH_COOKIE) {
		resp_header(resp, "Location", arena_printf(req->arena,
		    "%s/?next=%s", req->srv->conf.public_url,
		    httpc_escape_path(req, req->uri)));
		resp_text(resp, 302, NULL, "", 0);
		return;
	}
	code = auth_random_token(req->arena, 32);
	/* Bound to the host's label: the port is the proxy's business. */
	if (!q_do(req, resp, &q_handoff_new, &res, auth_hash_hex(req->arena,
	    code), req->caller.user_id, req->caller.session_id, label,
	    arena_printf(req->arena, "%d", HANDOFF_TTL)))
		return;
	/* Never the host as given: the label, our domain, our port. */
	resp_header(resp, "Location", arena_printf(req->arena,
	    "%s://%s.%s%s/_warren/handoff?code=%s&path=%s", scheme, label,
	    req->srv->conf.base_domain, public_port(req), code,
	    httpc_escape_path(req, path)));
	resp_text(resp, 302, NULL, "", 0);
}

/* On the workspace host: the code becomes the host's own cookie. */
void
h_handoff_redeem(struct request *req, struct response *resp)
{
	const char *code = query_param(req, "code");
	const char *path = safe_path(req, query_param(req, "path"));
	const char *host = forwarded_host(req);
	char short_id[16], label[64];
	struct webtoken_claims c;
	PGresult *res = NULL;
	long port;

	if (code == NULL || strlen(code) > 100 ||
	    !parse_host(req, host, short_id, &port, label)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "code and a workspace "
		    "host are required");
		return;
	}
	if (!q_do(req, resp, &q_handoff_take, &res, auth_hash_hex(req->arena,
	    code)))
		return;
	if (PQntuples(res) == 0 || !q_bool(res, 0, 3) ||
	    strcmp(PQgetvalue(res, 0, 2), label) != 0) {
		problem(req, resp, PROBLEM_FORBIDDEN, "this hand-off code is "
		    "not valid here");
		return;
	}
	memset(&c, 0, sizeof(c));
	snprintf(c.sub, sizeof(c.sub), "%s", PQgetvalue(res, 0, 0));
	snprintf(c.sid, sizeof(c.sid), "%s", PQgetvalue(res, 0, 1));
	snprintf(c.jti, sizeof(c.jti), "%s", auth_random_token(req->arena, 16));
	snprintf(c.typ, sizeof(c.typ), "workspace");
	c.iat = c.nbf = auth_now();
	c.exp = c.iat + req->srv->conf.workspace_cookie_ttl;
	/* Host-only (no Domain), so no other host ever receives it. */
	resp_header(resp, "Set-Cookie", arena_printf(req->arena,
	    "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s",
	    ws_cookie_name(req),
	    webtoken_sign(req->arena, &req->srv->keys,
	    req->srv->conf.public_url, arena_printf(req->arena, "%s%s",
	    WS_AUDIENCE_PREFIX, label), &c), req->srv->conf.workspace_cookie_ttl,
	    req->srv->secure ? "; Secure" : ""));
	resp_header(resp, "Location", path);
	resp_text(resp, 302, NULL, "", 0);
}
