#include "config.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctldb.h"

PGconn *
ctl_connect(const struct conf *c)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { c->db_conninfo, "warrenctl", NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "warrenctl: could not connect to the database: "
		    "%s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

PGresult *
ctl_exec(PGconn *conn, const char *what, const char *sql, int nparams,
    const char *const *params)
{
	PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL,
	    NULL, 0);

	if (PQresultStatus(r) == PGRES_TUPLES_OK ||
	    PQresultStatus(r) == PGRES_COMMAND_OK)
		return r;
	fprintf(stderr, "warrenctl: could not %s: %s\n", what,
	    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ?
	    PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) :
	    PQerrorMessage(conn));
	PQclear(r);
	return NULL;
}

const char *
ctl_actor(void)
{
	static char out[128];
	const char *who = getenv("SUDO_USER");
	struct passwd *pw;

	if (who == NULL || *who == '\0')
		who = (pw = getpwuid(getuid())) != NULL ? pw->pw_name : "?";
	snprintf(out, sizeof(out), "warrenctl (%s)", who);
	return out;
}
