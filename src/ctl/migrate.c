/*
 * Each migration runs in its own transaction together with the row that
 * records it, so a failure leaves the schema exactly at the previous
 * version.  A session advisory lock keeps two runs from interleaving.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "migrate.h"
#include "migrations.h"
#include "util.h"

#define CREATE_TABLE \
	"CREATE TABLE IF NOT EXISTS " MIGRATIONS_TABLE " (" \
	" version integer PRIMARY KEY," \
	" name text NOT NULL," \
	" checksum text NOT NULL," \
	" applied_at timestamptz NOT NULL DEFAULT now())"

static void
checksum(const char *sql, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)sql, strlen(sql));
	sodium_bin2hex(out, 65, h, sizeof(h));
}

/* Runs a statement that returns nothing of interest; -1 after reporting. */
static int
run(PGconn *c, const char *what, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "warrenctl: could not %s: %s\n", what,
		    FIRST_LINE(PQresultErrorMessage(r)));
	PQclear(r);
	return ok ? 0 : -1;
}

static int
apply(PGconn *c, const struct migration *m)
{
	char sum[65], ver[16];
	const char *params[3] = { ver, m->name, sum };
	PGresult *r;

	checksum(m->sql, sum);
	snprintf(ver, sizeof(ver), "%d", m->version);
	if (run(c, "begin a transaction", "BEGIN") == -1)
		return -1;
	r = PQexec(c, m->sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "warrenctl: migration %04d_%s failed: %s\n",
		    m->version, m->name, FIRST_LINE(PQresultErrorMessage(r)));
		PQclear(r);
		(void)run(c, "roll back", "ROLLBACK");
		return -1;
	}
	PQclear(r);
	r = PQexecParams(c, "INSERT INTO " MIGRATIONS_TABLE
	    " (version, name, checksum) VALUES ($1, $2, $3)", 3, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "warrenctl: could not record migration %04d: "
		    "%s\n", m->version, FIRST_LINE(PQresultErrorMessage(r)));
		PQclear(r);
		(void)run(c, "roll back", "ROLLBACK");
		return -1;
	}
	PQclear(r);
	if (run(c, "commit", "COMMIT") == -1)
		return -1;
	printf("applied %04d_%s\n", m->version, m->name);
	return 0;
}

/* Compares what the database recorded with what this binary carries. */
static int
check_applied(PGresult *r, int *current)
{
	char sum[65];
	int i, v;

	*current = 0;
	for (i = 0; i < PQntuples(r); i++) {
		v = atoi(PQgetvalue(r, i, 0));
		if (v > *current)
			*current = v;
		if (v > migrations_count)
			continue;
		checksum(migrations[v - 1].sql, sum);
		if (strcmp(sum, PQgetvalue(r, i, 2)) != 0) {
			fprintf(stderr, "warrenctl: migration %04d_%s differs "
			    "from the one applied to this database\n", v,
			    migrations[v - 1].name);
			return -1;
		}
	}
	if (*current > migrations_count) {
		fprintf(stderr, "warrenctl: the database schema is at version "
		    "%d, newer than this warrenctl knows (%d): upgrade Warren "
		    "before running migrate\n", *current, migrations_count);
		return -1;
	}
	return 0;
}

static int
migrate_locked(PGconn *c, bool status_only)
{
	PGresult *r;
	int current, i, rc = 0, applied = 0;

	if (run(c, "create the migrations table", CREATE_TABLE) == -1)
		return -1;
	r = PQexec(c, "SELECT version, name, checksum, applied_at FROM "
	    MIGRATIONS_TABLE " ORDER BY version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "warrenctl: could not read migrations: %s\n",
		    FIRST_LINE(PQresultErrorMessage(r)));
		PQclear(r);
		return -1;
	}
	if (check_applied(r, &current) == -1) {
		PQclear(r);
		return -1;
	}
	if (status_only) {
		for (i = 0; i < migrations_count; i++)
			printf("%04d_%s\t%s\n", migrations[i].version,
			    migrations[i].name, i < PQntuples(r) ?
			    PQgetvalue(r, i, 3) : "pending");
		PQclear(r);
		return 0;
	}
	PQclear(r);
	for (i = current; i < migrations_count && rc == 0; i++)
		if ((rc = apply(c, &migrations[i])) == 0)
			applied++;
	if (rc == 0)
		printf("schema at version %d (%d applied)\n", migrations_count,
		    applied);
	return rc;
}

int
migrate_run(const struct conf *conf, bool status_only)
{
	const char *keys[] = { "dbname", "application_name", "connect_timeout",
	    NULL };
	char timeout[32];
	const char *vals[] = { conf->db_conninfo, "warrenctl", timeout, NULL };
	PGconn *c;
	int rc;

	snprintf(timeout, sizeof(timeout), "%ld",
	    (conf->db_connect_timeout + 999) / 1000 + 1);
	c = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "warrenctl: could not connect to the "
		    "database: %s\n", FIRST_LINE(PQerrorMessage(c)));
		PQfinish(c);
		return -1;
	}
	if (run(c, "set up the session", "SET client_min_messages = warning")
	    == -1 || run(c, "take the migration lock",
	    "SELECT pg_advisory_lock(" MIGRATIONS_LOCK ")") == -1) {
		PQfinish(c);
		return -1;
	}
	rc = migrate_locked(c, status_only);
	PQfinish(c);	/* ends the session and with it the lock */
	return rc;
}
