/*
 * What warren-reconciler leaves to the operator: the installation's id and
 * state (warrenctl status), the home volumes it keeps because this
 * database does not know their workspace (warrenctl volumes), and the
 * removals its fuse holds (warrenctl removals).  warrenctl never talks to
 * Docker: it records the operator's decision, and the reconciler acts on
 * it at its next pass.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctldb.h"
#include "migrations.h"
#include "ops.h"

static int
with_db(const struct conf *c, int (*fn)(PGconn *, void *), void *arg)
{
	PGconn *conn;
	int rc;

	if ((conn = ctl_connect(c)) == NULL)
		return -1;
	rc = fn(conn, arg);
	PQfinish(conn);
	return rc;
}

static int
print_status(PGconn *conn, void *arg)
{
	PGresult *r;
	int i, v;

	(void)arg;
	if ((r = ctl_exec(conn, "read the installation", "SELECT instance_id,"
	    " (SELECT coalesce(max(version), 0) FROM " MIGRATIONS_TABLE "),"
	    " (SELECT count(*) FROM workspaces WHERE deleted_at IS NULL),"
	    " (SELECT count(*) FROM workspaces WHERE deleted_at IS NULL"
	    "  AND desired_state = 'running'),"
	    " (SELECT count(*) FROM orphan_volumes) FROM instance", 0, NULL))
	    == NULL)
		return -1;
	if (PQntuples(r) != 1) {
		fprintf(stderr, "warrenctl: the database has no instance row: "
		    "run warrenctl migrate\n");
		PQclear(r);
		return -1;
	}
	v = atoi(PQgetvalue(r, 0, 1));
	printf("instance:       %s\n", PQgetvalue(r, 0, 0));
	printf("schema:         %d of %d%s\n", v, migrations_count,
	    v == migrations_count ? "" : " (run warrenctl migrate)");
	printf("workspaces:     %s (%s to run)\n", PQgetvalue(r, 0, 2),
	    PQgetvalue(r, 0, 3));
	printf("orphan volumes: %s%s\n", PQgetvalue(r, 0, 4),
	    atoi(PQgetvalue(r, 0, 4)) ? " (warrenctl volumes)" : "");
	PQclear(r);
	if ((r = ctl_exec(conn, "read the removal holds", "SELECT docker_host,"
	    " containers, total, reason, held_at, confirmed_by"
	    " FROM removal_holds ORDER BY docker_host", 0, NULL)) == NULL)
		return -1;
	if (PQntuples(r) == 0)
		printf("removals held:  none\n");
	for (i = 0; i < PQntuples(r); i++)
		printf("removals held:  %s: %s of %s containers (%s) since %s%s%s"
		    "\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
		    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
		    PQgetvalue(r, i, 4), PQgetisnull(r, i, 5) ? "" :
		    ", confirmed by ", PQgetvalue(r, i, 5));
	PQclear(r);
	return 0;
}

int
ops_status(const struct conf *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return -2;
	return with_db(c, print_status, NULL);
}

static int
list_volumes(PGconn *conn, void *arg)
{
	PGresult *r;
	int i;

	(void)arg;
	if ((r = ctl_exec(conn, "list the orphan volumes", "SELECT name,"
	    " docker_host, coalesce(workspace_id, '-'),"
	    " to_char(first_seen, 'YYYY-MM-DD HH24:MI:SS'),"
	    " CASE WHEN remove_requested_at IS NULL THEN 'kept'"
	    " ELSE 'removal requested' END"
	    " FROM orphan_volumes ORDER BY docker_host, name", 0, NULL)) == NULL)
		return -1;
	if (PQntuples(r) == 0)
		printf("no orphan home volumes\n");
	else
		printf("%-28s %-12s %-36s %-19s %s\n", "VOLUME", "HOST",
		    "WORKSPACE", "FIRST SEEN", "STATE");
	for (i = 0; i < PQntuples(r); i++)
		printf("%-28s %-12s %-36s %-19s %s\n", PQgetvalue(r, i, 0),
		    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
		    PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
	PQclear(r);
	return 0;
}

struct names {
	char	**v;
	int	  n;		/* 0: all of them */
};

/*
 * Marks the named volumes (or all) for removal, in one transaction: a name
 * that is not an orphan volume changes nothing.
 */
static int
request_removal(PGconn *conn, void *arg)
{
	const struct names *names = arg;
	const char *p[2];
	PGresult *r;
	char *list = NULL;
	size_t len = 0;
	FILE *f;
	int i, rc = -1, n;

	if ((f = open_memstream(&list, &len)) == NULL)
		return -1;
	fputc('{', f);
	for (i = 0; i < names->n; i++) {
		const char *s;
		fputs(i ? ",\"" : "\"", f);
		for (s = names->v[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				fputc('\\', f);
			fputc(*s, f);
		}
		fputc('"', f);
	}
	fputc('}', f);
	fclose(f);
	p[0] = names->n ? list : NULL;
	p[1] = ctl_actor();
	if ((r = ctl_exec(conn, "begin", "BEGIN", 0, NULL)) == NULL)
		goto out;
	PQclear(r);
	if ((r = ctl_exec(conn, "request the removal", "WITH u AS (UPDATE"
	    " orphan_volumes SET remove_requested_at = now(),"
	    " remove_requested_by = $2 WHERE $1::text[] IS NULL"
	    " OR name = ANY ($1::text[]) RETURNING name, docker_host,"
	    " workspace_id), a AS (INSERT INTO audit_log (actor_name, action,"
	    " target_type, target_id, result, details) SELECT $2,"
	    " 'volume.remove_request', 'volume', name, 'success',"
	    " jsonb_build_object('docker_host', docker_host, 'workspace_id',"
	    " workspace_id) FROM u) SELECT name FROM u", 2, p)) == NULL)
		goto out;
	n = PQntuples(r);
	if (names->n > 0 && n != names->n) {
		for (i = 0; i < names->n; i++) {
			int k;
			for (k = 0; k < n && strcmp(PQgetvalue(r, k, 0),
			    names->v[i]) != 0; k++)
				;
			if (k == n)
				fprintf(stderr, "warrenctl: %s is not an orphan "
				    "home volume (warrenctl volumes lists them)"
				    "\n", names->v[i]);
		}
		PQclear(r);
		PQclear(PQexec(conn, "ROLLBACK"));
		goto out;
	}
	PQclear(r);
	if ((r = ctl_exec(conn, "commit", "COMMIT", 0, NULL)) == NULL)
		goto out;
	PQclear(r);
	if (n == 0)
		printf("no orphan home volumes\n");
	else
		printf("requested the removal of %d home volume%s: "
		    "warren-reconciler removes %s at its next pass\n", n,
		    n == 1 ? "" : "s", n == 1 ? "it" : "them");
	rc = 0;
out:
	free(list);
	return rc;
}

int
ops_volumes(const struct conf *c, int argc, char **argv)
{
	struct names names = { NULL, 0 };

	if (argc == 0)
		return with_db(c, list_volumes, NULL);
	if (strcmp(argv[0], "remove") != 0 || argc < 2)
		return -2;
	if (argc == 2 && strcmp(argv[1], "--all") == 0)
		return with_db(c, request_removal, &names);
	names.v = argv + 1;
	names.n = argc - 1;
	for (int i = 0; i < names.n; i++)
		if (names.v[i][0] == '-')
			return -2;
	return with_db(c, request_removal, &names);
}

static int
confirm(PGconn *conn, void *arg)
{
	const char *p[2] = { arg, ctl_actor() };
	PGresult *r;
	int i;

	if ((r = ctl_exec(conn, "confirm the removals", "WITH u AS (UPDATE"
	    " removal_holds SET confirmed_at = now(), confirmed_by = $2"
	    " WHERE $1::text IS NULL OR docker_host = $1 RETURNING"
	    " docker_host, containers, total, reason), a AS (INSERT INTO"
	    " audit_log (actor_name, action, target_type, target_id, result,"
	    " details) SELECT $2, 'removals.confirm', 'docker_host',"
	    " docker_host, 'success', jsonb_build_object('containers',"
	    " containers, 'total', total, 'reason', reason) FROM u)"
	    " SELECT docker_host, containers, total FROM u", 2, p)) == NULL)
		return -1;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "warrenctl: no removal is held%s%s\n",
		    arg ? " on " : "", arg ? (const char *)arg : "");
		PQclear(r);
		return -1;
	}
	for (i = 0; i < PQntuples(r); i++)
		printf("confirmed: warren-reconciler on %s removes up to %s of "
		    "%s containers at its next pass\n", PQgetvalue(r, i, 0),
		    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
	PQclear(r);
	return 0;
}

int
ops_removals(const struct conf *c, int argc, char **argv)
{
	if (argc < 1 || argc > 2 || strcmp(argv[0], "confirm") != 0)
		return -2;
	return with_db(c, confirm, argc == 2 ? argv[1] : NULL);
}
