/* Workspaces: create, list, read, rename and reschedule, delete, extend,
 * port sharing. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "listcache.h"
#include "problem.h"
#include "query.h"
#include "server.h"
#include "spec.h"
#include "workspace.h"
#include "wstatus.h"

/* With an owner, a statement of its own: its plan uses the owner index. */
static const struct db_stmt q_ws_list_owner = {
	"ws_list_owner",
	"SELECT " WS_COLUMNS " FROM workspace_states w"
	" WHERE w.deleted_at IS NULL AND w.owner_id = $1"
	" AND ($2::workspace_status IS NULL OR w.status = $2)"
	" AND ($3::uuid IS NULL OR w.template_id = $3)"
	" AND ($4::text IS NULL OR (w.name, w.id) > ($4, $5::uuid))"
	" ORDER BY w.name, w.id LIMIT $6", 6
};

static const struct db_stmt q_ws_list = {
	"ws_list",
	"SELECT " WS_COLUMNS " FROM workspace_states w"
	" WHERE w.deleted_at IS NULL AND ($1::uuid IS NULL OR w.owner_id = $1)"
	" AND ($1::uuid IS NOT NULL OR w.pool_version_id IS NULL)"
	" AND ($2::workspace_status IS NULL OR w.status = $2)"
	" AND ($3::uuid IS NULL OR w.template_id = $3)"
	" AND ($4::text IS NULL OR (w.name, w.id) > ($4, $5::uuid))"
	" ORDER BY w.name, w.id LIMIT $6", 6
};

/* The template version a workspace is created or updated to. */
static const struct db_stmt q_version_for = {
	"ws_version_for",
	"SELECT v.id, v.parameters, v.cpu_millis, v.memory_mb, v.idle_timeout,"
	" v.max_share_level, t.id, (SELECT coalesce(jsonb_agg(s->>'name'),"
	" '[]') FROM jsonb_array_elements(v.starters) s)::text,"
	" coalesce((v.pool->>'size')::int, 0) > 0"
	" FROM templates t JOIN template_versions v"
	" ON v.template_id = t.id WHERE (t.id::text = $1 OR t.name = $1)"
	" AND t.archived_at IS NULL AND (($2::int IS NULL AND"
	" v.id = t.active_version_id) OR v.number = $2::int)", 2
};

/* A create's statement failed: the name taken is the caller's to fix. */
static void
create_failed(struct request *req, struct response *resp, enum db_status st,
    PGresult *res)
{
	if (st == DB_ERROR && strcmp(db_sqlstate(res), "23505") == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_CONFLICT, "you have a workspace with "
		    "this name");
		return;
	}
	q_fail(req, resp, st, res);
}

/*
 * A ready member of the version's warm pool, with these parameters,
 * becomes the caller's workspace: the oldest one no other claim holds.
 */
static const struct db_stmt q_ws_claim = {
	"ws_claim",
	"WITH m AS (SELECT w.id FROM workspaces w JOIN template_versions v"
	"  ON v.id = w.pool_version_id WHERE w.pool_version_id = $1"
	"  AND w.deleted_at IS NULL AND w.desired_state = 'running'"
	"  AND v.pool->'parameters' = $2::jsonb AND (SELECT b.status FROM"
	"  workspace_builds b WHERE b.workspace_id = w.id ORDER BY b.number"
	"  DESC LIMIT 1) = 'succeeded'"
	"  ORDER BY w.created_at, w.id LIMIT 1 FOR UPDATE OF w SKIP LOCKED)"
	" UPDATE workspaces w SET owner_id = $3, org_id = $4, name = $5,"
	" parameters = $2::jsonb, secrets = $6, autostop_ttl = $7,"
	" idle_timeout = $8, pool_version_id = NULL, created_at = now(),"
	" updated_at = now() FROM m WHERE w.id = m.id RETURNING w.id", 8
};

/* A secret the owner's workspaces may use: theirs, or their org's. */
static const struct db_stmt q_secret_usable = {
	"ws_secret_usable",
	"SELECT 1 FROM secrets WHERE name = $1 AND ((scope = 'user' AND"
	" owner_id = $2) OR (scope = 'org' AND owner_id = $3::uuid))", 3
};

static const struct db_stmt q_member_of = {
	"ws_member_of",
	"SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $2", 2
};

static const struct db_stmt q_ws_create = {
	"ws_create",
	"INSERT INTO workspaces (short_id, owner_id, org_id, name, template_id,"
	" template_version_id, parameters, secrets, desired_state,"
	" autostop_ttl, idle_timeout, starter, repository) VALUES ($1, $2, $3,"
	" $4, $5, $6, $7, $8, 'stopped', $9, $10, $11, $12::jsonb)"
	" RETURNING id", 12
};

static const struct db_stmt q_ws_update = {
	"ws_update",
	"UPDATE workspaces SET name = coalesce($2, name),"
	" autostop_ttl = CASE WHEN $3 THEN nullif($4::int, 0)"
	"  ELSE autostop_ttl END,"
	" idle_timeout = CASE WHEN $5 THEN nullif($6::int, 0)"
	"  ELSE idle_timeout END,"
	" deadline = CASE WHEN $3 AND desired_state = 'running' THEN"
	"  CASE WHEN nullif($4::int, 0) IS NULL THEN NULL"
	"  ELSE now() + make_interval(secs => $4::int) END ELSE deadline END,"
	" updated_at = now() WHERE id = $1", 6
};

static const struct db_stmt q_ws_idle_max = {
	"ws_idle_max",
	"SELECT v.idle_timeout FROM workspaces w JOIN template_versions v"
	" ON v.id = w.template_version_id WHERE w.id = $1", 1
};

static const struct db_stmt q_ws_extend = {
	"ws_extend",
	"UPDATE workspaces SET deadline = least(greatest(coalesce(deadline,"
	" now()), now()) + make_interval(hours => $2::int),"
	" coalesce(max_deadline, 'infinity')), updated_at = now()"
	" WHERE id = $1 AND desired_state = 'running' RETURNING deadline", 2
};

static const struct db_stmt q_ws_shares = {
	"ws_shares",
	"SELECT port, level, updated_at FROM port_shares WHERE workspace_id = $1"
	" ORDER BY port", 1
};

static const struct db_stmt q_port_max = {
	"ws_port_max",
	"SELECT v.max_share_level, v.ports FROM workspaces w"
	" JOIN template_versions v ON v.id = w.template_version_id"
	" WHERE w.id = $1", 1
};

static const struct db_stmt q_share_put = {
	"ws_share_put",
	"INSERT INTO port_shares (workspace_id, port, level) VALUES ($1, $2, $3)"
	" ON CONFLICT (workspace_id, port) DO UPDATE SET level = EXCLUDED.level,"
	" updated_at = now() RETURNING port, level, updated_at", 3
};

static const struct db_stmt q_share_delete = {
	"ws_share_delete",
	"DELETE FROM port_shares WHERE workspace_id = $1 AND port = $2", 2
};

static const struct db_stmt q_notify = {
	"ws_notify_share", "SELECT pg_notify('warren_reconcile', $1)", 1
};

static const char *
num(struct request *req, long n)
{
	return arena_printf(req->arena, "%ld", n);
}

static bool
privileged(struct request *req)
{
	return strcmp(req->caller.role, "admin") == 0 ||
	    strcmp(req->caller.role, "auditor") == 0;
}

/* One workspace as JSON with its shares and latest build. */
static struct json_object *
ws_answer(struct request *req, struct response *resp, PGresult *row)
{
	struct json_object *o = json_own(req->arena, ws_json(req, row, 0));
	struct json_object *shares;
	PGresult *res = NULL;
	int i;

	if (!q_do(req, resp, &q_ws_shares, &res, PQgetvalue(row, 0, 0)))
		return NULL;
	shares = q_rows_json(req, res);
	for (i = 0; i < PQntuples(res); i++)
		json_object_object_add(json_object_array_get_idx(shares, i),
		    "url", json_object_new_string(ws_port_url(req,
		    PQgetvalue(row, 0, 1), PQgetvalue(res, i, 0))));
	json_object_object_add(o, "shared_ports", json_object_get(shares));
	return o;
}

/* As PostgreSQL prints ids, the spelling the cache's notices use. */
static const char *
lower(struct request *req, const char *s)
{
	char *low = arena_strdup(req->arena, s);
	size_t j;

	for (j = 0; low[j] != '\0'; j++)
		low[j] = (char)tolower((unsigned char)low[j]);
	return low;
}

void
h_workspaces_list(struct request *req, struct response *resp)
{
	const char *owner = query_param(req, "owner");
	const char *status = query_param(req, "status");
	const char *tpl = query_param(req, "template");
	const char *cursor, *cname = NULL, *cid = NULL, *text;
	size_t len;
	PGresult *res = NULL;
	long limit;
	int n;

	if (!in_page(req, resp, &limit, &cursor))
		return;
	/* Deleted workspaces are never listed. */
	if (status != NULL && ws_status_parse(status) == WS_DELETED) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "status has a value "
		    "that is not allowed");
		return;
	}
	if (cursor != NULL) {
		const char *colon = strchr(cursor, ':');
		if (colon == NULL || !in_uuid(colon + 1)) {
			problem(req, resp, PROBLEM_INVALID_INPUT,
			    "cursor is not valid");
			return;
		}
		cname = arena_strndup(req->arena, cursor,
		    (size_t)(colon - cursor));
		cid = colon + 1;
	}
	/* Others see their own workspaces only. */
	if (!privileged(req))
		owner = req->caller.user_id;
	/* As PostgreSQL prints it, the spelling the cache's notices use. */
	if (owner != NULL)
		owner = lower(req, owner);
	/* One owner's list: kept until PostgreSQL says it changed. */
	if (owner != NULL && (text = lc_get(req->srv->db, req->arena, owner,
	    req->query, &len)) != NULL) {
		resp_text(resp, 200, "application/json", text, len);
		return;
	}
	if (!q_do(req, resp, owner ? &q_ws_list_owner : &q_ws_list, &res, owner,
	    status, tpl, cname, cid, num(req, limit)))
		return;
	n = PQntuples(res);
	text = q_page_text(req, res, ws_write, n == limit ? arena_printf(
	    req->arena, "%s:%s", PQgetvalue(res, n - 1, 2),
	    PQgetvalue(res, n - 1, 0)) : NULL, &len);
	if (owner != NULL)
		lc_put(req->srv->db, req->arena, owner, req->query, text, len);
	resp_text(resp, 200, "application/json", text, len);
}

static bool
schedule_ok(struct request *req, struct response *resp, long ttl,
    long idle, const char *max_idle)
{
	if (idle > 0 && max_idle != NULL && idle > atol(max_idle)) {
		q_rollback(req);
		problem(req, resp, PROBLEM_INVALID_INPUT, arena_printf(
		    req->arena, "idle_timeout may be at most the template's "
		    "%s seconds", max_idle));
		return false;
	}
	(void)ttl;
	return true;
}

static bool
secrets_list(struct request *req, struct response *resp, const char **out)
{
	struct json_object *v, *e;
	size_t i;

	*out = "[]";
	if (!json_object_object_get_ex(req->body, "secrets", &v))
		return true;
	if (!json_object_is_type(v, json_type_array) ||
	    json_object_array_length(v) > 64)
		goto bad;
	for (i = 0; i < json_object_array_length(v); i++) {
		e = json_object_array_get_idx(v, i);
		if (e == NULL || !json_object_is_type(e, json_type_string) ||
		    !spec_env_name_valid(json_object_get_string(e)))
			goto bad;
	}
	*out = json_text(v, &i);
	return true;
bad:
	problem(req, resp, PROBLEM_INVALID_INPUT, "secrets must be an array of "
	    "secret names");
	return false;
}

/*
 * "repository": {"url": "https://host/path.git", "branch": "main",
 * "secret": "GIT_TOKEN", "directory": "path"}, stored as given with the
 * directory filled in (the URL's last component without ".git").
 */
static bool
repository_parse(struct request *req, struct response *resp,
    const char **out)
{
	struct json_object *v, *f, *o;
	const char *url, *p, *why = NULL;
	char dir[201];
	size_t i, n;

	*out = NULL;
	if (!json_object_object_get_ex(req->body, "repository", &v) ||
	    v == NULL)
		return true;
	if (!json_object_is_type(v, json_type_object))
		return problem(req, resp, PROBLEM_INVALID_INPUT, "repository "
		    "must be an object with url, and optionally branch, "
		    "secret and directory"), false;
	json_object_object_foreach(v, key, val) {
		(void)val;
		if (strcmp(key, "url") && strcmp(key, "branch") &&
		    strcmp(key, "secret") && strcmp(key, "directory"))
			return problem(req, resp, PROBLEM_INVALID_INPUT,
			    arena_printf(req->arena, "repository: unknown "
			    "field '%.32s'", key)), false;
		if (!json_object_is_type(val, json_type_string))
			return problem(req, resp, PROBLEM_INVALID_INPUT,
			    arena_printf(req->arena, "repository: %s must be "
			    "a string", key)), false;
	}
	if (!json_object_object_get_ex(v, "url", &f))
		return problem(req, resp, PROBLEM_INVALID_INPUT, "repository: "
		    "url is required"), false;
	url = json_object_get_string(f);
	n = strlen(url);
	for (i = 0; i < n && url[i] > ' ' && url[i] < 0x7f &&
	    strchr("\"'`\\<>{}|^", url[i]) == NULL; i++)
		;
	if (n > 500 || i < n || strncmp(url, "https://", 8) != 0 ||
	    url[8] == '/' || url[8] == '\0')
		why = "repository: url must be an https:// URL of at most 500 "
		    "characters";
	else if (memchr(url + 8, '@', strcspn(url + 8, "/?#")) != NULL)
		why = "repository: url must not hold credentials: store them "
		    "in a secret and name it in repository.secret";
	if (why == NULL && json_object_object_get_ex(v, "branch", &f)) {
		p = json_object_get_string(f);
		if (strlen(p) > 100 || !spec_rel_path_valid(p, false) ||
		    strstr(p, "..") != NULL)
			why = "repository: branch must be a branch or tag name "
			    "of letters, digits, '.', '_', '-' and '/'";
	}
	if (why == NULL && json_object_object_get_ex(v, "secret", &f) &&
	    !spec_env_name_valid(json_object_get_string(f)))
		why = "repository: secret must be a secret's name";
	if (why == NULL && json_object_object_get_ex(v, "directory", &f) &&
	    !spec_rel_path_valid(json_object_get_string(f), true))
		why = "repository: directory must be one path component of "
		    "letters, digits, '.', '_' and '-'";
	if (why != NULL)
		return problem(req, resp, PROBLEM_INVALID_INPUT, why), false;
	o = json_own(req->arena, json_object_get(v));
	if (!json_object_object_get_ex(v, "directory", NULL)) {
		/* https://host/group/app.git?x -> app */
		n = strcspn(url, "?#");
		while (n > 8 && url[n - 1] == '/')
			n--;
		for (p = url + n; p > url + 8 && p[-1] != '/'; p--)
			;
		i = (size_t)(url + n - p);
		if (i > 4 && strncmp(p + i - 4, ".git", 4) == 0)
			i -= 4;
		snprintf(dir, sizeof(dir), "%.*s", (int)(i < 200 ? i : 200), p);
		if (p == url + 8 || !spec_rel_path_valid(dir, true))
			return problem(req, resp, PROBLEM_INVALID_INPUT,
			    "repository: the URL names no directory to clone "
			    "into: give repository.directory"), false;
		json_object_object_add(o, "directory",
		    json_object_new_string(dir));
	}
	*out = json_text(o, &n);
	return true;
}

/* The starter must be one of the version's; its secret one to use. */
static bool
init_usable(struct request *req, struct response *resp, PGresult *ver,
    const char *starter, const char *repository, const char *org)
{
	struct json_object *names, *o, *f;
	PGresult *res = NULL;
	size_t i, n;

	if (starter != NULL) {
		if (json_parse(req->arena, PQgetvalue(ver, 0, 7),
		    strlen(PQgetvalue(ver, 0, 7)), &names) != JSON_OK)
			names = json_own(req->arena, json_object_new_array());
		n = json_object_array_length(names);
		for (i = 0; i < n && strcmp(starter, json_object_get_string(
		    json_object_array_get_idx(names, i))) != 0; i++)
			;
		if (i == n) {
			q_rollback(req);
			problem(req, resp, PROBLEM_INVALID_INPUT, arena_printf(
			    req->arena, "starter: the template has no starter "
			    "%s (it has %s)", starter, n ? PQgetvalue(ver, 0,
			    7) : "none"));
			return false;
		}
	}
	if (repository == NULL || json_parse(req->arena, repository,
	    strlen(repository), &o) != JSON_OK ||
	    !json_object_object_get_ex(o, "secret", &f))
		return true;
	if (!q_do(req, resp, &q_secret_usable, &res, json_object_get_string(f),
	    req->caller.user_id, org))
		return false;
	if (PQntuples(res) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_INVALID_INPUT, arena_printf(
		    req->arena, "repository: secret: you have no secret named "
		    "%s", json_object_get_string(f)));
		return false;
	}
	return true;
}

void
h_workspaces_create(struct request *req, struct response *resp)
{
	const char *name = in_str(req, "name"), *tpl = in_str(req, "template");
	const char *org = in_str(req, "org_id"), *params, *err;
	const char *starter = in_str(req, "starter");
	const char *secrets, *vid, *wid, *repository;
	long version = 0, ttl = 0, idle = 0;
	bool has_version, start = true, has_ttl, has_idle, claimed;
	struct json_object *pv = NULL, *o, *d;
	struct usage_change ch = { 1, 0, 0, 0 };
	enum db_status st;
	PGresult *res = NULL, *ver;
	enum idem idem;
	int tries;

	has_version = in_num(req, "template_version", &version);
	has_ttl = in_num(req, "autostop_ttl", &ttl);
	has_idle = in_num(req, "idle_timeout", &idle);
	(void)in_flag(req, "start", &start);
	if (!secrets_list(req, resp, &secrets) ||
	    !repository_parse(req, resp, &repository))
		return;
	pv = in_member(req, "parameters");
	if (!q_open(req, resp))
		return;
	if ((idem = idem_begin(req, resp)) == IDEM_FAILED ||
	    idem == IDEM_REPLAYED)
		return;
	if (!q_do(req, resp, &q_version_for, &ver, tpl, has_version ? num(req,
	    version) : NULL))
		return;
	if (PQntuples(ver) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_INVALID_INPUT, "template: no such "
		    "template or version");
		return;
	}
	vid = arena_strdup(req->arena, PQgetvalue(ver, 0, 0));
	if (!spec_params_apply(req->arena, PQgetvalue(ver, 0, 1), pv, NULL,
	    &params, &err)) {
		q_rollback(req);
		problem(req, resp, PROBLEM_INVALID_INPUT, err);
		return;
	}
	if (!schedule_ok(req, resp, ttl, idle, q_get(ver, 0, 4)))
		return;
	if (!init_usable(req, resp, ver, starter, repository, org))
		return;
	if (org != NULL) {
		if (!q_do(req, resp, &q_member_of, &res, org,
		    req->caller.user_id))
			return;
		if (PQntuples(res) == 0) {
			q_rollback(req);
			problem(req, resp, PROBLEM_INVALID_INPUT, "org_id: you "
			    "are not a member of this organization");
			return;
		}
	}
	if (start) {
		ch.running = 1;
		ch.cpu_millis = atol(PQgetvalue(ver, 0, 2));
		ch.memory_mb = atol(PQgetvalue(ver, 0, 3));
	}
	if (!ws_quota_ok(req, resp, req->caller.user_id, org, &ch))
		return;
	/* A prebuilt workspace, when the version keeps a pool that fits. */
	wid = NULL;
	if (start && starter == NULL && repository == NULL &&
	    q_bool(ver, 0, 8)) {
		if ((st = q_run(req, &q_ws_claim, &res, vid, params,
		    req->caller.user_id, org, name, secrets, has_ttl ?
		    num(req, ttl) : NULL, has_idle && idle > 0 ?
		    num(req, idle) : NULL)) != DB_OK) {
			create_failed(req, resp, st, res);
			return;
		}
		if (PQntuples(res) == 1)
			wid = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	}
	claimed = wid != NULL;
	/* A short id collision is possible in principle: draw again. */
	for (tries = 0; wid == NULL; tries++) {
		if ((st = q_run(req, &q_ws_create, &res, ws_short_id(req),
		    req->caller.user_id, org, name, PQgetvalue(ver, 0, 6), vid,
		    params, secrets, has_ttl ? num(req, ttl) : NULL,
		    has_idle && idle > 0 ? num(req, idle) : NULL, starter,
		    repository)) == DB_OK)
			break;
		if (tries > 0 || st != DB_ERROR || strstr(PQresultErrorField(
		    res, PG_DIAG_CONSTRAINT_NAME) ?: "", "short_id") == NULL) {
			create_failed(req, resp, st, res);
			return;
		}
	}
	wid = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	if (start && ws_build(req, resp, wid, "start", "user", NULL) == NULL)
		return;
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "name", json_object_new_string(name));
	if (claimed)
		json_object_object_add(d, "prebuilt", json_object_new_boolean(1));
	if (!audit_do(req, resp, "workspace.create", "workspace", wid, d))
		return;
	if ((res = ws_visible(req, resp, wid, WS_WRITE, false)) == NULL ||
	    (o = ws_answer(req, resp, res)) == NULL)
		return;
	resp_json(req, resp, 201, o);
	idem_done(req, resp, idem);
}

/*
 * An owner's read of their workspace is kept with their lists (listcache.h)
 * until PostgreSQL announces a change to their workspaces, their builds or
 * a port share: a client that polls its workspace reads the database only
 * when something changed.
 */
void
h_workspace_get(struct request *req, struct response *resp)
{
	const char *me = lower(req, req->caller.user_id), *key, *text;
	struct json_object *o;
	PGresult *res;
	size_t len;

	key = arena_printf(req->arena, "/workspaces/%s", lower(req,
	    req->params[0]));
	if (in_uuid(req->params[0]) && (text = lc_get(req->srv->db,
	    req->arena, me, key, &len)) != NULL) {
		resp_text(resp, 200, "application/json", text, len);
		return;
	}
	if ((res = ws_visible(req, resp, req->params[0], WS_READ, false)) ==
	    NULL || (o = ws_answer(req, resp, res)) == NULL)
		return;
	text = json_text(o, &len);
	if (strcmp(lower(req, PQgetvalue(res, 0, 3)), me) == 0)
		lc_put(req->srv->db, req->arena, me, key, text, len);
	resp_text(resp, 200, "application/json", text, len);
}

void
h_workspace_patch(struct request *req, struct response *resp)
{
	const char *name = in_str(req, "name"), *id = req->params[0];
	bool has_ttl, has_idle;
	long ttl = 0, idle = 0;
	struct json_object *o;
	enum db_status st;
	PGresult *res = NULL;

	has_ttl = in_num(req, "autostop_ttl", &ttl);
	has_idle = in_num(req, "idle_timeout", &idle);
	if (!q_open(req, resp) ||
	    ws_visible(req, resp, id, WS_WRITE, true) == NULL)
		return;
	if (!q_do(req, resp, &q_ws_idle_max, &res, id))
		return;
	if (!schedule_ok(req, resp, ttl, idle, q_get(res, 0, 0)))
		return;
	if ((st = q_run(req, &q_ws_update, &res, id, name, has_ttl ? "true" :
	    "false", num(req, ttl), has_idle ? "true" : "false",
	    num(req, idle))) != DB_OK) {
		if (st == DB_ERROR && strcmp(db_sqlstate(res), "23505") == 0) {
			q_rollback(req);
			problem(req, resp, PROBLEM_CONFLICT, "you have a "
			    "workspace with this name");
			return;
		}
		q_fail(req, resp, st, res);
		return;
	}
	if ((st = audit(req, "workspace.update", "workspace", id,
	    AUDIT_SUCCESS, json_own(req->arena, json_object_get(req->body))))
	    != DB_OK || (res = ws_visible(req, resp, id, WS_WRITE, false)) == NULL
	    || (o = ws_answer(req, resp, res)) == NULL) {
		if (st != DB_OK)
			q_fail(req, resp, st, NULL);
		return;
	}
	if (!q_close(req, resp))
		return;
	resp_json(req, resp, 200, o);
}

void
h_workspace_delete(struct request *req, struct response *resp)
{
	const char *id = req->params[0], *bid;
	struct json_object *o;

	if (!q_open(req, resp))
		return;
	if (ws_visible(req, resp, id, WS_WRITE, true) == NULL ||
	    (bid = ws_build(req, resp, id, "delete", "user", NULL)) == NULL)
		return;
	if (!audit_do(req, resp, "workspace.delete", "workspace", id, NULL)
	    || !q_close(req, resp))
		return;
	o = json_own(req->arena, json_object_new_object());
	json_object_object_add(o, "build_id", json_object_new_string(bid));
	resp_json(req, resp, 202, o);
}

void
h_workspace_extend(struct request *req, struct response *resp)
{
	const char *id = req->params[0];
	struct json_object *o;
	PGresult *res = NULL;
	long hours = 1;

	(void)in_num(req, "hours", &hours);
	if (!q_open(req, resp) ||
	    ws_visible(req, resp, id, WS_WRITE, true) == NULL)
		return;
	if (!q_do(req, resp, &q_ws_extend, &res, id, num(req, hours)))
		return;
	if (PQntuples(res) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_CONFLICT, "only a running workspace "
		    "can be extended");
		return;
	}
	o = json_own(req->arena, json_object_new_object());
	json_object_object_add(o, "deadline", json_object_get(
	    json_object_object_get(json_own(req->arena,
	    q_row_json(req, res, 0)), "deadline")));
	if (!audit_do(req, resp, "workspace.extend", "workspace", id, NULL)
	    || !q_close(req, resp))
		return;
	resp_json(req, resp, 200, o);
}

static long
port_param(struct request *req)
{
	char *end;
	long p = strtol(req->params[1], &end, 10);

	return *end == '\0' && req->params[1][0] != '\0' && p >= 1 &&
	    p <= 65535 ? p : 0;
}

void
h_workspace_port_put(struct request *req, struct response *resp)
{
	const char *id = req->params[0], *level = in_str(req, "level");
	struct json_object *o, *d;
	PGresult *res = NULL;
	long port = port_param(req);

	if (port == 0) {
		problem(req, resp, PROBLEM_INVALID_INPUT,
		    "port must be 1..65535");
		return;
	}
	if (!q_open(req, resp) ||
	    ws_visible(req, resp, id, WS_WRITE, true) == NULL)
		return;
	if (!q_do(req, resp, &q_port_max, &res, id))
		return;
	if (spec_share_rank(level) > spec_share_rank(PQgetvalue(res, 0, 0))) {
		q_rollback(req);
		problem(req, resp, PROBLEM_FORBIDDEN, arena_printf(req->arena,
		    "the template allows sharing up to %s",
		    PQgetvalue(res, 0, 0)));
		return;
	}
	if (!q_do(req, resp, &q_share_put, &res, id, num(req, port), level))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "port", json_object_new_int64(port));
	json_object_object_add(d, "level", json_object_new_string(level));
	if (!q_do(req, resp, &q_notify, &res, id) || !audit_do(req, resp,
	    "workspace.port_share", "workspace", id, d) || !q_close(req, resp))
		return;
	resp_json(req, resp, 200, o);
}

void
h_workspace_port_delete(struct request *req, struct response *resp)
{
	const char *id = req->params[0];
	struct json_object *d;
	PGresult *res = NULL;
	long port = port_param(req);

	if (port == 0) {
		problem(req, resp, PROBLEM_INVALID_INPUT,
		    "port must be 1..65535");
		return;
	}
	if (!q_open(req, resp) ||
	    ws_visible(req, resp, id, WS_WRITE, true) == NULL)
		return;
	if (!q_do(req, resp, &q_share_delete, &res, id, num(req, port)))
		return;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, "this port is not shared");
		return;
	}
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "port", json_object_new_int64(port));
	if (!q_do(req, resp, &q_notify, &res, id) || !audit_do(req, resp,
	    "workspace.port_unshare", "workspace", id, d) || !q_close(req,
	    resp))
		return;
	resp_text(resp, 204, NULL, "", 0);
}
