/*
 * "warrenctl setup" takes a fresh host with a local PostgreSQL to a working
 * Warren, and changes nothing that is already there when it runs again.
 *
 * PostgreSQL's local peer authentication decides who does what: the role
 * and the database are made as the postgres OS user, the schema and the
 * first admin as the OS user named like the role (warren, the user
 * warren-api runs as) when there is one.  Run as root, each of these steps
 * runs in a child process that has given up root for that user.
 *
 * With peer authentication each service connects as its own OS user, so
 * warren-reconciler gets a role of its own, a member of warren's: the same
 * db_conninfo serves both.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "conf.h"
#include "keys.h"
#include "migrate.h"
#include "setup.h"
#include "user.h"
#include "util.h"

#define SUPERUSER	"postgres"	/* OS user and role of the cluster */
#define SERVICE_USER	"warren"	/* OS user of warren-api */
#define RECONCILER_USER	"warren-reconciler"	/* and of the reconciler */
#define DEFAULT_CONNINFO "dbname=warren"
#define NAMELEN		64		/* PostgreSQL's NAMEDATALEN */

struct setup {
	struct conf	 c;
	char		 role[NAMELEN];		/* warren-api's role */
	char		 dbname[NAMELEN];
	const char	*os_user;		/* the role's OS user, or NULL */
	bool		 reconciler;		/* make RECONCILER_USER's role */
	const char	*admin;
	const char	*email;
	char		 timeout[32];		/* connect_timeout, seconds */
};

/* Whether the file sets db_conninfo itself (1), or not (0); -1: error. */
static int
conninfo_in_file(const char *path)
{
	char line[CONF_STR_MAX * 2];
	const char *p;
	int found = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		p = line + strspn(line, " \t");
		if (strncmp(p, "db_conninfo", 11) == 0 &&
		    p[11 + strspn(p + 11, " \t")] == '=')
			found = 1;
	}
	fclose(f);
	return found;
}

/* Writes db_conninfo into the configuration file when it is not there. */
static int
ensure_conninfo(const char *path)
{
	static const char text[] = "\n# Added by warrenctl setup: the database"
	    " of warren-api (local peer authentication).\ndb_conninfo = \""
	    DEFAULT_CONNINFO "\"\n";
	int fd, found;

	if ((found = conninfo_in_file(path)) == 1)
		return 0;
	if (found == -1 || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0640)) == -1 || write(fd, text, sizeof(text) - 1) !=
	    (ssize_t)(sizeof(text) - 1) || close(fd) == -1) {
		fprintf(stderr, "warrenctl: could not add db_conninfo to %s: "
		    "%s\n", path, strerror(errno));
		return -1;
	}
	printf("added db_conninfo = \"%s\" to %s\n", DEFAULT_CONNINFO, path);
	return 0;
}

/* The role and database that db_conninfo names, and who connects. */
static int
resolve(struct setup *s)
{
	PQconninfoOption *opts, *o;
	struct passwd *pw;
	char *err = NULL;
	const char *user = NULL, *db = NULL;

	if ((opts = PQconninfoParse(s->c.db_conninfo, &err)) == NULL) {
		fprintf(stderr, "warrenctl: db_conninfo: %s", err ? err :
		    "out of memory\n");
		PQfreemem(err);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && o->val[0] != '\0') {
			if (strcmp(o->keyword, "user") == 0)
				user = o->val;
			else if (strcmp(o->keyword, "dbname") == 0)
				db = o->val;
		}
	/* No user named: each service connects as its own OS user. */
	s->reconciler = user == NULL && geteuid() == 0;
	if (user == NULL && geteuid() != 0 &&
	    (pw = getpwuid(geteuid())) != NULL)
		user = pw->pw_name;
	snprintf(s->role, sizeof(s->role), "%s", user ? user : SERVICE_USER);
	snprintf(s->dbname, sizeof(s->dbname), "%s", db ? db : s->role);
	PQconninfoFree(opts);
	/* Without a user in db_conninfo, libpq would connect as root. */
	if (setenv("PGUSER", s->role, 1) == -1)
		return -1;
	s->os_user = geteuid() == 0 && getpwnam(s->role) != NULL ?
	    s->role : NULL;
	snprintf(s->timeout, sizeof(s->timeout), "%ld",
	    (s->c.db_connect_timeout + 999) / 1000 + 1);
	return 0;
}

/*
 * Runs fn in a child process as OS user `user` when we are root (and
 * directly otherwise); 0 when fn succeeded.
 */
static int
run_as(const char *user, int (*fn)(struct setup *), struct setup *s)
{
	struct passwd *pw;
	pid_t pid;
	int status;

	if (user == NULL || geteuid() != 0)
		return fn(s);
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "warrenctl: no OS user %s\n", user);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "warrenctl: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
		    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1 ||
		    chdir("/") == -1 || setenv("HOME", pw->pw_dir, 1) == -1) {
			fprintf(stderr, "warrenctl: could not become %s: %s\n",
			    user, strerror(errno));
			_exit(1);
		}
		status = fn(s);
		fflush(stdout);
		fflush(stderr);
		_exit(status == 0 ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A connection as warren-api makes it, or NULL (with the reason in err). */
static PGconn *
connect_service(struct setup *s, char *err, size_t errlen)
{
	const char *keys[] = { "dbname", "application_name",
	    "connect_timeout", NULL };
	const char *vals[] = { s->c.db_conninfo, "warrenctl", s->timeout,
	    NULL };
	PGconn *conn = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(conn) == CONNECTION_OK)
		return conn;
	snprintf(err, errlen, "%s", FIRST_LINE(PQerrorMessage(conn)));
	PQfinish(conn);
	return NULL;
}

/* The same server as db_conninfo, as the superuser, database postgres. */
static PGconn *
connect_superuser(struct setup *s)
{
	static const char *const copy[] = { "host", "hostaddr", "port",
	    "sslmode", NULL };
	const char *keys[16], *vals[16];
	PQconninfoOption *opts, *o;
	PGconn *conn;
	int n = 0, i;

	if ((opts = PQconninfoParse(s->c.db_conninfo, NULL)) == NULL)
		return NULL;
	for (o = opts; o->keyword != NULL; o++)
		for (i = 0; copy[i] != NULL; i++)
			if (strcmp(o->keyword, copy[i]) == 0 && o->val != NULL &&
			    o->val[0] != '\0') {
				keys[n] = o->keyword;
				vals[n++] = o->val;
			}
	keys[n] = "user", vals[n++] = SUPERUSER;
	keys[n] = "dbname", vals[n++] = "postgres";
	keys[n] = "application_name", vals[n++] = "warrenctl";
	keys[n] = "connect_timeout", vals[n++] = s->timeout;
	keys[n] = NULL, vals[n] = NULL;
	conn = PQconnectdbParams(keys, vals, 0);
	PQconninfoFree(opts);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "warrenctl: could not connect to PostgreSQL as "
		    "%s: %s\n", SUPERUSER, FIRST_LINE(PQerrorMessage(conn)));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Runs sql (on an escaped name) unless probe, with $1 = name, finds a row. */
static int
create_unless(PGconn *conn, const char *probe, const char *name,
    const char *what, const char *sql)
{
	const char *params[1] = { name };
	PGresult *r;
	int found;

	r = PQexecParams(conn, probe, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "warrenctl: could not look for %s %s: %s\n",
		    what, name, FIRST_LINE(PQresultErrorMessage(r)));
		PQclear(r);
		return -1;
	}
	found = PQntuples(r) > 0;
	PQclear(r);
	if (found) {
		printf("%s %s exists: keeping it\n", what, name);
		return 0;
	}
	r = PQexec(conn, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "warrenctl: could not create %s %s: %s\n",
		    what, name, FIRST_LINE(PQresultErrorMessage(r)));
		PQclear(r);
		return -1;
	}
	PQclear(r);
	printf("created %s %s\n", what, name);
	return 0;
}

/*
 * As the superuser: the reconciler's role, a member of warren-api's role
 * (role escaped, name as it is).
 */
static int
make_reconciler_role(PGconn *conn, const char *role, const char *name)
{
	char sql[512], *rec;
	PGresult *r;
	int rc = -1;

	if ((rec = PQescapeIdentifier(conn, RECONCILER_USER,
	    strlen(RECONCILER_USER))) == NULL)
		return -1;
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN", rec);
	if (create_unless(conn, "SELECT 1 FROM pg_roles WHERE rolname = $1",
	    RECONCILER_USER, "role", sql) == 0) {
		/* Kept if it is there: a grant that exists is a notice. */
		snprintf(sql, sizeof(sql), "SET client_min_messages = warning;"
		    " GRANT %s TO %s", role, rec);
		r = PQexec(conn, sql);
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			rc = 0;
		else
			fprintf(stderr, "warrenctl: could not grant role %s to "
			    "%s: %s\n", name, RECONCILER_USER,
			    FIRST_LINE(PQresultErrorMessage(r)));
		PQclear(r);
	}
	PQfreemem(rec);
	return rc;
}

/*
 * As the superuser: the role (LOGIN, no password), the database it owns,
 * and the reconciler's role when each service connects as its own user.
 */
static int
make_roles_db(struct setup *s)
{
	char sql[512], *role, *db;
	PGconn *conn;
	int rc = -1;

	if ((conn = connect_superuser(s)) == NULL)
		return -1;
	role = PQescapeIdentifier(conn, s->role, strlen(s->role));
	db = PQescapeIdentifier(conn, s->dbname, strlen(s->dbname));
	if (role != NULL && db != NULL) {
		snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN", role);
		if (create_unless(conn, "SELECT 1 FROM pg_roles WHERE rolname ="
		    " $1", s->role, "role", sql) == 0) {
			snprintf(sql, sizeof(sql), "CREATE DATABASE %s OWNER %s",
			    db, role);
			rc = create_unless(conn, "SELECT 1 FROM pg_database"
			    " WHERE datname = $1", s->dbname, "database", sql);
		}
		if (rc == 0 && s->reconciler)
			rc = make_reconciler_role(conn, role, s->role);
	}
	PQfreemem(role);
	PQfreemem(db);
	PQfinish(conn);
	return rc;
}

/* As warren-api's user: can it reach its database already? */
static int
probe_service(struct setup *s)
{
	char err[512];
	PGconn *conn;

	if ((conn = connect_service(s, err, sizeof(err))) == NULL)
		return -1;
	PQfinish(conn);
	return 0;
}

/* The first admin, unless an admin exists. */
static int
first_admin(struct setup *s)
{
	const char *params[1] = { "admin" };
	char err[512];
	PGresult *r;
	PGconn *conn;
	int n;

	if ((conn = connect_service(s, err, sizeof(err))) == NULL) {
		fprintf(stderr, "warrenctl: could not connect to the database: "
		    "%s\n", err);
		return -1;
	}
	r = PQexecParams(conn, "SELECT username FROM users WHERE role = $1"
	    " AND NOT disabled ORDER BY created_at LIMIT 1", 1, NULL, params,
	    NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "warrenctl: could not look for an admin: %s\n",
		    FIRST_LINE(PQresultErrorMessage(r)));
		n = -1;
	} else if ((n = PQntuples(r)) > 0)
		printf("admin %s exists: keeping it\n", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(conn);
	if (n != 0)
		return n > 0 ? 0 : -1;
	return user_add(&s->c, s->admin, s->email, "admin", false);
}

/* As warren-api's user: the schema, then the first admin. */
static int
schema_and_admin(struct setup *s)
{
	if (migrate_run(&s->c, false) == -1)
		return -1;
	return first_admin(s);
}

static int
database(struct setup *s)
{
	bool reachable = run_as(s->os_user, probe_service, s) == 0;

	if (reachable)
		printf("database %s is reachable as %s\n", s->dbname, s->role);
	if (reachable && !s->reconciler)
		return 0;
	if (run_as(SUPERUSER, make_roles_db, s) == 0)
		return 0;
	if (reachable) {
		fprintf(stderr, "warrenctl: could not check the role of %s; "
		    "for a reconciler on this host, run:\n"
		    "  runuser -u %s -- psql -c 'CREATE ROLE \"%s\" LOGIN "
		    "IN ROLE %s'\n", RECONCILER_USER, SUPERUSER,
		    RECONCILER_USER, s->role);
		return 0;
	}
	fprintf(stderr, "warrenctl: could not make the role and database: "
	    "make them as PostgreSQL's superuser, then run setup again:\n"
	    "  runuser -u %s -- createuser %s\n"
	    "  runuser -u %s -- createdb -O %s %s\n", SUPERUSER, s->role,
	    SUPERUSER, s->role, s->dbname);
	return -1;
}

static void
next_steps(const struct setup *s, const char *conf_path)
{
	printf("\nWarren is set up.  Next steps:\n"
	    "  1. In %s, set to the names people will use:\n"
	    "       public_url (now %s)\n"
	    "       base_domain (now %s)\n"
	    "  2. Serve it with nginx (pages, API and workspaces):\n"
	    "       ln -s /etc/nginx/sites-available/warren "
	    "/etc/nginx/sites-enabled/\n"
	    "       systemctl reload nginx\n"
	    "     or with Apache (pages, API and, with authorizer_listen = "
	    "127.0.0.1:9000\n"
	    "     set in step 1, workspaces):\n"
	    "       a2enmod proxy_fcgi proxy_http headers rewrite authnz_fcgi\n"
	    "       a2ensite warren && systemctl reload apache2\n"
	    "  3. Start the services (warren-reconciler on the Docker host):\n"
	    "       systemctl enable --now warren-api.socket warren-api\n"
	    "       systemctl enable --now warren-reconciler\n"
	    "  4. Sign in at %s as the admin, with the one-time password\n"
	    "     printed when it was created, and change it.\n"
	    "  5. Build the standard workspace images on the Docker host (from\n"
	    "     Debian's and npm's packages, a few minutes each; as root):\n"
	    "       warrenctl images build demo jupyter code-server\n"
	    "     and make a template of each on the Templates page, or with\n"
	    "       warrenctl images template NAME | curl -H \"Authorization: "
	    "Bearer ...\"\n"
	    "         -H 'Content-Type: application/json' -d @- "
	    "%s/api/v1/templates\n",
	    conf_path, s->c.public_url, s->c.base_domain, s->c.public_url,
	    s->c.public_url);
}

int
setup_run(const char *conf_path, const char *admin, const char *email)
{
	static struct setup s;

	s.admin = admin;
	s.email = email;
	if (ensure_conninfo(conf_path) == -1 ||
	    conf_load(&s.c, conf_path, conf_print_error, NULL) == -1 ||
	    resolve(&s) == -1 || keys_init(&s.c) == -1 || database(&s) == -1 ||
	    run_as(s.os_user, schema_and_admin, &s) == -1)
		return -1;
	next_steps(&s, conf_path);
	return 0;
}
