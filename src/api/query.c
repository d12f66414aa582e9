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

static enum db_status
q_vrun(struct request *req, const struct db_stmt *s, PGresult **res,
    va_list ap)
{
	const char *params[MAX_PARAMS];
	int i;

	if (s->nparams > MAX_PARAMS)
		fatalx("statement %s has too many parameters", s->name);
	for (i = 0; i < s->nparams; i++)
		params[i] = va_arg(ap, const char *);
	return db_query(req->srv->db, req->arena, s, params, res);
}

enum db_status
q_run(struct request *req, const struct db_stmt *s, PGresult **res, ...)
{
	enum db_status st;
	va_list ap;

	va_start(ap, res);
	st = q_vrun(req, s, res, ap);
	va_end(ap);
	return st;
}

bool
q_do(struct request *req, struct response *resp, const struct db_stmt *s,
    PGresult **res, ...)
{
	enum db_status st;
	va_list ap;

	*res = NULL;
	va_start(ap, res);
	st = q_vrun(req, s, res, ap);
	va_end(ap);
	if (st == DB_OK)
		return true;
	q_fail(req, resp, st, *res);
	return false;
}

/* true when st is DB_OK; otherwise answers for it. */
static bool
q_ok(struct request *req, struct response *resp, enum db_status st)
{
	if (st == DB_OK)
		return true;
	q_fail(req, resp, st, NULL);
	return false;
}

bool
q_open(struct request *req, struct response *resp)
{
	return q_ok(req, resp, q_begin(req));
}

bool
q_close(struct request *req, struct response *resp)
{
	return q_ok(req, resp, q_commit(req));
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

enum problem
q_sqlstate_problem(const char *state, const char **detail)
{
	size_t i;

	for (i = 0; i < sizeof(sqlstates) / sizeof(sqlstates[0]); i++)
		if (strncmp(state, sqlstates[i].state,
		    strlen(sqlstates[i].state)) == 0) {
			*detail = sqlstates[i].detail;
			return sqlstates[i].problem;
		}
	*detail = NULL;
	return PROBLEM_INTERNAL;
}

void
q_fail(struct request *req, struct response *resp, enum db_status st,
    PGresult *res)
{
	const char *state, *detail, *msg = NULL;
	enum problem p;

	q_rollback(req);
	if (st == DB_UNAVAILABLE) {
		problem(req, resp, PROBLEM_DB_UNAVAILABLE, NULL);
		return;
	}
	state = db_sqlstate(res);
	if ((p = q_sqlstate_problem(state, &detail)) == PROBLEM_INTERNAL) {
		/* A result libpq made itself may have no message field. */
		if (res != NULL)
			msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		log_warnx("database error %s: %s", state, msg ? msg : "none");
	}
	problem(req, resp, p, detail);
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

/*
 * A timestamp in RFC 3339: "2026-01-02 03:04:05.6+00" (a UTC session)
 * becomes "2026-01-02T03:04:05.6Z"; NULL for anything else.
 */
static char *
rfc3339(struct arena *a, const char *s, size_t n)
{
	char *t;

	if (n < 20 || s[10] != ' ' || strcmp(s + n - 3, "+00") != 0)
		return NULL;
	t = arena_strndup(a, s, n - 2);
	t[10] = 'T';
	t[n - 3] = 'Z';
	return t;
}

/*
 * The members of a row as JSON text, by column type: booleans and integers
 * as they are, timestamps in RFC 3339, json and jsonb as the text
 * PostgreSQL checked, the rest as strings; NULL as null.  q_row_json gives
 * the same as json-c objects.
 */
void
q_row_members(struct arena *a, struct jw *w, PGresult *res, int row)
{
	const char *s, *t;
	int c;

	for (c = 0; c < PQnfields(res); c++) {
		jw_key(w, PQfname(res, c));
		if ((s = q_get(res, row, c)) == NULL) {
			jw_value(w, "null", 4);
			continue;
		}
		switch (PQftype(res, c)) {
		case BOOLOID:
			if (s[0] == 't')
				jw_value(w, "true", 4);
			else
				jw_value(w, "false", 5);
			break;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case JSONOID:
		case JSONBOID:
			jw_value(w, s, (size_t)PQgetlength(res, row, c));
			break;
		case TIMESTAMPTZOID:
			t = rfc3339(a, s, (size_t)PQgetlength(res, row, c));
			jw_string(w, t ? t : s);
			break;
		default:
			jw_string(w, s);
		}
	}
}

/* The object returned is the caller's: add it to a parent or json_own it. */
struct json_object *
q_row_json(struct request *req, PGresult *res, int row)
{
	struct json_object *o = json_object_new_object();
	struct json_object *v, *parsed;
	const char *s, *t;
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
			t = rfc3339(req->arena, s,
			    (size_t)PQgetlength(res, row, c));
			v = json_object_new_string(t ? t : s);
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

bool
q_gone(struct request *req, struct response *resp, PGresult *res)
{
	if (PQntuples(res) > 0)
		return false;
	q_rollback(req);
	problem(req, resp, PROBLEM_NOT_FOUND, NULL);
	return true;
}

void
q_items_answer(struct request *req, struct response *resp, PGresult *res)
{
	struct json_object *o = json_own(req->arena, json_object_new_object());

	json_object_object_add(o, "items",
	    json_object_get(q_rows_json(req, res)));
	resp_json(req, resp, 200, o);
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

/* A row as a JSON object of its columns. */
static void
row_object(struct request *req, struct jw *w, PGresult *res, int row)
{
	jw_open(w, '{');
	q_row_members(req->arena, w, res, row);
	jw_close(w, '}');
}

const char *
q_page_text(struct request *req, PGresult *res, q_row_writer row,
    const char *next_cursor, size_t *len)
{
	int r, n = PQntuples(res);
	struct jw w;

	jw_init(&w, req->arena, 1024 * (size_t)(n + 1));
	jw_open(&w, '{');
	jw_key(&w, "items");
	jw_open(&w, '[');
	for (r = 0; r < n; r++)
		row(req, &w, res, r);
	jw_close(&w, ']');
	jw_key(&w, "next_cursor");
	jw_string(&w, next_cursor);
	jw_close(&w, '}');
	return jw_text(&w, len);
}

void
q_page_answer(struct request *req, struct response *resp, PGresult *res,
    long limit, int col)
{
	int n = PQntuples(res);
	const char *text;
	size_t len;

	text = q_page_text(req, res, row_object, n == limit ?
	    PQgetvalue(res, n - 1, col) : NULL, &len);
	resp_text(resp, 200, "application/json", text, len);
}
