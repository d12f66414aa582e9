/*
 * Desired state, written in one transaction with the build that asks for
 * it, the quota check that allows it, the audit entry that records it and
 * the NOTIFY that wakes the reconciler.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "auth.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "server.h"
#include "workspace.h"

static const struct db_stmt q_ws_get = {
	"ws_get", "SELECT " WS_COLUMNS " FROM workspace_states w"
	" WHERE w.id = $1 AND w.deleted_at IS NULL", 1
};

static const struct db_stmt q_ws_lock = {
	"ws_lock", "SELECT id FROM workspaces WHERE id = $1"
	" AND deleted_at IS NULL FOR UPDATE", 1
};

static const struct db_stmt q_lock_user = {
	"quota_lock_user", "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", 1
};

static const struct db_stmt q_lock_org = {
	"quota_lock_org",
	"SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE", 1
};

#define USAGE(col) \
	"(SELECT count(*) FROM workspaces w WHERE w." col " = $1" \
	" AND w.deleted_at IS NULL AND w.desired_state <> 'deleted')," \
	" (SELECT count(*) FROM workspaces w WHERE w." col " = $1" \
	" AND w.deleted_at IS NULL AND w.desired_state = 'running')," \
	" (SELECT coalesce(sum(v.cpu_millis), 0) FROM workspaces w" \
	" JOIN template_versions v ON v.id = w.template_version_id" \
	" WHERE w." col " = $1 AND w.deleted_at IS NULL" \
	" AND w.desired_state = 'running')," \
	" (SELECT coalesce(sum(v.memory_mb), 0) FROM workspaces w" \
	" JOIN template_versions v ON v.id = w.template_version_id" \
	" WHERE w." col " = $1 AND w.deleted_at IS NULL" \
	" AND w.desired_state = 'running')"

static const struct db_stmt q_quota_user = {
	"quota_user",
	"SELECT coalesce(q.max_workspaces, nullif($2::int, 0)),"
	" coalesce(q.max_running, nullif($3::int, 0)), q.max_cpu_millis,"
	" q.max_memory_mb, " USAGE("owner_id")
	" FROM (SELECT 1) x LEFT JOIN quotas q ON q.scope = 'user'"
	" AND q.subject_id = $1", 3
};

static const struct db_stmt q_quota_org = {
	"quota_org",
	"SELECT q.max_workspaces, q.max_running, q.max_cpu_millis,"
	" q.max_memory_mb, " USAGE("org_id")
	" FROM (SELECT 1) x LEFT JOIN quotas q ON q.scope = 'org'"
	" AND q.subject_id = $1", 1
};

static const struct db_stmt q_active_build = {
	"ws_active_build",
	"SELECT id, number, transition, status, created_at FROM workspace_builds"
	" WHERE workspace_id = $1 AND status IN ('pending', 'running')", 1
};

static const struct db_stmt q_build_new = {
	"ws_build_new",
	"INSERT INTO workspace_builds (workspace_id, number, transition, reason,"
	" initiator_id, template_version_id)"
	" SELECT w.id, coalesce((SELECT max(number) FROM workspace_builds"
	" WHERE workspace_id = w.id), 0) + 1, $2, $3, $4,"
	" coalesce($5::uuid, w.template_version_id)"
	" FROM workspaces w WHERE w.id = $1 RETURNING id", 5
};

/* The desired state each transition asks for, with its schedule fields. */
static const struct db_stmt q_desire = {
	"ws_desire",
	"UPDATE workspaces SET"
	" desired_state = CASE $2 WHEN 'stop' THEN 'stopped'"
	"  WHEN 'delete' THEN 'deleted' ELSE 'running' END,"
	" template_version_id = coalesce($3::uuid, template_version_id),"
	" deadline = CASE WHEN $2 IN ('start', 'restart', 'update')"
	"  AND autostop_ttl IS NOT NULL"
	"  THEN now() + make_interval(secs => autostop_ttl) ELSE deadline END,"
	" max_deadline = CASE WHEN $2 = 'start' THEN now() +"
	"  (SELECT make_interval(secs => max_lifetime) FROM template_versions"
	"  WHERE id = coalesce($3::uuid, workspaces.template_version_id))"
	"  ELSE max_deadline END,"
	" dormant_at = CASE WHEN $2 = 'start' THEN NULL ELSE dormant_at END,"
	" deleting_at = CASE WHEN $2 = 'delete' THEN now() ELSE deleting_at END,"
	" updated_at = now()"
	" WHERE id = $1", 3
};

static const struct db_stmt q_notify = {
	"ws_notify", "SELECT pg_notify('warren_reconcile', $1)", 1
};

static const struct db_stmt q_idem_take = {
	"idem_take",
	"WITH old AS (DELETE FROM idempotency_keys WHERE created_at <"
	" now() - interval '24 hours')"
	" INSERT INTO idempotency_keys (user_id, key, route, request_hash,"
	" status, body) VALUES ($1, $2, $3, $4, 0, '')"
	" ON CONFLICT DO NOTHING RETURNING 1", 4
};

static const struct db_stmt q_idem_get = {
	"idem_get",
	"SELECT route, request_hash, status, body FROM idempotency_keys"
	" WHERE user_id = $1 AND key = $2", 2
};

static const struct db_stmt q_idem_put = {
	"idem_put",
	"UPDATE idempotency_keys SET status = $3, body = $4"
	" WHERE user_id = $1 AND key = $2", 4
};

static bool
sees_all(struct request *req, bool write)
{
	return strcmp(req->caller.role, "admin") == 0 ||
	    (!write && strcmp(req->caller.role, "auditor") == 0);
}

static const struct db_stmt q_org_manager = {
	"ws_org_manager",
	"SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $2"
	" AND role IN ('owner', 'admin')", 2
};

/* Owners and admins of the workspace's organization see and stop it. */
static bool
manages_org(struct request *req, PGresult *ws)
{
	PGresult *res = NULL;

	return !PQgetisnull(ws, 0, 4) && q_run(req, &q_org_manager, &res,
	    PQgetvalue(ws, 0, 4), req->caller.user_id) == DB_OK &&
	    PQntuples(res) == 1;
}

PGresult *
ws_visible(struct request *req, struct response *resp, const char *id,
    enum ws_access access, bool lock)
{
	enum db_status st;
	PGresult *res = NULL;

	if (!in_uuid(id)) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	if (lock && (st = q_run(req, &q_ws_lock, &res, id)) != DB_OK) {
		q_fail(req, resp, st, res);
		return NULL;
	}
	if (!q_do(req, resp, &q_ws_get, &res, id))
		return NULL;
	if (PQntuples(res) == 0 || (strcmp(PQgetvalue(res, 0, 3),
	    req->caller.user_id) != 0 && !sees_all(req, access != WS_READ) &&
	    (access == WS_WRITE || !manages_org(req, res)))) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	return res;
}

static bool
over(struct request *req, struct response *resp, PGresult *q, int col,
    long add, const char *limit, const char *whose)
{
	struct json_object *x;
	long max, used;

	if (PQgetisnull(q, 0, col) || add <= 0)
		return false;
	max = strtol(PQgetvalue(q, 0, col), NULL, 10);
	used = strtol(PQgetvalue(q, 0, col + 4), NULL, 10);
	if (used + add <= max)
		return false;
	q_rollback(req);
	x = json_own(req->arena, json_object_new_object());
	json_object_object_add(x, "limit", json_object_new_string(limit));
	json_object_object_add(x, "scope", json_object_new_string(whose));
	json_object_object_add(x, "quota", json_object_new_int64(max));
	json_object_object_add(x, "usage", json_object_new_int64(used));
	problem_ext(req, resp, PROBLEM_QUOTA, arena_printf(req->arena,
	    "%s quota %s: %ld of %ld in use, this needs %ld more", whose, limit,
	    used, max, add), x);
	return true;
}

static bool
check(struct request *req, struct response *resp, PGresult *q,
    const struct usage_change *c, const char *whose)
{
	return !over(req, resp, q, 0, c->workspaces, "max_workspaces", whose) &&
	    !over(req, resp, q, 1, c->running, "max_running", whose) &&
	    !over(req, resp, q, 2, c->cpu_millis, "max_cpu_millis", whose) &&
	    !over(req, resp, q, 3, c->memory_mb, "max_memory_mb", whose);
}

bool
ws_quota_ok(struct request *req, struct response *resp, const char *owner,
    const char *org, const struct usage_change *c)
{
	const struct conf *cf = &req->srv->conf;
	enum db_status st;
	PGresult *res = NULL;

	/* The owner's row lock serializes every change that counts. */
	if ((st = q_run(req, &q_lock_user, &res, owner)) != DB_OK ||
	    (org != NULL && (st = q_run(req, &q_lock_org, &res, org))
	    != DB_OK) ||
	    (st = q_run(req, &q_quota_user, &res, owner, arena_printf(
	    req->arena, "%ld", cf->default_max_workspaces), arena_printf(
	    req->arena, "%ld", cf->default_max_running))) != DB_OK) {
		q_fail(req, resp, st, res);
		return false;
	}
	if (!check(req, resp, res, c, "user"))
		return false;
	if (org == NULL)
		return true;
	if (!q_do(req, resp, &q_quota_org, &res, org))
		return false;
	return check(req, resp, res, c, "organization");
}

const char *
ws_build(struct request *req, struct response *resp, const char *ws_id,
    const char *transition, const char *reason, const char *version_id)
{
	struct json_object *x;
	PGresult *res = NULL;
	const char *id;

	if (!q_do(req, resp, &q_active_build, &res, ws_id))
		return NULL;
	if (PQntuples(res) > 0) {
		q_rollback(req);
		x = json_own(req->arena, json_object_new_object());
		json_object_object_add(x, "build", q_row_json(req, res, 0));
		problem_ext(req, resp, PROBLEM_CONFLICT, "another transition "
		    "is in progress", x);
		return NULL;
	}
	if (!q_do(req, resp, &q_build_new, &res, ws_id, transition, reason,
	    req->caller.user_id, version_id))
		return NULL;
	id = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	if (!q_do(req, resp, &q_desire, &res, ws_id, transition, version_id)
	    || !q_do(req, resp, &q_notify, &res, ws_id))
		return NULL;
	return id;
}

/* http[s]://<label>.<base_domain>[:port]: public_url's scheme and port. */
static const char *
host_url(struct request *req, const char *label)
{
	const char *pub = req->srv->conf.public_url;
	const char *host = strstr(pub, "://") + 3;
	const char *colon = strchr(host, ':');

	return arena_printf(req->arena, "%.*s%s.%s%.*s", (int)(host - pub),
	    pub, label, req->srv->conf.base_domain,
	    colon ? (int)strcspn(colon, "/") : 0, colon ? colon : "");
}

/* The URL of a workspace's port: <short_id>-<port>.<base_domain>. */
const char *
ws_port_url(struct request *req, const char *short_id, const char *port)
{
	return host_url(req, arena_printf(req->arena, "%s-%s", short_id,
	    port));
}

/* "2026-01-02 03:04:05.678+00" (a UTC session) plus days, RFC 3339. */
static const char *
plus_days(struct request *req, const char *ts, long days)
{
	struct tm tm;
	time_t t;
	char buf[32];

	memset(&tm, 0, sizeof(tm));
	if (strptime(ts, "%Y-%m-%d %H:%M:%S", &tm) == NULL)
		return NULL;
	t = timegm(&tm) + days * 86400;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return arena_strdup(req->arena, buf);
}

/*
 * What a workspace row of WS_COLUMNS gains in the answer: its URLs and,
 * by the deployment's dormancy policy, the dates it becomes dormant or is
 * deleted.  Keys and values, up to a NULL key; a NULL value is null.
 */
struct extra {
	const char	*key, *value;
};

static void
extras(struct request *req, PGresult *res, int row, struct extra out[5])
{
	const struct conf *c = &req->srv->conf;
	int n = 2;

	memset(out, 0, 5 * sizeof(*out));
	out[0].key = "url";
	out[1].key = "url_pattern";
	out[0].value = host_url(req, PQgetvalue(res, row, 1));
	out[1].value = ws_port_url(req, PQgetvalue(res, row, 1), "{port}");
	if (c->dormancy_after_days > 0 && q_get(res, row, 17) != NULL &&
	    strcmp(PQgetvalue(res, row, 10), "stopped") == 0 &&
	    q_get(res, row, 20) == NULL) {
		out[n].key = "dormant_at_after";
		out[n++].value = plus_days(req, PQgetvalue(res, row, 17),
		    c->dormancy_after_days);
	}
	if (c->dormancy_delete_after_days > 0 && q_get(res, row, 20) != NULL) {
		out[n].key = "delete_at_after";
		out[n].value = plus_days(req, PQgetvalue(res, row, 20),
		    c->dormancy_delete_after_days);
	}
}

void
ws_write(struct request *req, struct jw *w, PGresult *res, int row)
{
	struct extra x[5];
	int i;

	extras(req, res, row, x);
	jw_open(w, '{');
	q_row_members(req->arena, w, res, row);
	for (i = 0; x[i].key != NULL; i++) {
		jw_key(w, x[i].key);
		jw_string(w, x[i].value);
	}
	jw_close(w, '}');
}

struct json_object *
ws_json(struct request *req, PGresult *res, int row)
{
	struct json_object *o = q_row_json(req, res, row);
	struct extra x[5];
	int i;

	extras(req, res, row, x);
	for (i = 0; x[i].key != NULL; i++)
		json_object_object_add(o, x[i].key, x[i].value ?
		    json_object_new_string(x[i].value) : NULL);
	return o;
}

/* Ten characters of lower-case base32: 50 random bits, a DNS label. */
const char *
ws_short_id(struct request *req)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char raw[10];
	char *out = arena_alloc(req->arena, 11);
	size_t i;

	randombytes_buf(raw, sizeof(raw));
	for (i = 0; i < 10; i++)
		out[i] = alphabet[raw[i] & 31];
	out[10] = '\0';
	return out;
}

static bool
key_sane(const char *k)
{
	size_t i, n = strlen(k);

	if (n == 0 || n > 255)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e)
			return false;
	return true;
}

enum idem
idem_begin(struct request *req, struct response *resp)
{
	const char *key = req->header(req, "HTTP_IDEMPOTENCY_KEY");
	const char *route = arena_printf(req->arena, "%s %s", req->method_name,
	    req->path), *body = "";
	PGresult *res = NULL;
	size_t len;
	char *hash;

	if (key == NULL)
		return IDEM_NONE;
	if (!key_sane(key)) {
		q_rollback(req);
		problem(req, resp, PROBLEM_INVALID_INPUT, "Idempotency-Key "
		    "must be 1 to 255 visible ASCII characters");
		return IDEM_FAILED;
	}
	if (req->body != NULL)
		body = json_text(req->body, &len);
	hash = auth_hash_hex(req->arena, arena_printf(req->arena, "%s\n%s",
	    route, body));
	if (!q_do(req, resp, &q_idem_take, &res, req->caller.user_id, key,
	    route, hash))
		return IDEM_FAILED;
	if (PQntuples(res) == 1)
		return IDEM_NEW;
	if (!q_do(req, resp, &q_idem_get, &res, req->caller.user_id, key))
		return IDEM_FAILED;
	q_rollback(req);
	if (PQntuples(res) == 0 || strcmp(PQgetvalue(res, 0, 1), hash) != 0) {
		problem(req, resp, PROBLEM_IDEMPOTENCY, NULL);
		return IDEM_FAILED;
	}
	resp_text(resp, atoi(PQgetvalue(res, 0, 2)), "application/json",
	    arena_strdup(req->arena, PQgetvalue(res, 0, 3)),
	    strlen(PQgetvalue(res, 0, 3)));
	if (resp->status >= 400)
		resp->content_type = "application/problem+json";
	resp_header(resp, "Idempotent-Replayed", "true");
	return IDEM_REPLAYED;
}

void
idem_done(struct request *req, struct response *resp, enum idem state)
{
	PGresult *res = NULL;

	if (state == IDEM_NEW && !q_do(req, resp, &q_idem_put, &res,
	    req->caller.user_id, req->header(req, "HTTP_IDEMPOTENCY_KEY"),
	    arena_printf(req->arena, "%d", resp->status), resp->body))
		return;
	if (!q_close(req, resp))
		return;
}
