/* Builds: the one way to start, stop, restart, update or delete; their
 * history and their logs, followed by long poll. */
#include "config.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "query.h"
#include "ratelimit.h"
#include "server.h"
#include "spec.h"
#include "workspace.h"

#define BUILD_COLUMNS \
	"b.id, b.workspace_id, b.number, b.transition, b.reason," \
	" b.initiator_id, b.template_version_id, (SELECT number FROM" \
	" template_versions WHERE id = b.template_version_id)" \
	" AS template_version, b.status, b.error, b.image_digest," \
	" b.created_at, b.started_at, b.completed_at"


static const struct db_stmt q_builds = {
	"builds_list",
	"SELECT " BUILD_COLUMNS " FROM workspace_builds b"
	" WHERE b.workspace_id = $1 AND ($2::int IS NULL OR b.number < $2::int)"
	" ORDER BY b.number DESC LIMIT $3", 3
};

static const struct db_stmt q_build_get = {
	"build_get",
	"SELECT " BUILD_COLUMNS ", w.owner_id FROM workspace_builds b"
	" JOIN workspaces w ON w.id = b.workspace_id WHERE b.id = $1", 1
};

static const struct db_stmt q_logs = {
	"build_logs",
	"SELECT seq, at, stream, line FROM build_logs WHERE build_id = $1"
	" AND seq > $2 ORDER BY seq LIMIT $3", 3
};

static const struct db_stmt q_build_done = {
	"build_done",
	"SELECT status IN ('succeeded', 'failed', 'canceled')"
	" FROM workspace_builds WHERE id = $1", 1
};

static const struct db_stmt q_update_target = {
	"build_update_target",
	"SELECT v.id, v.parameters, v.cpu_millis, v.memory_mb FROM workspaces w"
	" JOIN templates t ON t.id = w.template_id JOIN template_versions v"
	" ON v.template_id = t.id WHERE w.id = $1 AND t.archived_at IS NULL"
	" AND (($2::int IS NULL AND v.id = t.active_version_id)"
	" OR v.number = $2::int)", 2
};

static const struct db_stmt q_current_cost = {
	"build_current_cost",
	"SELECT v.cpu_millis, v.memory_mb, w.desired_state = 'running',"
	" w.parameters FROM workspaces w JOIN template_versions v"
	" ON v.id = w.template_version_id WHERE w.id = $1", 1
};

static const struct db_stmt q_set_params = {
	"build_set_params",
	"UPDATE workspaces SET parameters = $2 WHERE id = $1", 2
};

static const char *
num(struct request *req, long n)
{
	return arena_printf(req->arena, "%ld", n);
}

/* What a transition adds to the owner's running usage. */
static bool
quota_for(struct request *req, struct response *resp, PGresult *ws,
    const char *transition, PGresult *target)
{
	struct usage_change ch = { 0, 0, 0, 0 };
	PGresult *cur = NULL;
	bool running;

	if (strcmp(transition, "stop") == 0 ||
	    strcmp(transition, "delete") == 0)
		return true;
	if (!q_do(req, resp, &q_current_cost, &cur, PQgetvalue(ws, 0, 0)))
		return false;
	running = q_bool(cur, 0, 2);
	if (!running) {
		ch.running = 1;
		ch.cpu_millis = atol(PQgetvalue(target ? target : cur, 0,
		    target ? 2 : 0));
		ch.memory_mb = atol(PQgetvalue(target ? target : cur, 0,
		    target ? 3 : 1));
	} else if (target != NULL) {
		ch.cpu_millis = atol(PQgetvalue(target, 0, 2)) -
		    atol(PQgetvalue(cur, 0, 0));
		ch.memory_mb = atol(PQgetvalue(target, 0, 3)) -
		    atol(PQgetvalue(cur, 0, 1));
	}
	return ws_quota_ok(req, resp, PQgetvalue(ws, 0, 3),
	    q_get(ws, 0, 4), &ch);
}

static const struct db_stmt q_owner_member = {
	"build_owner_member",
	"SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $2", 2
};

/*
 * An organization's workspace runs only while its owner is a member: one
 * who left it (or was removed) may stop and delete it, not start it.
 */
static bool
may_run(struct request *req, struct response *resp, PGresult *ws,
    const char *transition)
{
	PGresult *res = NULL;

	if (strcmp(transition, "stop") == 0 ||
	    strcmp(transition, "delete") == 0 || PQgetisnull(ws, 0, 4))
		return true;
	if (!q_do(req, resp, &q_owner_member, &res, PQgetvalue(ws, 0, 4),
	    PQgetvalue(ws, 0, 3)))
		return false;
	if (PQntuples(res) == 1)
		return true;
	q_rollback(req);
	problem(req, resp, PROBLEM_FORBIDDEN, "the workspace's owner is not a "
	    "member of its organization any more: it can be stopped and "
	    "deleted, not started");
	return false;
}

void
h_builds_create(struct request *req, struct response *resp)
{
	const char *transition = in_str(req, "transition"), *bid;
	const char *id = req->params[0];
	const char *vid = NULL, *params, *err;
	struct json_object *pv = NULL, *o, *d;
	PGresult *ws, *target = NULL, *res = NULL, *cur = NULL;
	bool has_version;
	enum idem idem;
	long version = 0;

	has_version = in_num(req, "template_version", &version);
	pv = in_member(req, "parameters");
	if ((has_version || pv != NULL) && strcmp(transition, "update") != 0) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "template_version and "
		    "parameters go with the update transition only");
		return;
	}
	if (!q_open(req, resp))
		return;
	if ((idem = idem_begin(req, resp)) == IDEM_FAILED ||
	    idem == IDEM_REPLAYED)
		return;
	if ((ws = ws_visible(req, resp, id, strcmp(transition, "stop") == 0 ?
	    WS_STOP : WS_WRITE, true)) == NULL || !may_run(req, resp, ws,
	    transition))
		return;
	if (strcmp(transition, "update") == 0) {
		if (!q_do(req, resp, &q_update_target, &target, id,
		    has_version ? num(req, version) : NULL))
			return;
		if (PQntuples(target) == 0) {
			q_rollback(req);
			problem(req, resp, PROBLEM_INVALID_INPUT,
			    "template_version: no such version");
			return;
		}
		vid = arena_strdup(req->arena, PQgetvalue(target, 0, 0));
		if (!q_do(req, resp, &q_current_cost, &cur, id))
			return;
		{
			struct json_object *prev = NULL;
			if (json_parse(req->arena, PQgetvalue(cur, 0, 3),
			    strlen(PQgetvalue(cur, 0, 3)), &prev) != JSON_OK)
				prev = NULL;
			if (!spec_params_apply(req->arena, PQgetvalue(target,
			    0, 1), pv, prev, &params, &err)) {
				q_rollback(req);
				problem(req, resp, PROBLEM_INVALID_INPUT, err);
				return;
			}
		}
		if (!q_do(req, resp, &q_set_params, &res, id, params))
			return;
	}
	if (!quota_for(req, resp, ws, transition, target))
		return;
	if ((bid = ws_build(req, resp, id, transition, "user", vid)) == NULL)
		return;
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "transition",
	    json_object_new_string(transition));
	json_object_object_add(d, "build_id", json_object_new_string(bid));
	if (!audit_do(req, resp, arena_printf(req->arena, "workspace.%s",
	    transition), "workspace", id, d) || !q_do(req, resp, &q_build_get,
	    &res, bid))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	json_object_object_del(o, "owner_id");
	resp_json(req, resp, 201, o);
	idem_done(req, resp, idem);
}

void
h_builds_list(struct request *req, struct response *resp)
{
	const char *cursor;
	PGresult *res = NULL;
	long limit;

	if (!in_page(req, resp, &limit, &cursor))
		return;
	if (cursor != NULL && strspn(cursor, "0123456789") != strlen(cursor)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "cursor is not valid");
		return;
	}
	if (ws_visible(req, resp, req->params[0], WS_READ, false) == NULL)
		return;
	if (!q_do(req, resp, &q_builds, &res, req->params[0], cursor, num(req,
	    limit)))
		return;
	q_page_answer(req, resp, res, limit, 2);
}

/* The build, if the caller may see its workspace; NULL after a 404. */
static PGresult *
build_visible(struct request *req, struct response *resp)
{
	PGresult *res = NULL;

	if (!in_uuid(req->params[0])) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	if (!q_do(req, resp, &q_build_get, &res, req->params[0]))
		return NULL;
	if (PQntuples(res) == 0 || (strcmp(PQgetvalue(res, 0, 14),
	    req->caller.user_id) != 0 && strcmp(req->caller.role, "admin")
	    != 0 && strcmp(req->caller.role, "auditor") != 0)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	return res;
}

void
h_build_get(struct request *req, struct response *resp)
{
	struct json_object *o;
	PGresult *res;

	if ((res = build_visible(req, resp)) == NULL)
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	json_object_object_del(o, "owner_id");
	resp_json(req, resp, 200, o);
}

static void
nap(int ms)
{
	(void)poll(NULL, 0, ms);
}

/*
 * Lines after ?after=SEQ.  With ?follow=true the request waits (up to
 * ?timeout seconds, at most 25) until a line arrives or the build ends,
 * so a client loops on next_after and sees lines as they are written.
 */
void
h_build_logs(struct request *req, struct response *resp)
{
	const char *after = query_param(req, "after");
	const char *follow = query_param(req, "follow");
	const char *tmo = query_param(req, "timeout");
	struct json_object *o;
	enum db_status st;
	PGresult *res = NULL, *done = NULL;
	long limit = 500, timeout = 20, waited = 0;
	bool finished, waiting;
	const char *next;
	int n;

	if (tmo != NULL)
		timeout = atol(tmo);
	if (query_param(req, "limit") != NULL)
		limit = atol(query_param(req, "limit"));
	if (limit > 1000)
		limit = 1000;
	if (build_visible(req, resp) == NULL)
		return;
	/*
	 * A follower holds a worker while it waits: at most half of them may
	 * wait at once, so the API always has workers for everyone else.
	 * The others get what there is now, without waiting.
	 */
	waiting = follow != NULL && strcmp(follow, "true") == 0 &&
	    ratelimit_acquire_slot(SLOT_FOLLOWING,
	    (req->srv->conf.workers + 1) / 2);
	next = after ? after : "0";
	for (;;) {
		/* Done first: lines written before the end are then all read. */
		if ((st = q_run(req, &q_build_done, &done, req->params[0]))
		    != DB_OK || (st = q_run(req, &q_logs, &res, req->params[0],
		    next, num(req, limit))) != DB_OK) {
			if (waiting)
				ratelimit_release_slot(SLOT_FOLLOWING);
			q_fail(req, resp, st, res);
			return;
		}
		n = PQntuples(res);
		finished = q_bool(done, 0, 0);
		if (n > 0 || finished || !waiting || waited >= timeout * 1000)
			break;
		nap(250);
		waited += 250;
	}
	if (waiting)
		ratelimit_release_slot(SLOT_FOLLOWING);
	o = json_own(req->arena, json_object_new_object());
	json_object_object_add(o, "items",
	    json_object_get(q_rows_json(req, res)));
	json_object_object_add(o, "next_after", json_object_new_int64(
	    n > 0 ? atoll(PQgetvalue(res, n - 1, 0)) : atoll(next)));
	json_object_object_add(o, "done", json_object_new_boolean(finished &&
	    n < limit));
	resp_json(req, resp, 200, o);
}
