/* Organizations and their members. */
#include "config.h"

#include <string.h>

#include "audit.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "query.h"
#include "server.h"

/* The caller's role in the org: '' when not a member; no row: no org. */
static const struct db_stmt q_org_access = {
	"org_access",
	"SELECT o.id, o.name, o.display_name, o.created_at,"
	" coalesce(m.role, '') AS my_role FROM organizations o"
	" LEFT JOIN memberships m ON m.org_id = o.id AND m.user_id = $2"
	" WHERE o.id = $1", 2
};

static const struct db_stmt q_org_list = {
	"org_list",
	"SELECT o.id, o.name, o.display_name, o.created_at,"
	" coalesce(m.role, '') AS my_role FROM organizations o"
	" LEFT JOIN memberships m ON m.org_id = o.id AND m.user_id = $1"
	" WHERE ($2 OR m.role IS NOT NULL) AND ($3::text IS NULL OR o.name > $3)"
	" ORDER BY o.name LIMIT $4", 4
};

static const struct db_stmt q_org_create = {
	"org_create",
	"INSERT INTO organizations (name, display_name)"
	" VALUES ($1, coalesce($2, '')) RETURNING id, name, display_name,"
	" created_at", 2
};

static const struct db_stmt q_org_update = {
	"org_update",
	"UPDATE organizations SET name = coalesce($2, name),"
	" display_name = coalesce($3, display_name) WHERE id = $1"
	" RETURNING id, name, display_name, created_at", 3
};

static const struct db_stmt q_org_delete = {
	"org_delete", "DELETE FROM organizations WHERE id = $1", 1
};

static const struct db_stmt q_members = {
	"org_members",
	"SELECT u.id AS user_id, u.username, u.display_name, m.role,"
	" m.created_at FROM memberships m JOIN users u ON u.id = m.user_id"
	" WHERE m.org_id = $1 ORDER BY u.username", 1
};

static const struct db_stmt q_member_put = {
	"org_member_put",
	"INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)"
	" ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role"
	" RETURNING org_id, user_id, role, created_at", 3
};

static const struct db_stmt q_member_delete = {
	"org_member_delete",
	"DELETE FROM memberships WHERE org_id = $1 AND user_id = $2"
	" RETURNING role", 2
};

/*
 * Leaving an organization ends the member's use of its workspaces: those
 * that run are stopped (a build with reason "membership", and the
 * reconciler woken), in the transaction that ends the membership.  They
 * stay the member's, who may delete them; org owners and admins see and
 * stop them; none starts again, nor gets the org's secrets, until their
 * owner is a member again.  A workspace in the middle of a transition is
 * stopped by warren-reconciler once the transition is over.
 */
static const struct db_stmt q_member_stop = {
	"org_member_stop",
	"WITH s AS (SELECT w.id, w.template_version_id FROM workspaces w"
	"  WHERE w.org_id = $1 AND w.owner_id = $2 AND w.deleted_at IS NULL"
	"  AND w.desired_state = 'running' AND NOT EXISTS (SELECT 1 FROM"
	"  workspace_builds b WHERE b.workspace_id = w.id AND b.status IN"
	"  ('pending', 'running')) FOR UPDATE OF w),"
	" b AS (INSERT INTO workspace_builds (workspace_id, number, transition,"
	"  reason, initiator_id, template_version_id) SELECT s.id,"
	"  coalesce((SELECT max(number) FROM workspace_builds WHERE"
	"  workspace_id = s.id), 0) + 1, 'stop', 'membership', $3,"
	"  s.template_version_id FROM s RETURNING workspace_id),"
	" u AS (UPDATE workspaces w SET desired_state = 'stopped',"
	"  updated_at = now() FROM s WHERE w.id = s.id)"
	" SELECT b.workspace_id, pg_notify('warren_reconcile',"
	" b.workspace_id::text) FROM b", 3
};

/* Is user $2 an owner, and how many others are (locks the rows). */
static const struct db_stmt q_owners_left = {
	"org_owners_left",
	"SELECT coalesce(bool_or(user_id = $2), false),"
	" count(*) FILTER (WHERE user_id <> $2) FROM (SELECT user_id"
	" FROM memberships WHERE org_id = $1 AND role = 'owner' FOR UPDATE) o",
	2
};

static const struct db_stmt q_user_exists = {
	"org_user_exists", "SELECT 1 FROM users WHERE id = $1", 1
};

static bool
platform_admin(struct request *req)
{
	return strcmp(req->caller.role, "admin") == 0;
}

static bool
platform_viewer(struct request *req)
{
	return platform_admin(req) || strcmp(req->caller.role, "auditor") == 0;
}

/*
 * Loads the org named in the path as the caller may see it: members and
 * admins (and auditors, reading) see it; everyone else gets 404.
 * *manage says whether the caller may change it.
 */
static PGresult *
org_for(struct request *req, struct response *resp, bool *manage,
    const char **my_role)
{
	PGresult *res = NULL;
	const char *role;

	if (!in_uuid(req->params[0])) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	if (!q_do(req, resp, &q_org_access, &res, req->params[0],
	    req->caller.user_id))
		return NULL;
	role = PQntuples(res) ? PQgetvalue(res, 0, 4) : "";
	if (PQntuples(res) == 0 || (role[0] == '\0' && !platform_viewer(req))) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return NULL;
	}
	*manage = platform_admin(req) || strcmp(role, "owner") == 0 ||
	    strcmp(role, "admin") == 0;
	*my_role = role;
	return res;
}

void
h_orgs_list(struct request *req, struct response *resp)
{
	const char *cursor;
	PGresult *res = NULL;
	long limit;

	if (!in_page(req, resp, &limit, &cursor))
		return;
	if (!q_do(req, resp, &q_org_list, &res, req->caller.user_id,
	    platform_viewer(req) ? "true" : "false", cursor,
	    arena_printf(req->arena, "%ld", limit)))
		return;
	q_page_answer(req, resp, res, limit, 1);
}

void
h_orgs_create(struct request *req, struct response *resp)
{
	const char *name = in_str(req, "name");
	const char *dname = in_str(req, "display_name");
	struct json_object *o;
	PGresult *res = NULL;

	if (!q_open(req, resp) || !q_do(req, resp, &q_org_create, &res, name,
	    dname))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	audit_done(req, resp, 201, o, "org.create", "organization",
	    PQgetvalue(res, 0, 0), NULL);
}

void
h_org_get(struct request *req, struct response *resp)
{
	const char *my_role;
	PGresult *res = NULL;
	bool manage;

	if ((res = org_for(req, resp, &manage, &my_role)) != NULL)
		resp_json(req, resp, 200, json_own(req->arena,
		    q_row_json(req, res, 0)));
}

void
h_org_patch(struct request *req, struct response *resp)
{
	const char *name = in_str(req, "name"), *my_role;
	const char *dname = in_str(req, "display_name");
	struct json_object *o;
	PGresult *res = NULL;
	bool manage;

	if ((res = org_for(req, resp, &manage, &my_role)) == NULL)
		return;
	if (!manage) {
		problem(req, resp, PROBLEM_FORBIDDEN, "only owners and admins "
		    "of the organization change it");
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_org_update, &res,
	    req->params[0], name, dname))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	if (!audit_do(req, resp, "org.update", "organization", req->params[0],
	    NULL) || !q_close(req, resp))
		return;
	resp_json(req, resp, 200, o);
}

void
h_org_delete(struct request *req, struct response *resp)
{
	const char *my_role;
	PGresult *res = NULL;
	bool manage;

	if ((res = org_for(req, resp, &manage, &my_role)) == NULL)
		return;
	if (!platform_admin(req) && strcmp(my_role, "owner") != 0) {
		problem(req, resp, PROBLEM_FORBIDDEN, "only owners delete an "
		    "organization");
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_org_delete, &res,
	    req->params[0]) || !audit_do(req, resp, "org.delete",
	    "organization", req->params[0], NULL) || !q_close(req, resp))
		return;
	resp_text(resp, 204, NULL, "", 0);
}

void
h_org_members(struct request *req, struct response *resp)
{
	struct json_object *o;
	const char *my_role;
	PGresult *res = NULL;
	bool manage;

	if (org_for(req, resp, &manage, &my_role) == NULL)
		return;
	if (!q_do(req, resp, &q_members, &res, req->params[0]))
		return;
	o = json_own(req->arena, json_object_new_object());
	json_object_object_add(o, "items",
	    json_object_get(q_rows_json(req, res)));
	resp_json(req, resp, 200, o);
}

/* Removing or demoting the last owner would orphan the organization. */
static bool
owner_remains(struct request *req, struct response *resp, const char *uid)
{
	PGresult *res = NULL;

	if (!q_do(req, resp, &q_owners_left, &res, req->params[0], uid))
		return false;
	if (q_bool(res, 0, 0) && strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_CONFLICT, "an organization needs an "
		    "owner");
		return false;
	}
	return true;
}

void
h_org_member_put(struct request *req, struct response *resp)
{
	const char *role = in_str(req, "role"), *my_role;
	const char *uid = req->params[1];
	struct json_object *o, *d;
	PGresult *res = NULL;
	bool manage;

	if (org_for(req, resp, &manage, &my_role) == NULL)
		return;
	if (!manage) {
		problem(req, resp, PROBLEM_FORBIDDEN, "only owners and admins "
		    "of the organization manage members");
		return;
	}
	if (strcmp(role, "owner") == 0 && !platform_admin(req) &&
	    strcmp(my_role, "owner") != 0) {
		problem(req, resp, PROBLEM_FORBIDDEN, "only owners make owners");
		return;
	}
	if (!in_uuid(uid)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_user_exists, &res, uid))
		return;
	if (PQntuples(res) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, "no such user");
		return;
	}
	if (strcmp(role, "owner") != 0 && !owner_remains(req, resp, uid))
		return;
	if (!q_do(req, resp, &q_member_put, &res, req->params[0], uid, role))
		return;
	o = json_own(req->arena, q_row_json(req, res, 0));
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "user_id", json_object_new_string(uid));
	json_object_object_add(d, "role", json_object_new_string(role));
	if (!audit_do(req, resp, "org.member_set", "organization",
	    req->params[0], d) || !q_close(req, resp))
		return;
	resp_json(req, resp, 200, o);
}

void
h_org_member_delete(struct request *req, struct response *resp)
{
	const char *my_role, *uid = req->params[1];
	struct json_object *d, *stopped;
	int i;
	PGresult *res = NULL;
	bool manage;

	if (org_for(req, resp, &manage, &my_role) == NULL)
		return;
	if (!in_uuid(uid)) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!manage && strcmp(uid, req->caller.user_id) != 0) {
		problem(req, resp, PROBLEM_FORBIDDEN, "only owners and admins "
		    "of the organization manage members");
		return;
	}
	if (!q_open(req, resp))
		return;
	if (!owner_remains(req, resp, uid))
		return;
	if (!q_do(req, resp, &q_member_delete, &res, req->params[0], uid))
		return;
	if (PQntuples(res) == 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!q_do(req, resp, &q_member_stop, &res, req->params[0], uid,
	    req->caller.user_id))
		return;
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "user_id", json_object_new_string(uid));
	stopped = json_object_new_array();
	for (i = 0; i < PQntuples(res); i++)
		json_object_array_add(stopped, json_object_new_string(
		    PQgetvalue(res, i, 0)));
	json_object_object_add(d, "stopped_workspaces", stopped);
	if (!audit_do(req, resp, "org.member_remove", "organization",
	    req->params[0], d) || !q_close(req, resp))
		return;
	resp_text(resp, 204, NULL, "", 0);
}
