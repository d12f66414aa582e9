#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "problem.h"
#include "query.h"
#include "server.h"

#define MAX_PARAMS	32

/* SQLSTATE classes and codes the API answers for, most specific first. */
static const struct {
	const char	*state;
	enum problem	 problem;
	const char	*detail;
} sqlstates[] = {
	{ "23505", PROBLEM_CONFLICT, "a resource with this name exists" },
	{ "23503", PROBLEM_CONFLICT, "a resource it refers to does not exist "
	    "or is still in use" },
	{ "23514", PROBLEM_INVALID_INPUT, "a value is out of range" },
	{ "23502", PROBLEM_INVALID_INPUT, "a required value is missing" },
	{ "22", PROBLEM_INVALID_INPUT, "a value is not acceptable" },
	{ "40001", PROBLEM_CONFLICT, "a concurrent change interfered; retry" },
	{ "40P01", PROBLEM_CONFLICT, "a concurrent change interfered; retry" },
};

enum db_status
q_run(struct request *req, const struct db_stmt *s, PGresult **res, ...)
{
	const char *params[MAX_PARAMS];
	va_list ap;
	int i;

	if (s->nparams > MAX_PARAMS)
		fatalx("statement %s has too many parameters", s->name);
	va_start(ap, res);
	for (i = 0; i < s->nparams; i++)
		params[i] = va_arg(ap, const char *);
	va_end(ap);
	return db_query(req->srv->db, req->arena, s, params, res);
}

enum db_status
q_begin(struct request *req)
{
	return db_begin(req->srv->db, req->arena);
}

enum db_status
q_commit(struct request *req)
{
	return db_commit(req->srv->db, req->arena);
}

void
q_rollback(struct request *req)
{
	db_rollback(req->srv->db, req->arena);
}

void
q_fail(struct request *req, struct response *resp, enum db_status st,
    PGresult *res)
{
	const char *state;
	size_t i;

	q_rollback(req);
	if (st == DB_UNAVAILABLE) {
		problem(req, resp, PROBLEM_DB_UNAVAILABLE, NULL);
		return;
	}
	state = db_sqlstate(res);
	for (i = 0; i < sizeof(sqlstates) / sizeof(sqlstates[0]); i++)
		if (strncmp(state, sqlstates[i].state,
		    strlen(sqlstates[i].state)) == 0) {
			problem(req, resp, sqlstates[i].problem,
			    sqlstates[i].detail);
			return;
		}
	log_warnx("database error %s: %s", state, res ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : "none");
	problem(req, resp, PROBLEM_INTERNAL, NULL);
}

const char *
q_get(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

bool
q_bool(PGresult *res, int row, int col)
{
	const char *v = q_get(res, row, col);

	return v != NULL && v[0] == 't';
}

/* Type OIDs from pg_type.h, which client code cannot include. */
#define BOOLOID		16
#define INT8OID		20
#define INT2OID		21
#define INT4OID		23
#define JSONBOID	3802
#define JSONOID		114
#define TIMESTAMPTZOID	1184

/* "2026-01-02 03:04:05.6+00" (UTC session) to "2026-01-02T03:04:05.6Z" */
static struct json_object *
rfc3339(struct request *req, const char *s)
{
	size_t n = strlen(s);
	char *t;

	if (n < 20 || s[10] != ' ' || strcmp(s + n - 3, "+00") != 0)
		return json_object_new_string(s);
	t = arena_strdup(req->arena, s);
	t[10] = 'T';
	strcpy(t + n - 3, "Z");
	return json_object_new_string(t);
}

/* The object returned is the caller's: add it to a parent or json_own it. */
struct json_object *
q_row_json(struct request *req, PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();
	struct json_object *v, *parsed;
	const char *s;
	int c;

	for (c = 0; c < PQnfields(res); c++) {
		s = q_get(res, row, c);
		if (s == NULL)
			v = NULL;
		else switch (PQftype(res, c)) {
		case BOOLOID:
			v = json_object_new_boolean(s[0] == 't');
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
			v = json_object_new_int64(strtoll(s, NULL, 10));
			break;
		case TIMESTAMPTZOID:
			v = rfc3339(req, s);
			break;
		case JSONOID:
		case JSONBOID:
			if (json_parse(req->arena, s, strlen(s), &parsed) ==
			    JSON_OK)
				v = json_object_get(parsed);
			else
				v = NULL;
			break;
		default:
			v = json_object_new_string(s);
		}
		json_object_object_add(o, PQfname(res, c), v);
	}
	return o;
}

struct json_object *
q_rows_json(struct request *req, PGresult *res)
{
	struct json_object *a = json_own(req->arena, json_object_new_array());
	int r;

	for (r = 0; r < PQntuples(res); r++)
		json_object_array_add(a, q_row_json(req, res, r));
	return a;
}

void
q_page_answer(struct request *req, struct response *resp, PGresult *res,
    long limit, int col)
{
	struct json_object *o = json_own(req->arena, json_object_new_object());
	int n = PQntuples(res);

	json_object_object_add(o, "items",
	    json_object_get(q_rows_json(req, res)));
	json_object_object_add(o, "next_cursor", n == limit ?
	    json_object_new_string(PQgetvalue(res, n - 1, col)) : NULL);
	resp_json(req, resp, 200, o);
}
