/* Running statements for a request, and answering for their failures. */
#ifndef WARREN_QUERY_H
#define WARREN_QUERY_H

#include <stdbool.h>

#include "db.h"
#include "json.h"
#include "http.h"
#include "problem.h"

/* Runs s with s->nparams string parameters (NULL is SQL NULL). */
enum db_status	 q_run(struct request *, const struct db_stmt *, PGresult **,
		    ...) __attribute__((warn_unused_result));
enum db_status	 q_begin(struct request *) __attribute__((warn_unused_result));
enum db_status	 q_commit(struct request *) __attribute__((warn_unused_result));
void		 q_rollback(struct request *);
/* Answers for a failed statement (503, 409, 400 or 500) and rolls back. */
void		 q_fail(struct request *, struct response *, enum db_status,
		    PGresult *);
/*
 * The handlers' steps.  Each either does its part or answers the request
 * (rolling back what the request began) and returns false, so a handler
 * reads as one chain: q_open(), q_do()..., audit_do(), q_close(), or
 * audit_done() for the last three and the answer.
 */
bool		 q_open(struct request *, struct response *)
		    __attribute__((warn_unused_result));
bool		 q_close(struct request *, struct response *)
		    __attribute__((warn_unused_result));
bool		 q_do(struct request *, struct response *,
		    const struct db_stmt *, PGresult **, ...)
		    __attribute__((warn_unused_result));
/* What q_fail answers for a SQLSTATE: the table's problem and detail,
 * or PROBLEM_INTERNAL and no detail for a state it does not name. */
enum problem	 q_sqlstate_problem(const char *state, const char **detail);
const char	*q_get(PGresult *, int row, int col);	/* NULL for SQL NULL */
bool		 q_bool(PGresult *, int row, int col);
/* A row as a JSON object: column names as keys, typed by the column. */
/* The members of a row, written into an open object. */
void		 q_row_members(struct arena *, struct jw *, PGresult *, int row);
struct json_object *q_row_json(struct request *, PGresult *, int row);
struct json_object *q_rows_json(struct request *, PGresult *);
/* In a transaction, when the change found no row: true, after a rollback
 * and a 404. */
bool	q_gone(struct request *, struct response *, PGresult *);
/* 200 with {"items": [every row of res]}. */
void	q_items_answer(struct request *, struct response *, PGresult *);
/* 200 with {"items": rows, "next_cursor": column col of the last row when
 * the page is full, else null}. */
/* {"items": [...], "next_cursor": ...}: each row written by row. */
typedef void	(*q_row_writer)(struct request *, struct jw *, PGresult *,
		    int row);
const char	*q_page_text(struct request *, PGresult *, q_row_writer,
		    const char *next_cursor, size_t *len);
void		 q_page_answer(struct request *, struct response *, PGresult *,
		    long limit, int col);

#endif
