/*
 * How a failed statement is answered: SQLSTATEs to problems (exact codes
 * and whole classes), and q_fail's answers when the database is gone or
 * the failure carries no state.  No database is needed: a request whose
 * server has no connection has no transaction to roll back.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "json.h"
#include "query.h"
#include "server.h"
#include "tap.h"

static struct arena *A;

/* The state's problem and detail are these, with this status. */
static void
maps(const char *state, enum problem want, int status, const char *detail)
{
	const char *d = "unset";
	enum problem p;

	p = q_sqlstate_problem(state, &d);
	is_int(p, want, "SQLSTATE '%s': its problem", state);
	is_int(problem_defs[p].status, status, "SQLSTATE '%s': %d", state,
	    status);
	is_str(d, detail, "SQLSTATE '%s': its detail", state);
}

static void
test_table(void)
{
	static const char *const internal[] = { "", "2", "23", "23001",
	    "23P01", "40002", "4000", "40P0", "42P01", "42703", "42501",
	    "P0001", "57014", "55P03", "53100", "XX000", "08006", "21000",
	    NULL };
	int i;

	maps("23505", PROBLEM_CONFLICT, 409,
	    "a resource with this name exists");
	maps("23503", PROBLEM_CONFLICT, 409, "a resource it refers to does "
	    "not exist or is still in use");
	maps("23514", PROBLEM_INVALID_INPUT, 400, "a value is out of range");
	maps("23502", PROBLEM_INVALID_INPUT, 400,
	    "a required value is missing");
	/* Class 22, data exceptions: any code of it. */
	maps("22001", PROBLEM_INVALID_INPUT, 400, "a value is not acceptable");
	maps("22003", PROBLEM_INVALID_INPUT, 400, "a value is not acceptable");
	maps("22P02", PROBLEM_INVALID_INPUT, 400, "a value is not acceptable");
	maps("22P05", PROBLEM_INVALID_INPUT, 400, "a value is not acceptable");
	maps("22", PROBLEM_INVALID_INPUT, 400, "a value is not acceptable");
	maps("40001", PROBLEM_CONFLICT, 409,
	    "a concurrent change interfered; retry");
	maps("40P01", PROBLEM_CONFLICT, 409,
	    "a concurrent change interfered; retry");
	/* Everything else is ours to fix, and says nothing to the client. */
	for (i = 0; internal[i] != NULL; i++)
		maps(internal[i], PROBLEM_INTERNAL, 500, NULL);
}

/* What q_fail logged last, from stderr sent to a file meanwhile. */
static char logged[1024];

/* q_fail's answer: a problem of this status without a detail. */
static void
fails(enum db_status st, PGresult *res, int status, const char *what)
{
	struct server srv;
	struct request req;
	struct response resp;
	struct json_object *o, *d;
	FILE *f;
	size_t n;
	int saved;

	memset(&srv, 0, sizeof(srv));
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.arena = A;
	req.srv = &srv;
	snprintf(req.request_id, sizeof(req.request_id), "%s", "q");
	if ((f = tmpfile()) == NULL || (saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(fileno(f), STDERR_FILENO) == -1) {
		ok(0, "%s: could not send stderr to a file", what);
		return;
	}
	q_fail(&req, &resp, st, res);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(logged, 1, sizeof(logged) - 1, f);
	logged[n] = '\0';
	fclose(f);
	is_int(resp.status, status, "%s: %d", what, status);
	ok(resp.body != NULL && json_parse(A, resp.body, resp.len, &o) ==
	    JSON_OK, "%s: a JSON body", what);
	ok(resp.body != NULL && json_parse(A, resp.body, resp.len, &o) ==
	    JSON_OK && !json_object_object_get_ex(o, "detail", &d),
	    "%s: no detail", what);
	is_str(resp.content_type, "application/problem+json",
	    "%s: a problem", what);
}

static void
test_fail(void)
{
	PGresult *res;

	fails(DB_UNAVAILABLE, NULL, 503, "the database is unavailable");
	is_str(logged, "", "q_fail does not log what db.c logged");
	res = PQmakeEmptyPGresult(NULL, PGRES_FATAL_ERROR);
	fails(DB_UNAVAILABLE, res, 503,
	    "unavailable, whatever the result says");
	fails(DB_ERROR, res, 500, "an error without a SQLSTATE");
	like(logged, "warning: database error : none\n",
	    "a result without a message is logged as none");
	ok(strstr(logged, "(null)") == NULL, "no NULL reaches the log");
	PQclear(res);
	fails(DB_ERROR, NULL, 500, "an error without a result");
	like(logged, "warning: database error : none\n",
	    "no result is logged as none");
}

int
main(void)
{
	A = arena_new(16 * 1024);
	test_table();
	test_fail();
	arena_free(A);
	return done_testing();
}
