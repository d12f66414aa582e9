/* Liveness, readiness, metrics and the JSON echo used to test body handling. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "json.h"
#include "metrics.h"
#include "migrations.h"
#include "problem.h"
#include "server.h"

static const struct db_stmt q_schema_version = {
	"schema_version",
	"SELECT COALESCE(max(version), 0) FROM " MIGRATIONS_TABLE, 0
};

void
h_health(struct request *req, struct response *resp)
{
	static const char body[] = "{\"status\":\"ok\"}";

	(void)req;
	resp_text(resp, 200, "application/json", body, sizeof(body) - 1);
}

void
h_ready(struct request *req, struct response *resp)
{
	PGresult *res = NULL;
	int version;

	switch (db_query(req->srv->db, req->arena, &q_schema_version, NULL,
	    &res)) {
	case DB_UNAVAILABLE:
		problem(req, resp, PROBLEM_DB_UNAVAILABLE, NULL);
		return;
	case DB_ERROR:
		problem(req, resp, PROBLEM_NOT_READY, "the database schema "
		    "is not installed: run warrenctl migrate");
		return;
	case DB_OK:
		break;
	}
	version = atoi(PQgetvalue(res, 0, 0));
	if (version != migrations_count) {
		problem(req, resp, PROBLEM_NOT_READY, arena_printf(req->arena,
		    "the database schema is at version %d, this server needs "
		    "version %d", version, migrations_count));
		return;
	}
	resp_text(resp, 200, "application/json", arena_printf(req->arena,
	    "{\"status\":\"ready\",\"schema_version\":%d}", version), 0);
	resp->len = strlen(resp->body);
}

void
h_metrics(struct request *req, struct response *resp)
{
	size_t len;
	char *text;

	text = metrics_render(req->arena, req->srv->route_labels, &len);
	resp_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text,
	    len);
}

#ifdef WARREN_TEST_ROUTES
void
h_echo(struct request *req, struct response *resp)
{
	struct json_object *o = json_own(req->arena, json_object_new_object());

	json_object_object_add(o, "received", json_object_get(req->body));
	resp_json(req, resp, 200, o);
}
#endif
