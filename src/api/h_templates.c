/* Templates and their immutable versions. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "query.h"
#include "server.h"
#include "spec.h"

#define VERSION_COLUMNS \
	"v.id, v.number, v.image, v.command, v.args, v.env, v.ports," \
	" v.cpu_millis, v.memory_mb, v.pids, v.home_path, v.uid, v.gid," \
	" v.probe, v.idle_timeout, v.max_lifetime, v.max_share_level," \
	" v.parameters, v.secrets, v.capabilities, v.restart_policy," \
	" v.starters, v.pool, v.created_at"

#define TEMPLATE_COLUMNS \
	"t.id, t.name, t.display_name, t.description, t.archived_at," \
	" t.created_at, t.updated_at," \
	" (SELECT number FROM template_versions WHERE id = t.active_version_id)" \
	" AS active_version"

static const struct db_stmt q_tpl_list = {
	"tpl_list",
	"SELECT " TEMPLATE_COLUMNS " FROM templates t"
	" WHERE ($1 OR t.archived_at IS NULL) AND ($2::text IS NULL OR t.name > $2)"
	" ORDER BY t.name LIMIT $3", 3
};

static const struct db_stmt q_tpl_get = {
	"tpl_get",
	"SELECT " TEMPLATE_COLUMNS " FROM templates t WHERE t.id = $1", 1
};

static const struct db_stmt q_tpl_create = {
	"tpl_create",
	"INSERT INTO templates (name, display_name, description, created_by)"
	" VALUES ($1, coalesce($2, ''), coalesce($3, ''), $4) RETURNING id", 4
};

static const struct db_stmt q_tpl_lock = {
	"tpl_lock",
	"SELECT 0, t.archived_at IS NOT NULL"
	" FROM templates t WHERE t.id = $1 FOR UPDATE", 1
};

/* A statement of its own: its snapshot is taken after the lock is held. */
static const struct db_stmt q_tpl_next = {
	"tpl_next",
	"SELECT coalesce(max(number), 0) + 1 FROM template_versions"
	" WHERE template_id = $1", 1
};

static const struct db_stmt q_version_create = {
	"tpl_version_create",
	"INSERT INTO template_versions (template_id, number, image, command,"
	" args, env, ports, cpu_millis, memory_mb, pids, home_path, uid, gid,"
	" probe, idle_timeout, max_lifetime, max_share_level, parameters,"
	" secrets, capabilities, restart_policy, created_by, starters, pool)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
	" nullif($15::int, 0), nullif($16::int, 0), $17, $18, $19, $20, $21,"
	" $22, $23, $24) RETURNING id", 24
};

static const struct db_stmt q_tpl_activate = {
	"tpl_activate",
	"UPDATE templates SET active_version_id = (SELECT id FROM"
	" template_versions WHERE template_id = $1 AND number = $2),"
	" updated_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM"
	" template_versions WHERE template_id = $1 AND number = $2)", 2
};

static const struct db_stmt q_tpl_update = {
	"tpl_update",
	"UPDATE templates SET display_name = coalesce($2, display_name),"
	" description = coalesce($3, description),"
	" archived_at = CASE WHEN $4::boolean IS NULL THEN archived_at"
	"  WHEN $4::boolean THEN coalesce(archived_at, now()) ELSE NULL END,"
	" updated_at = now() WHERE id = $1", 4
};

static const struct db_stmt q_versions = {
	"tpl_versions",
	"SELECT " VERSION_COLUMNS ", v.id = t.active_version_id AS active"
	" FROM template_versions v JOIN templates t ON t.id = v.template_id"
	" WHERE v.template_id = $1 ORDER BY v.number DESC LIMIT 200", 1
};

static const struct db_stmt q_version_get = {
	"tpl_version_get",
	"SELECT " VERSION_COLUMNS ", v.id = t.active_version_id AS active"
	" FROM template_versions v JOIN templates t ON t.id = v.template_id"
	" WHERE v.template_id = $1 AND v.number = $2", 2
};

static const char *
num(struct request *req, long n)
{
	return arena_printf(req->arena, "%ld", n);
}

/* Stores a version; inside the caller's transaction. NULL after answering. */
static const char *
store_version(struct request *req, struct response *resp,
    const char *tpl_id, struct json_object *spec_body, long *number)
{
	struct spec_version s;
	PGresult *res = NULL;
	const char *err;

	if (!spec_version_parse(req->arena, &req->srv->conf, spec_body, &s,
	    &err)) {
		q_rollback(req);
		problem(req, resp, PROBLEM_INVALID_INPUT, err);
		return NULL;
	}
	if (!q_do(req, resp, &q_tpl_lock, &res, tpl_id))
		return NULL;
	if (PQntuples(res) == 0 || q_bool(res, 0, 1)) {
		q_rollback(req);
		problem(req, resp, PQntuples(res) ? PROBLEM_CONFLICT :
		    PROBLEM_NOT_FOUND, PQntuples(res) ? "the template is "
		    "archived" : NULL);
		return NULL;
	}
	if (!q_do(req, resp, &q_tpl_next, &res, tpl_id))
		return NULL;
	*number = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	if (!q_do(req, resp, &q_version_create, &res, tpl_id, num(req, *number),
	    s.image, s.command, s.args, s.env, s.ports, num(req, s.cpu_millis),
	    num(req, s.memory_mb), num(req, s.pids), s.home_path, num(req,
	    s.uid), num(req, s.gid), s.probe, num(req, s.idle_timeout), num(req,
	    s.max_lifetime), s.max_share_level, s.parameters, s.secrets,
	    s.capabilities, s.restart_policy, req->caller.user_id, s.starters,
	    s.pool))
		return NULL;
	return arena_strdup(req->arena, PQgetvalue(res, 0, 0));
}

static void
answer_template(struct request *req, struct response *resp, const char *id,
    int status)
{
	struct json_object *o;
	PGresult *res = NULL;
	const char *active;

	if (!q_do(req, resp, &q_tpl_get, &res, id))
		return;
	if (PQntuples(res) == 0) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	o = json_own(req->arena, q_row_json(req, res, 0));
	if ((active = q_get(res, 0, 7)) != NULL) {
		if (!q_do(req, resp, &q_version_get, &res, id, active))
			return;
		if (PQntuples(res) == 1)
			json_object_object_add(o, "active",
			    q_row_json(req, res, 0));
	}
	resp_json(req, resp, status, o);
}

void
h_templates_list(struct request *req, struct response *resp)
{
	const char *cursor, *arch = query_param(req, "archived");
	PGresult *res = NULL;
	long limit;

	if (!in_page(req, resp, &limit, &cursor))
		return;
	if (!q_do(req, resp, &q_tpl_list, &res, arch && strcmp(arch,
	    "true") == 0 ? "true" : "false", cursor, num(req, limit)))
		return;
	q_page_answer(req, resp, res, limit, 1);
}

void
h_templates_create(struct request *req, struct response *resp)
{
	const char *name = in_str(req, "name"), *id;
	const char *dname = in_str(req, "display_name");
	const char *desc = in_str(req, "description");
	struct json_object *ver = in_member(req, "version");
	PGresult *res = NULL;
	long number;

	if (!q_open(req, resp) || !q_do(req, resp, &q_tpl_create, &res, name,
	    dname, desc, req->caller.user_id))
		return;
	id = arena_strdup(req->arena, PQgetvalue(res, 0, 0));
	if (store_version(req, resp, id, ver, &number) == NULL)
		return;
	if (!q_do(req, resp, &q_tpl_activate, &res, id, num(req, number))
	    || !audit_do(req, resp, "template.create", "template", id, NULL)
	    || !q_close(req, resp))
		return;
	answer_template(req, resp, id, 201);
}

static bool
template_id(struct request *req, struct response *resp)
{
	if (!in_uuid(req->params[0])) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return false;
	}
	return true;
}

void
h_template_get(struct request *req, struct response *resp)
{
	if (template_id(req, resp))
		answer_template(req, resp, req->params[0], 200);
}

void
h_template_patch(struct request *req, struct response *resp)
{
	const char *dname = in_str(req, "display_name"), *arch = NULL;
	const char *desc = in_str(req, "description");
	bool archived = false, has_arch, has_active;
	struct json_object *d;
	PGresult *res = NULL;
	long active = 0;

	if (!template_id(req, resp))
		return;
	has_active = in_num(req, "active_version", &active);
	has_arch = in_flag(req, "archived", &archived);
	if (has_arch)
		arch = archived ? "true" : "false";
	if (!q_open(req, resp) || !q_do(req, resp, &q_tpl_update, &res,
	    req->params[0], dname, desc, arch))
		return;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (has_active) {
		if (!q_do(req, resp, &q_tpl_activate, &res, req->params[0],
		    num(req, active)))
			return;
		if (strcmp(PQcmdTuples(res), "1") != 0) {
			q_rollback(req);
			problem(req, resp, PROBLEM_INVALID_INPUT,
			    "active_version: no such version");
			return;
		}
	}
	d = json_own(req->arena, json_object_new_object());
	if (has_active)
		json_object_object_add(d, "active_version",
		    json_object_new_int64(active));
	if (has_arch)
		json_object_object_add(d, "archived",
		    json_object_new_boolean(archived));
	if (!audit_do(req, resp, has_active ? "template.activate" : has_arch ?
	    (archived ? "template.archive" : "template.unarchive") :
	    "template.update", "template", req->params[0], d) ||
	    !q_close(req, resp))
		return;
	answer_template(req, resp, req->params[0], 200);
}

void
h_template_archive(struct request *req, struct response *resp)
{
	PGresult *res = NULL;

	if (!template_id(req, resp))
		return;
	if (!q_open(req, resp) || !q_do(req, resp, &q_tpl_update, &res,
	    req->params[0], NULL, NULL, "true"))
		return;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		q_rollback(req);
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	audit_commit_204(req, resp, "template.archive", "template",
	    req->params[0]);
}

void
h_template_versions(struct request *req, struct response *resp)
{
	PGresult *res = NULL;

	if (!template_id(req, resp))
		return;
	if (!q_do(req, resp, &q_tpl_get, &res, req->params[0]))
		return;
	if (PQntuples(res) == 0) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!q_do(req, resp, &q_versions, &res, req->params[0]))
		return;
	q_items_answer(req, resp, res);
}

void
h_template_version_create(struct request *req, struct response *resp)
{
	struct json_object *body = req->body, *act, *d;
	bool activate = false;
	enum db_status st;
	PGresult *res = NULL;
	const char *vid;
	long number;

	if (!template_id(req, resp))
		return;
	if (!json_object_is_type(body, json_type_object)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "the body must be a "
		    "template version object");
		return;
	}
	if (json_object_object_get_ex(body, "activate", &act)) {
		if (!json_object_is_type(act, json_type_boolean)) {
			problem(req, resp, PROBLEM_INVALID_INPUT,
			    "activate must be true or false");
			return;
		}
		activate = json_object_get_boolean(act);
		json_object_object_del(body, "activate");
	}
	if (!q_open(req, resp))
		return;
	if ((vid = store_version(req, resp, req->params[0], body, &number))
	    == NULL)
		return;
	if (activate && (st = q_run(req, &q_tpl_activate, &res,
	    req->params[0], num(req, number))) != DB_OK) {
		q_fail(req, resp, st, res);
		return;
	}
	d = json_own(req->arena, json_object_new_object());
	json_object_object_add(d, "version", json_object_new_int64(number));
	json_object_object_add(d, "activated",
	    json_object_new_boolean(activate));
	if (!audit_do(req, resp, "template.version_create", "template",
	    req->params[0], d) || !q_do(req, resp, &q_version_get, &res,
	    req->params[0], num(req, number)))
		return;
	d = json_own(req->arena, q_row_json(req, res, 0));
	if (!q_close(req, resp))
		return;
	resp_json(req, resp, 201, d);
}

void
h_template_version_get(struct request *req, struct response *resp)
{
	PGresult *res = NULL;
	char *end;
	long n;

	n = strtol(req->params[1], &end, 10);
	if (!template_id(req, resp))
		return;
	if (*end != '\0' || n < 1 || n > 1000000) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!q_do(req, resp, &q_version_get, &res, req->params[0], num(req, n)))
		return;
	if (PQntuples(res) == 0) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	resp_json(req, resp, 200, json_own(req->arena, q_row_json(req, res, 0)));
}
