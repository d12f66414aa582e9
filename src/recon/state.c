#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "json.h"
#include "log.h"
#include "secretbox.h"
#include "state.h"
#include "traefik.h"
#include "wstatus.h"

#define EPOCH(x)	"coalesce(floor(extract(epoch FROM " x "))::bigint, 0)"

#define DESIRED \
	"SELECT w.id, w.short_id, w.owner_id, coalesce(w.org_id::text, ''),"  \
	" w.name, w.desired_state, ab.id, coalesce(ab.number, (SELECT"        \
	" max(number) FROM workspace_builds WHERE workspace_id = w.id), 0),"  \
	" ab.transition, ab.status, " EPOCH("ab.started_at") ","              \
	" v.image, v.command::text, v.args::text, v.env::text,"               \
	" v.ports::text, v.probe::text, v.capabilities::text,"                \
	" v.restart_policy, v.home_path, w.parameters::text,"                 \
	" (SELECT coalesce(jsonb_agg(DISTINCT n), '[]') FROM"                  \
	" (SELECT jsonb_array_elements_text(v.secrets) n UNION"               \
	"  SELECT jsonb_array_elements_text(w.secrets)) s)::text,"            \
	" v.cpu_millis, v.memory_mb, v.pids, v.uid, v.gid,"                   \
	" coalesce((v.probe->>'timeout')::int, 60),"                          \
	" " EPOCH("w.deadline") ", " EPOCH("w.max_deadline") ","              \
	" " EPOCH("coalesce(w.last_activity_at, w.started_at)") ","          \
	" " EPOCH("w.stopped_at") ", " EPOCH("w.dormant_at") ","              \
	" coalesce(w.idle_timeout, v.idle_timeout, 0),"                       \
	" coalesce(w.build_status, ''),"                                      \
	" w.org_id IS NULL OR EXISTS (SELECT 1 FROM memberships m"            \
	"  WHERE m.org_id = w.org_id AND m.user_id = w.owner_id),"            \
	" w.initialized_at IS NULL AND (w.starter IS NOT NULL OR"            \
	"  w.repository IS NOT NULL), coalesce(w.starter, ''),"              \
	" CASE WHEN w.initialized_at IS NULL THEN (SELECT s->'files' FROM"   \
	"  jsonb_array_elements(v.starters) s WHERE s->>'name' = w.starter"  \
	"  LIMIT 1)::text END,"                                               \
	" CASE WHEN w.initialized_at IS NULL THEN w.repository::text END,"   \
	" w.pool_version_id IS NOT NULL, w.status"                            \
	" FROM workspace_states w"                                            \
	" JOIN template_versions v ON v.id = w.template_version_id"           \
	" LEFT JOIN workspace_builds ab ON ab.workspace_id = w.id"            \
	" AND ab.status IN ('pending', 'running')"                            \
	" WHERE w.deleted_at IS NULL"

static const struct db_stmt q_desired_all = {
	"recon_desired_all", DESIRED " ORDER BY w.created_at", 0
};

static const struct db_stmt q_desired_one = {
	"recon_desired_one", DESIRED " AND w.id = $1", 1
};

static const struct db_stmt q_initialized = {
	"recon_initialized",
	"UPDATE workspaces SET initialized_at = now() WHERE id = $1", 1
};

/*
 * Warm pools, in one statement: the active versions of templates that keep
 * a pool get members until they have their size (each a workspace of the
 * pool's owner with a start build), and members of other versions,
 * beyond the size, or whose start failed, are deleted (a delete build),
 * except those a claim holds.  A short id taken already fails the statement: the next pass
 * tries again.
 */
static const struct db_stmt q_pools = {
	"recon_pools",
	"WITH active AS (SELECT v.id, v.template_id, v.pool->'parameters' p,"
	"  (v.pool->>'size')::int size FROM templates t JOIN template_versions"
	"  v ON v.id = t.active_version_id WHERE t.archived_at IS NULL"
	"  AND v.pool IS NOT NULL),"
	" members AS (SELECT w.id, w.pool_version_id v, row_number() OVER"
	"  (PARTITION BY w.pool_version_id ORDER BY w.created_at, w.id) k"
	"  FROM workspaces w WHERE w.pool_version_id IS NOT NULL"
	"  AND w.deleted_at IS NULL AND w.desired_state = 'running'),"
	" extra AS (SELECT w.id FROM workspaces w WHERE (w.id IN (SELECT m.id"
	"  FROM members m LEFT JOIN active a ON a.id = m.v WHERE a.id IS NULL"
	"  OR m.k > a.size) OR w.desired_state = 'stopped')"
	"  AND w.pool_version_id IS NOT NULL AND w.deleted_at IS NULL"
	"  FOR UPDATE SKIP LOCKED),"
	" db AS (INSERT INTO workspace_builds (workspace_id, number,"
	"  transition, reason, template_version_id) SELECT w.id,"
	"  coalesce((SELECT max(number) FROM workspace_builds WHERE"
	"  workspace_id = w.id), 0) + 1, 'delete', 'pool', w.template_version_id"
	"  FROM workspaces w JOIN extra e ON e.id = w.id"
	"  ON CONFLICT DO NOTHING RETURNING workspace_id),"
	" du AS (UPDATE workspaces SET desired_state = 'deleted',"
	"  deleting_at = now(), updated_at = now() WHERE id IN"
	"  (SELECT workspace_id FROM db)),"
	" fresh AS (SELECT a.id v, a.template_id t, a.p, (SELECT string_agg("
	"  substr('abcdefghijklmnopqrstuvwxyz234567', 1 + floor(random() *"
	"  32)::int, 1), '') FROM generate_series(1, 10) WHERE g > 0) sid"
	"  FROM active a CROSS JOIN LATERAL generate_series(1, a.size -"
	"  (SELECT count(*) FROM members m WHERE m.v = a.id)::int) g),"
	" nw AS (INSERT INTO workspaces (short_id, owner_id, name, template_id,"
	"  template_version_id, parameters, desired_state, pool_version_id)"
	"  SELECT sid, $1, 'pool-' || sid, t, v, coalesce(p, '{}'), 'running', v"
	"  FROM fresh RETURNING id, template_version_id),"
	" nb AS (INSERT INTO workspace_builds (workspace_id, number, transition,"
	"  reason, template_version_id) SELECT id, 1, 'start', 'pool',"
	"  template_version_id FROM nw RETURNING workspace_id)"
	" SELECT (SELECT count(*) FROM nb), (SELECT count(*) FROM db)", 1
};

static const struct db_stmt q_begin = {
	"recon_build_begin",
	"UPDATE workspace_builds SET status = 'running',"
	" started_at = coalesce(started_at, now())"
	" WHERE id = $1 AND status = 'pending'", 1
};

/* A failed start leaves the workspace stopped: no retry loop. */
static const struct db_stmt q_finish = {
	"recon_build_finish",
	"WITH b AS (UPDATE workspace_builds SET status = $2::text, error = $3,"
	"  image_digest = coalesce($4, image_digest), completed_at = now(),"
	"  started_at = coalesce(started_at, now())"
	"  WHERE id = $1 AND status IN ('pending', 'running')"
	"  RETURNING workspace_id, transition),"
	" u AS (UPDATE workspaces w SET"
	" started_at = CASE WHEN $2 = 'succeeded' AND b.transition IN"
	"  ('start', 'restart', 'update') THEN now() ELSE w.started_at END,"
	" last_activity_at = CASE WHEN $2 = 'succeeded' AND b.transition IN"
	"  ('start', 'restart', 'update') THEN now() ELSE w.last_activity_at END,"
	" last_activity_cause = CASE WHEN $2 = 'succeeded' AND b.transition IN"
	"  ('start', 'restart', 'update') THEN 'start'"
	"  ELSE w.last_activity_cause END,"
	" stopped_at = CASE WHEN $2 = 'succeeded' AND b.transition = 'stop'"
	"  THEN now() ELSE w.stopped_at END,"
	" desired_state = CASE WHEN $2 = 'failed' AND b.transition <> 'delete'"
	"  THEN 'stopped' ELSE w.desired_state END"
	" FROM b WHERE w.id = b.workspace_id RETURNING w.id)"
	" SELECT pg_notify('warren_reconcile', u.id::text) FROM u"
	" WHERE $2 = 'failed'", 4
};

static const struct db_stmt q_log = {
	"recon_log",
	"INSERT INTO build_logs (build_id, stream, line)"
	" VALUES ($1, $2, left($3, 4096))", 3
};

static const struct db_stmt q_deploy = {
	"recon_deploy",
	"INSERT INTO deployments (workspace_id, docker_host, container_id,"
	" container_name, volume_name, build_number, ports, image_digest,"
	" state, exit_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	" ON CONFLICT (workspace_id) DO UPDATE SET"
	" docker_host = EXCLUDED.docker_host,"
	" container_id = EXCLUDED.container_id,"
	" build_number = EXCLUDED.build_number, ports = EXCLUDED.ports,"
	" image_digest = coalesce(EXCLUDED.image_digest,"
	"  deployments.image_digest),"
	" state = EXCLUDED.state, exit_code = CASE EXCLUDED.state WHEN"
	"  'absent' THEN deployments.exit_code ELSE EXCLUDED.exit_code END,"
	" updated_at = now()", 10
};

static const struct db_stmt q_forget = {
	"recon_forget",
	"WITH d AS (DELETE FROM deployments WHERE workspace_id = $1),"
	" b AS (UPDATE workspace_builds SET status = 'succeeded',"
	"  completed_at = now(), started_at = coalesce(started_at, now())"
	"  WHERE workspace_id = $1 AND status IN ('pending', 'running'))"
	" UPDATE workspaces SET deleted_at = now() WHERE id = $1"
	" AND deleted_at IS NULL", 1
};

/* One statement: build, desired state, audit entry and wake-up. */
static const struct db_stmt q_schedule = {
	"recon_schedule",
	"WITH b AS (INSERT INTO workspace_builds (workspace_id, number,"
	"  transition, reason, template_version_id)"
	"  SELECT w.id, coalesce((SELECT max(number) FROM workspace_builds"
	"  WHERE workspace_id = w.id), 0) + 1, $2, $3, w.template_version_id"
	"  FROM workspaces w WHERE w.id = $1 AND w.deleted_at IS NULL"
	"  ON CONFLICT DO NOTHING RETURNING id),"
	" u AS (UPDATE workspaces SET desired_state = CASE $2 WHEN 'stop'"
	"  THEN 'stopped' WHEN 'delete' THEN 'deleted' ELSE desired_state END,"
	"  deleting_at = CASE $2 WHEN 'delete' THEN now() ELSE deleting_at END,"
	"  updated_at = now() WHERE id = $1 AND EXISTS (SELECT 1 FROM b)),"
	" a AS (INSERT INTO audit_log (actor_name, action, target_type,"
	"  target_id, result, details) SELECT 'warren-reconciler',"
	"  'workspace.' || $2, 'workspace', $1, 'success',"
	"  jsonb_build_object('reason', $3, 'build_id', b.id) FROM b)"
	" SELECT pg_notify('warren_reconcile', $1::text) FROM b", 3
};

/*
 * Dormancy is a state of a stopped workspace, recorded like the other
 * schedules: a stop build with reason dormancy, finished at once (there
 * is nothing to stop), and an audit entry naming it.
 */
static const struct db_stmt q_dormant = {
	"recon_dormant",
	"WITH u AS (UPDATE workspaces SET dormant_at = now(), updated_at = now()"
	"  WHERE id = $1 AND dormant_at IS NULL AND deleted_at IS NULL"
	"  AND desired_state = 'stopped' AND NOT EXISTS (SELECT 1 FROM"
	"  workspace_builds WHERE workspace_id = $1 AND status IN ('pending',"
	"  'running')) RETURNING id, template_version_id),"
	" b AS (INSERT INTO workspace_builds (workspace_id, number, transition,"
	"  reason, template_version_id, status, started_at, completed_at)"
	"  SELECT u.id, coalesce((SELECT max(number) FROM workspace_builds"
	"  WHERE workspace_id = u.id), 0) + 1, 'stop', 'dormancy',"
	"  u.template_version_id, 'succeeded', now(), now() FROM u RETURNING id)"
	" INSERT INTO audit_log (actor_name, action, target_type, target_id,"
	" result, details) SELECT 'warren-reconciler', 'workspace.dormant',"
	" 'workspace', $1, 'success', jsonb_build_object('reason', 'dormancy',"
	" 'build_id', b.id) FROM b", 1
};

/* An organization's secrets reach only its members' workspaces. */
static const struct db_stmt q_secrets = {
	"recon_secrets",
	"SELECT name, nonce, ciphertext FROM secrets"
	" WHERE name IN (SELECT jsonb_array_elements_text($3::jsonb))"
	" AND ((scope = 'user' AND owner_id = $1)"
	" OR (scope = 'org' AND owner_id = nullif($2, '')::uuid"
	"  AND EXISTS (SELECT 1 FROM memberships m WHERE"
	"  m.org_id = nullif($2, '')::uuid AND m.user_id = $1)))"
	" ORDER BY scope = 'user'", 3
};

static const char *
keep(struct arena *a, PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL :
	    arena_strdup(a, PQgetvalue(r, row, col));
}

#define COPY(dst, r, i, c) \
	snprintf((dst), sizeof(dst), "%s", PQgetvalue((r), (i), (c)))

static void
fill(struct arena *a, PGresult *r, int i, struct desired *d)
{
	memset(d, 0, sizeof(*d));
	COPY(d->id, r, i, 0);
	COPY(d->short_id, r, i, 1);
	COPY(d->owner_id, r, i, 2);
	COPY(d->org_id, r, i, 3);
	COPY(d->name, r, i, 4);
	COPY(d->state, r, i, 5);
	d->has_build = !PQgetisnull(r, i, 6);
	COPY(d->build_id, r, i, 6);
	d->build_number = atoi(PQgetvalue(r, i, 7));
	COPY(d->transition, r, i, 8);
	COPY(d->build_status, r, i, 9);
	d->build_started = atoll(PQgetvalue(r, i, 10));
	d->image = keep(a, r, i, 11);
	d->command = keep(a, r, i, 12);
	d->args = keep(a, r, i, 13);
	d->env = keep(a, r, i, 14);
	d->ports = keep(a, r, i, 15);
	d->probe = keep(a, r, i, 16);
	d->capabilities = keep(a, r, i, 17);
	d->restart_policy = keep(a, r, i, 18);
	d->home_path = keep(a, r, i, 19);
	d->parameters = keep(a, r, i, 20);
	d->secret_names = keep(a, r, i, 21);
	d->cpu_millis = atol(PQgetvalue(r, i, 22));
	d->memory_mb = atol(PQgetvalue(r, i, 23));
	d->pids = atol(PQgetvalue(r, i, 24));
	d->uid = atol(PQgetvalue(r, i, 25));
	d->gid = atol(PQgetvalue(r, i, 26));
	d->probe_timeout = atol(PQgetvalue(r, i, 27));
	d->deadline = atoll(PQgetvalue(r, i, 28));
	d->max_deadline = atoll(PQgetvalue(r, i, 29));
	d->activity = atoll(PQgetvalue(r, i, 30));
	d->stopped_at = atoll(PQgetvalue(r, i, 31));
	d->dormant_at = atoll(PQgetvalue(r, i, 32));
	d->idle_timeout = atol(PQgetvalue(r, i, 33));
	COPY(d->last_status, r, i, 34);
	d->member = PQgetvalue(r, i, 35)[0] == 't';
	d->init_pending = PQgetvalue(r, i, 36)[0] == 't';
	COPY(d->starter, r, i, 37);
	d->starter_files = PQgetisnull(r, i, 38) ? NULL : keep(a, r, i, 38);
	d->repository = PQgetisnull(r, i, 39) ? NULL : keep(a, r, i, 39);
	d->pooled = PQgetvalue(r, i, 40)[0] == 't';
	d->status = ws_status_parse(PQgetvalue(r, i, 41));
}

int
state_desired(struct db *db, struct arena *a, const char *id,
    struct desired **out, int *n)
{
	const char *params[1] = { id };
	PGresult *r;
	int i;

	if (db_query(db, a, id ? &q_desired_one : &q_desired_all, params, &r)
	    != DB_OK)
		return -1;
	*n = PQntuples(r);
	*out = arena_alloc(a, sizeof(**out) * (size_t)(*n ? *n : 1));
	for (i = 0; i < *n; i++)
		fill(a, r, i, &(*out)[i]);
	return 0;
}

static int
run(struct db *db, struct arena *a, const struct db_stmt *s,
    const char *const *params)
{
	PGresult *r;

	return db_query(db, a, s, params, &r) == DB_OK ? 0 : -1;
}

/* Rate-limit windows (warren-api's, throttle.h) no window is that long. */
static const struct db_stmt q_expire_windows = {
	"recon_expire_windows",
	"DELETE FROM rate_windows WHERE started_at < now() - interval '1 day'",
	0
};

int
state_expire_windows(struct db *db, struct arena *a)
{
	return run(db, a, &q_expire_windows, NULL);
}

int
state_pools(struct db *db, struct arena *a, int *made, int *removed)
{
	const char *p[] = { POOL_OWNER };
	PGresult *r;

	*made = *removed = 0;
	if (db_query(db, a, &q_pools, p, &r) != DB_OK)
		return -1;
	*made = atoi(PQgetvalue(r, 0, 0));
	*removed = atoi(PQgetvalue(r, 0, 1));
	return 0;
}

int
state_build_begin(struct db *db, struct arena *a, const char *build_id)
{
	const char *p[] = { build_id };

	return run(db, a, &q_begin, p);
}

int
state_build_finish(struct db *db, struct arena *a, const char *build_id,
    bool ok, const char *error, const char *digest)
{
	const char *p[] = { build_id, ok ? "succeeded" : "failed", error,
	    digest };

	return run(db, a, &q_finish, p);
}

void
state_log(struct db *db, struct arena *a, const char *build_id,
    const char *stream, const char *fmt, ...)
{
	const char *p[3];
	va_list ap;

	if (build_id == NULL || build_id[0] == '\0')
		return;
	va_start(ap, fmt);
	p[2] = arena_vprintf(a, fmt, ap);
	va_end(ap);
	p[0] = build_id;
	p[1] = stream;
	if (run(db, a, &q_log, p) == -1)
		log_warnx("could not write a build log line");
}

int
state_deployment(struct db *db, struct arena *a, const struct desired *d,
    const char *host, const char *container_id, const char *ports_json,
    const char *digest, const char *st, int exit_code)
{
	const char *p[10];

	p[0] = d->id;
	p[1] = host;
	p[2] = container_id;
	p[3] = arena_printf(a, "warren-%s", d->short_id);
	p[4] = arena_printf(a, "warren-%s-home", d->short_id);
	p[5] = arena_printf(a, "%d", d->build_number);
	p[6] = ports_json ? ports_json : "{}";
	p[7] = digest;
	p[8] = st;
	p[9] = strcmp(st, "exited") == 0 ? arena_printf(a, "%d", exit_code) :
	    NULL;
	return run(db, a, &q_deploy, p);
}

int
state_forget(struct db *db, struct arena *a, const char *ws_id)
{
	const char *p[] = { ws_id };

	return run(db, a, &q_forget, p);
}

int
state_schedule(struct db *db, struct arena *a, const struct desired *d,
    const char *transition, const char *reason)
{
	const char *p[] = { d->id, transition, reason };

	return run(db, a, &q_schedule, p);
}

int
state_dormant(struct db *db, struct arena *a, const struct desired *d)
{
	const char *p[] = { d->id };

	return run(db, a, &q_dormant, p);
}

int
state_initialized(struct db *db, struct arena *a, const char *id)
{
	const char *p[] = { id };

	return run(db, a, &q_initialized, p);
}

const char *
state_secrets(struct db *db, struct arena *a, const struct desired *d,
    const unsigned char *key, bool have_key, const char **why)
{
	const char *p[] = { d->owner_id, d->org_id, d->secret_names };
	struct json_object *o;
	PGresult *r;
	size_t len;
	char *plain;
	int i;

	*why = NULL;
	if (d->secret_names == NULL || strcmp(d->secret_names, "[]") == 0)
		return "{}";
	if (!have_key) {
		*why = "secrets are selected but the secrets key is missing";
		return NULL;
	}
	if (db_query(db, a, &q_secrets, p, &r) != DB_OK) {
		*why = "could not read the secrets";
		return NULL;
	}
	o = json_own(a, json_object_new_object());
	{
		/* Every selected name must exist, or the start fails. */
		struct json_object *names;
		size_t k;
		int j;

		if (json_parse(a, d->secret_names, strlen(d->secret_names),
		    &names) == JSON_OK)
			for (k = 0; k < json_object_array_length(names); k++) {
				const char *want = json_object_get_string(
				    json_object_array_get_idx(names, k));
				for (j = 0; j < PQntuples(r) &&
				    strcmp(PQgetvalue(r, j, 0), want) != 0; j++)
					;
				if (j == PQntuples(r)) {
					*why = arena_printf(a, "the secret %s "
					    "does not exist", want);
					return NULL;
				}
			}
	}
	for (i = 0; i < PQntuples(r); i++) {
		if ((plain = secretbox_open(a, key, PQgetvalue(r, i, 1),
		    PQgetvalue(r, i, 2), &len)) == NULL) {
			*why = "a secret could not be decrypted";
			return NULL;
		}
		json_object_object_add(o, PQgetvalue(r, i, 0),
		    json_object_new_string_len(plain, (int)len));
	}
	return json_text(o, &len);
}

static const struct db_stmt q_routes = {
	"recon_routes",
	"SELECT w.short_id, 0, d.ports->>(v.ports->0->>'port'),"
	" warren_upstream_host(h.publish_address, $1) FROM workspaces w"
	" JOIN deployments d ON d.workspace_id = w.id"
	" LEFT JOIN docker_hosts h ON h.name = d.docker_host"
	" JOIN template_versions v ON v.id = w.template_version_id"
	" WHERE w.deleted_at IS NULL AND w.desired_state = 'running'"
	" AND d.state = 'running' AND d.ports ? (v.ports->0->>'port')"
	" UNION ALL"
	" SELECT w.short_id, p.key::int, p.value,"
	" warren_upstream_host(h.publish_address, $1) FROM workspaces w"
	" JOIN deployments d ON d.workspace_id = w.id"
	" LEFT JOIN docker_hosts h ON h.name = d.docker_host"
	" CROSS JOIN LATERAL jsonb_each_text(d.ports) p"
	" WHERE w.deleted_at IS NULL AND w.desired_state = 'running'"
	" AND d.state = 'running' AND p.key ~ '^[0-9]{1,5}$'"
	" ORDER BY 1, 2", 1
};

int
state_routes(struct db *db, struct arena *a, const char *publish_address,
    struct traefik_route **out, int *n)
{
	const char *p[] = { publish_address };
	PGresult *r;
	int i;

	if (db_query(db, a, &q_routes, p, &r) != DB_OK)
		return -1;
	*n = PQntuples(r);
	*out = arena_alloc(a, sizeof(**out) * (size_t)(*n ? *n : 1));
	for (i = 0; i < *n; i++) {
		(*out)[i].short_id = arena_strdup(a, PQgetvalue(r, i, 0));
		(*out)[i].port = atoi(PQgetvalue(r, i, 1));
		/* On the workspace's Docker host. */
		(*out)[i].upstream = arena_printf(a, "%s:%s",
		    PQgetvalue(r, i, 3), PQgetvalue(r, i, 2));
	}
	return 0;
}

static const struct db_stmt q_registry = {
	"recon_registry",
	"SELECT username, nonce, ciphertext FROM registry_credentials"
	" WHERE registry = $1", 1
};

const char *
state_registry_auth(struct db *db, struct arena *a, const char *registry,
    const unsigned char *key, bool have_key, const char **why)
{
	const char *p[] = { registry };
	struct json_object *o;
	PGresult *r;
	size_t len, tlen, b64len;
	char *plain, *b64;
	const char *text;

	*why = NULL;
	if (db_query(db, a, &q_registry, p, &r) != DB_OK) {
		*why = "could not read the registry's credentials";
		return NULL;
	}
	if (PQntuples(r) == 0)
		return NULL;
	if (!have_key) {
		*why = arena_printf(a, "the credentials of %s cannot be read: "
		    "the secrets key is missing", registry);
		return NULL;
	}
	if ((plain = secretbox_open(a, key, PQgetvalue(r, 0, 1),
	    PQgetvalue(r, 0, 2), &len)) == NULL) {
		*why = arena_printf(a, "the credentials of %s could not be "
		    "decrypted", registry);
		return NULL;
	}
	o = json_own(a, json_object_new_object());
	json_object_object_add(o, "username",
	    json_object_new_string(PQgetvalue(r, 0, 0)));
	json_object_object_add(o, "password",
	    json_object_new_string_len(plain, (int)len));
	json_object_object_add(o, "serveraddress",
	    json_object_new_string(registry));
	sodium_memzero(plain, len);
	text = json_text(o, &tlen);
	b64len = sodium_base64_ENCODED_LEN(tlen, sodium_base64_VARIANT_URLSAFE);
	b64 = arena_alloc(a, b64len);
	sodium_bin2base64(b64, b64len, (const unsigned char *)text, tlen,
	    sodium_base64_VARIANT_URLSAFE);
	return b64;
}

static const struct db_stmt q_instance = {
	"recon_instance", "SELECT instance_id FROM instance", 0
};

int
state_instance(struct db *db, struct arena *a, char *out, size_t len)
{
	PGresult *r;

	if (db_query(db, a, &q_instance, NULL, &r) != DB_OK ||
	    PQntuples(r) != 1)
		return -1;
	snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
	return 0;
}

/*
 * The orphan volumes this pass saw ($2: [{"name": ..., "workspace": ...}])
 * replace the host's list, first sightings kept; the names an operator
 * asked to remove come back.
 */
static const struct db_stmt q_orphan_volumes = {
	"recon_orphan_volumes",
	"WITH seen AS (SELECT * FROM jsonb_to_recordset($2::jsonb)"
	"  AS s(name text, workspace text)),"
	" gone AS (DELETE FROM orphan_volumes o WHERE o.docker_host = $1"
	"  AND NOT EXISTS (SELECT 1 FROM seen WHERE seen.name = o.name)),"
	" new AS (INSERT INTO orphan_volumes (docker_host, name, workspace_id)"
	"  SELECT $1, name, workspace FROM seen ON CONFLICT DO NOTHING)"
	" SELECT o.name FROM orphan_volumes o JOIN seen ON seen.name = o.name"
	" WHERE o.docker_host = $1 AND o.remove_requested_at IS NOT NULL", 2
};

static const struct db_stmt q_orphan_volume_gone = {
	"recon_orphan_volume_gone",
	"WITH d AS (DELETE FROM orphan_volumes WHERE docker_host = $1"
	"  AND name = $2 RETURNING workspace_id, remove_requested_by)"
	" INSERT INTO audit_log (actor_name, action, target_type, target_id,"
	" result, details) SELECT 'warren-reconciler', 'volume.remove',"
	" 'volume', $2, 'success', jsonb_build_object('docker_host', $1::text,"
	" 'workspace_id', d.workspace_id, 'requested_by',"
	" d.remove_requested_by) FROM d", 2
};

int
state_orphan_volumes(struct db *db, struct arena *a, const char *host,
    const char *seen_json, char ***remove, int *n)
{
	const char *p[] = { host, seen_json };
	PGresult *r;
	int i;

	*n = 0;
	if (db_query(db, a, &q_orphan_volumes, p, &r) != DB_OK)
		return -1;
	*n = PQntuples(r);
	*remove = arena_alloc(a, sizeof(char *) * (size_t)(*n ? *n : 1));
	for (i = 0; i < *n; i++)
		(*remove)[i] = arena_strdup(a, PQgetvalue(r, i, 0));
	return 0;
}

int
state_orphan_volume_gone(struct db *db, struct arena *a, const char *host,
    const char *name)
{
	const char *p[] = { host, name };

	return run(db, a, &q_orphan_volume_gone, p);
}

/*
 * A confirmation covers a hold of at most as many containers as it saw;
 * a pass that would remove more is held again.
 */
static const struct db_stmt q_hold = {
	"recon_hold",
	"INSERT INTO removal_holds (docker_host, containers, total, reason)"
	" VALUES ($1, $2, $3, $4) ON CONFLICT (docker_host) DO UPDATE SET"
	" held_at = CASE WHEN removal_holds.containers = EXCLUDED.containers"
	"  THEN removal_holds.held_at ELSE now() END,"
	" confirmed_at = CASE WHEN EXCLUDED.containers <="
	"  removal_holds.containers THEN removal_holds.confirmed_at END,"
	" confirmed_by = CASE WHEN EXCLUDED.containers <="
	"  removal_holds.containers THEN removal_holds.confirmed_by END,"
	" containers = CASE WHEN EXCLUDED.containers <="
	"  removal_holds.containers AND removal_holds.confirmed_at IS NOT NULL"
	"  THEN removal_holds.containers ELSE EXCLUDED.containers END,"
	" total = EXCLUDED.total, reason = EXCLUDED.reason"
	" RETURNING confirmed_at IS NOT NULL, confirmed_by", 4
};

static const struct db_stmt q_hold_clear = {
	"recon_hold_clear",
	"DELETE FROM removal_holds WHERE docker_host = $1", 1
};

int
state_hold(struct db *db, struct arena *a, const char *host, int containers,
    int total, const char *reason, const char **confirmed_by)
{
	const char *p[4];
	PGresult *r;

	p[0] = host;
	p[1] = arena_printf(a, "%d", containers);
	p[2] = arena_printf(a, "%d", total);
	p[3] = reason;
	*confirmed_by = NULL;
	if (db_query(db, a, &q_hold, p, &r) != DB_OK || PQntuples(r) != 1)
		return -1;
	if (PQgetvalue(r, 0, 0)[0] == 't')
		*confirmed_by = arena_strdup(a, PQgetisnull(r, 0, 1) ?
		    "an operator" : PQgetvalue(r, 0, 1));
	return 0;
}

int
state_hold_clear(struct db *db, struct arena *a, const char *host)
{
	const char *p[] = { host };

	return run(db, a, &q_hold_clear, p);
}

/* Everyone's workspace lists change with it: the empty payload says so. */
static const struct db_stmt q_host_status = {
	"recon_host_status",
	"WITH u AS (INSERT INTO docker_host_status (name, reachable, error)"
	"  VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET"
	"  reachable = EXCLUDED.reachable, error = EXCLUDED.error,"
	"  changed_at = CASE WHEN docker_host_status.reachable ="
	"  EXCLUDED.reachable THEN docker_host_status.changed_at ELSE now() END"
	"  RETURNING name)"
	" SELECT pg_notify('warren_workspaces', '') FROM u", 3
};

int
state_host_status(struct db *db, struct arena *a, const char *host,
    bool reachable, const char *error)
{
	const char *p[] = { host, reachable ? "true" : "false", error };

	return run(db, a, &q_host_status, p);
}
