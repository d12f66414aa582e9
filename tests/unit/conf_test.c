/*
 * The config parser through its error callback: every type, range,
 * quoting, comments, positions, environment overrides, every key's
 * refusals, the keys a reload cannot change, and the sample file
 * documenting every key of conf_keys[].
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "tap.h"

#ifndef SRCDIR
#error "SRCDIR must name the source tree (set in Makefile.am)"
#endif

#define MAX_ERRORS	16

struct errors {
	int	n;
	char	where[MAX_ERRORS][256];
	char	msg[MAX_ERRORS][512];
};

static void
collect(void *ctx, const char *where, const char *msg)
{
	struct errors *e = ctx;

	if (e->n < MAX_ERRORS) {
		snprintf(e->where[e->n], sizeof(e->where[0]), "%s", where);
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	}
	e->n++;
}

static struct conf C;
static struct errors E;

/* Parses text over the defaults; returns conf_parse's result. */
static int
parse(const char *text)
{
	conf_defaults(&C);
	memset(&E, 0, sizeof(E));
	return conf_parse(&C, "test.conf", text, strlen(text), collect, &E);
}

static void
test_defaults(void)
{
	conf_defaults(&C);
	is_str(C.listen, "/run/warren/api.sock", "default listen");
	is_int(C.listen_mode, 0660, "default listen_mode");
	is_str(C.authorizer_listen, "", "no Authorizer listener by default");
	is_int(C.workers, 4, "default workers");
	is_int(C.max_requests, 10000, "default max_requests");
	is_int(C.shutdown_grace, 10, "default shutdown_grace");
	is_int(C.max_body_size, 1024 * 1024, "default max_body_size");
	is_str(C.db_conninfo, "dbname=warren", "default db_conninfo");
	is_int(C.db_connect_timeout, 1000, "default db_connect_timeout");
	is_int(C.db_query_timeout, 5000, "default db_query_timeout");
	is_int(C.log_level, LOG_LEVEL_INFO, "default log_level");
	ok(C.access_log, "default access_log");
	is_int(parse(""), 0, "an empty file is valid");
	is_int(E.n, 0, "and reports nothing");
	is_int(C.workers, 4, "and keeps the defaults");
}

static void
test_table(void)
{
	char err[256];
	struct conf c;
	size_t i;

	ok(conf_nkeys >= 11, "the table has at least the foundation's keys");
	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
		bool lower = k->name != NULL && k->name[0] != '\0';
		const char *p;

		for (p = k->name; lower && *p; p++)
			if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p)
			    && *p != '_')
				lower = false;
		ok(lower, "key %zu has a lower-case name: %s", i, k->name);
		ok(k->help != NULL && k->help[0] != '\0', "%s has help text",
		    k->name);
		ok(k->def != NULL && conf_set(&c, k, k->def, err,
		    sizeof(err)) == 0, "%s: default %s is valid", k->name,
		    k->def);
		ok(k->type != CONF_ENUM || (k->choices != NULL &&
		    k->choices[0] != NULL), "%s: an enum has choices", k->name);
		ok((k->type != CONF_INT && k->type != CONF_SIZE &&
		    k->type != CONF_OCTAL) || k->min <= k->max,
		    "%s: min <= max", k->name);
		ok(conf_lookup(k->name, strlen(k->name)) == k,
		    "conf_lookup finds %s", k->name);
	}
	ok(conf_lookup("work", 4) == NULL, "conf_lookup wants the whole name");
	ok(conf_lookup("workersx", 8) == NULL, "and not a longer one");
	ok(conf_lookup("workersx", 7) != NULL &&
	    conf_lookup("workersx", 7) == conf_lookup("workers", 7),
	    "conf_lookup honours the length");
}

/* One value for one key: 0 when accepted. */
static int
set(const char *key, const char *value)
{
	char text[CONF_STR_MAX + 64];

	snprintf(text, sizeof(text), "%s = %s\n", key, value);
	return parse(text);
}

static void
test_strings(void)
{
	static const struct {
		const char	*value, *why;
	} not_loopback[] = {
		{ "192.0.2.1:9000", "another host's address is refused" },
		{ "[::]:9000", "every IPv6 address is refused" },
		{ "[::ffff:127.0.0.1]:9000", "a mapped address is refused" },
		{ "localhost:9000", "a name is refused" },
		{ ":9000", "no address is refused" },
		{ "127.0.0.1", "no port is refused" },
		{ "127.0.0.1:0", "port 0 is refused" },
		{ "127.0.0.1:65536", "a port above 65535 is refused" },
		{ "127.0.0.1:+90", "a signed port is refused" },
		{ "/run/warren/authz.sock", "a unix socket is refused" },
	};
	char big[CONF_STR_MAX + 8];
	size_t i;

	is_int(set("listen", "/tmp/w.sock"), 0, "unix socket path");
	is_str(C.listen, "/tmp/w.sock", "path stored");
	is_int(set("listen", "127.0.0.1:9000"), 0, "HOST:PORT");
	is_str(C.listen, "127.0.0.1:9000", "address stored");
	is_int(set("listen", "[::1]:9000"), 0, "IPv6 HOST:PORT");
	is_int(set("listen", "inherit"), 0, "inherit");
	is_str(C.listen, "inherit", "inherit stored");
	is_int(set("listen", "relative.sock"), -1,
	    "a relative path is refused");
	like(E.msg[0], "listen", "the message names the key");
	is_int(set("listen", ""), -1, "an empty listen is refused");
	is_int(set("authorizer_listen", "127.0.0.1:9000"), 0,
	    "a loopback Authorizer listener");
	is_str(C.authorizer_listen, "127.0.0.1:9000", "its address stored");
	is_int(set("authorizer_listen", "127.8.9.10:65535"), 0,
	    "anywhere in 127.0.0.0/8");
	is_int(set("authorizer_listen", "[::1]:9000"), 0, "IPv6 loopback");
	is_int(set("authorizer_listen", "\"\""), 0, "empty: none");
	is_int(set("authorizer_listen", "0.0.0.0:9000"), -1,
	    "every address is refused");
	like(E.msg[0], "authorizer_listen: expected a loopback",
	    "the message names the key and says why");
	for (i = 0; i < sizeof(not_loopback) / sizeof(not_loopback[0]); i++)
		is_int(set("authorizer_listen", not_loopback[i].value), -1,
		    "%s", not_loopback[i].why);
	is_int(set("db_conninfo", "host=/tmp dbname=w"), 0,
	    "unquoted value with spaces");
	is_str(C.db_conninfo, "host=/tmp dbname=w", "inner spaces kept");
	is_int(set("db_conninfo", "\"  spaced  \""), 0, "quoted value");
	is_str(C.db_conninfo, "  spaced  ", "quotes keep outer spaces");
	is_int(set("db_conninfo", "\"\""), 0, "empty quoted string");
	is_str(C.db_conninfo, "", "empty string stored");
	is_int(set("db_conninfo", "\"a=\"b\"\""), 0,
	    "inner quotes are data");
	is_str(C.db_conninfo, "a=\"b\"", "only the outer quotes go");
	is_int(set("db_conninfo", "\"unterminated"), -1,
	    "an unterminated quote is refused");
	like(E.msg[0], "quote", "message says quote");
	is_int(set("db_conninfo", "\""), -1, "a lone quote is refused");
	is_int(set("db_conninfo", "a\x01" "b"), -1,
	    "a control character is refused");
	is_int(set("db_conninfo", "\"a\x1b[31m\""), -1,
	    "an escape sequence is refused even in quotes");

	memset(big, 'x', CONF_STR_MAX - 1);
	big[CONF_STR_MAX - 1] = '\0';
	is_int(set("db_conninfo", big), 0,
	    "a string of CONF_STR_MAX - 1 bytes fits");
	is_int((long)strlen(C.db_conninfo), CONF_STR_MAX - 1, "stored whole");
	big[CONF_STR_MAX - 1] = 'x';
	big[CONF_STR_MAX] = '\0';
	is_int(set("db_conninfo", big), -1,
	    "a string of CONF_STR_MAX bytes is refused, not truncated");
	like(E.msg[0], "too long", "message says too long");
}

static void
test_ints(void)
{
	static const char *const bad[] = {
		"0", "129", "-1", "abc", "4x", "+4", "1e3", "0x10", "4.0",
		"", "\"\"", "99999999999999999999", "4 5",
	};
	size_t i;

	is_int(set("workers", "1"), 0, "workers = 1 (minimum)");
	is_int(C.workers, 1, "stored");
	is_int(set("workers", "128"), 0, "workers = 128 (maximum)");
	is_int(C.workers, 128, "stored");
	is_int(set("workers", "\"8\""), 0, "a quoted number");
	is_int(C.workers, 8, "stored");
	is_int(set("workers", "010"), 0, "leading zero is decimal");
	is_int(C.workers, 10, "010 is ten, not eight");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(set("workers", bad[i]), -1, "workers = %s is refused",
		    bad[i]);
		is_int(C.workers, 4, "and leaves the default");
	}
	like(E.msg[0], "1..128", "the message gives the range");

	is_int(set("max_requests", "0"), 0, "max_requests = 0 (never)");
	is_int(set("max_requests", "10000000"), 0, "max_requests maximum");
	is_int(set("max_requests", "10000001"), -1, "above the maximum");
	is_int(set("shutdown_grace", "0"), -1, "shutdown_grace = 0");
	is_int(set("shutdown_grace", "300"), 0, "shutdown_grace = 300");
	is_int(set("shutdown_grace", "301"), -1, "shutdown_grace = 301");
	is_int(set("db_connect_timeout", "99"), -1, "connect timeout 99");
	is_int(set("db_connect_timeout", "100"), 0, "connect timeout 100");
	is_int(set("db_connect_timeout", "60000"), 0, "connect timeout 60000");
	is_int(set("db_connect_timeout", "60001"), -1,
	    "connect timeout 60001");
	is_int(set("db_query_timeout", "600000"), 0, "query timeout 600000");
	is_int(set("db_query_timeout", "600001"), -1,
	    "query timeout 600001");
}

static void
test_octal(void)
{
	is_int(set("listen_mode", "0600"), 0, "listen_mode = 0600");
	is_int(C.listen_mode, 0600, "read as octal");
	is_int(set("listen_mode", "777"), 0, "without the leading zero");
	is_int(C.listen_mode, 0777, "still octal");
	is_int(set("listen_mode", "0"), 0, "0 is a mode");
	is_int(set("listen_mode", "0778"), -1, "8 is not an octal digit");
	is_int(set("listen_mode", "01000"), -1, "above 0777");
	is_int(set("listen_mode", "-1"), -1, "negative");
	is_int(set("listen_mode", "rw-rw----"), -1, "symbolic");
	like(E.msg[0], "octal", "the message says octal");
}

static void
test_sizes(void)
{
	static const struct {
		const char	*in;
		long		 want;	/* -1: refused */
	} cases[] = {
		{ "1k", 1024 }, { "1K", 1024 }, { "64m", 64L << 20 },
		{ "2M", 2L << 20 }, { "1024", 1024 }, { "1048576", 1 << 20 },
		{ "\"16k\"", 16384 },
		{ "1023", -1 }, { "0k", -1 }, { "65m", -1 }, { "1g", -1 },
		{ "k", -1 }, { "", -1 }, { "1.5m", -1 }, { "-1k", -1 },
		{ "1kb", -1 }, { "1 k", -1 }, { "+1k", -1 }, { "1t", -1 },
		{ "99999999999999999999k", -1 }, { "1099511627777", -1 },
	};
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = set("max_body_size", cases[i].in);
		if (cases[i].want == -1)
			is_int(r, -1, "max_body_size = %s is refused",
			    cases[i].in);
		else {
			is_int(r, 0, "max_body_size = %s", cases[i].in);
			is_int(C.max_body_size, cases[i].want,
			    "max_body_size = %s is %ld bytes", cases[i].in,
			    cases[i].want);
		}
	}
}

static void
test_bools_enums(void)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES",
	    "True" };
	static const char *const no[] = { "no", "false", "off", "0", "No" };
	static const char *const bad[] = { "maybe", "2", "y", "", "yes no" };
	static const char *const levels[] = { "debug", "info", "warning",
	    "error" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		is_int(set("access_log", yes[i]), 0, "access_log = %s", yes[i]);
		ok(C.access_log, "%s is true", yes[i]);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		is_int(set("access_log", no[i]), 0, "access_log = %s", no[i]);
		ok(!C.access_log, "%s is false", no[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(set("access_log", bad[i]), -1,
		    "access_log = %s is refused", bad[i]);
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		is_int(set("log_level", levels[i]), 0, "log_level = %s",
		    levels[i]);
		is_int(C.log_level, (long)i, "%s is level %zu", levels[i], i);
	}
	is_int(C.log_level, LOG_LEVEL_ERROR, "enum order matches log.h");
	is_int(set("log_level", "fatal"), -1, "an unknown level is refused");
	like(E.msg[0], "debug, info, warning or error",
	    "the message lists the choices");
	is_int(set("log_level", "warn"), -1, "a prefix is not a level");
	is_int(set("log_level", "\"error\""), 0, "a quoted enum");
}

static void
test_syntax(void)
{
	is_int(parse("# a comment\n\n   # indented comment\n\t\n"
	    "workers = 3\n"), 0, "comments, blank and white lines");
	is_int(C.workers, 3, "the key after them is read");
	is_int(parse("workers=5"), 0, "no spaces, no final newline");
	is_int(C.workers, 5, "stored");
	is_int(parse("\t workers \t=\t 6 \t\r\n"), 0,
	    "tabs, spaces and CRLF around key and value");
	is_int(C.workers, 6, "stored");
	is_int(parse("workers = 2\r\nlog_level = debug\r\n"), 0,
	    "a CRLF file");
	is_int(C.log_level, LOG_LEVEL_DEBUG, "the second line is read");
	is_int(parse("db_conninfo = a=b\n"), 0,
	    "only the first '=' separates key and value");
	is_str(C.db_conninfo, "a=b", "the value keeps its '='");

	is_int(parse("workers 4\n"), -1, "a line without '=' is refused");
	is_str(E.where[0], "test.conf:1", "at line 1");
	like(E.msg[0], "key = value", "message says what was expected");
	is_int(parse("= 4\n"), -1, "a line without key is refused");
	is_int(parse("colour = blue\n"), -1, "an unknown key is refused");
	like(E.msg[0], "unknown key 'colour'", "and named");
	is_int(parse("Workers = 4\n"), -1, "keys are case-sensitive");
	is_int(parse("workers = 4\nworkers = 5\n"), -1,
	    "a duplicate key is refused");
	is_str(E.where[0], "test.conf:2", "at the second occurrence");
	like(E.msg[0], "duplicate key 'workers'", "and named");
}

static void
test_positions(void)
{
	static const char text[] =
	    "# header\n"			/* 1 */
	    "workers = 4\n"			/* 2 */
	    "\n"				/* 3 */
	    "workers = 0\n"			/* 4: duplicate */
	    "nonsense\n"			/* 5 */
	    "listen_mode = 0999\n"		/* 6 */
	    "# fine\n"				/* 7 */
	    "access_log = perhaps";		/* 8, no newline */
	char where[64], line[5000];
	int r;

	r = parse(text);
	is_int(r, -1, "a file with errors fails");
	is_int(E.n, 4, "every bad line is reported, not only the first");
	is_str(E.where[0], "test.conf:4", "first error at line 4");
	is_str(E.where[1], "test.conf:5", "second error at line 5");
	is_str(E.where[2], "test.conf:6", "third error at line 6");
	is_str(E.where[3], "test.conf:8", "last line without newline");
	is_int(C.listen_mode, 0660, "a bad value leaves the default");

	memset(&E, 0, sizeof(E));
	conf_defaults(&C);
	r = conf_parse(&C, "/etc/w.conf", "a\nworkers = \0 4\n", 16, collect,
	    &E);
	is_int(r, -1, "a NUL byte is refused");
	snprintf(where, sizeof(where), "%s", E.where[E.n ? E.n - 1 : 0]);
	is_str(where, "/etc/w.conf:2", "the NUL is on line 2 of that file");

	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	memcpy(line, "db_conninfo = ", 14);
	is_int(parse(line), -1, "an over-long line is refused");
	like(E.msg[0], "too long", "and says so");

	/* The default reporter prints FILE:LINE: message. */
	{
		char buf[256] = "";
		FILE *f = tmpfile();

		conf_print_error(f, "test.conf:7", "bad value");
		rewind(f);
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
		is_str(buf, "test.conf:7: bad value\n",
		    "conf_print_error writes FILE:LINE: message");
	}
}

static void
test_env(void)
{
	char path[] = "/tmp/warren-conf-test.XXXXXX";
	static const char file[] = "workers = 3\nlog_level = error\n";
	int fd, r;

	conf_defaults(&C);
	memset(&E, 0, sizeof(E));
	setenv("WARREN_WORKERS", "7", 1);
	setenv("WARREN_LOG_LEVEL", "debug", 1);
	setenv("WARREN_ACCESS_LOG", "off", 1);
	setenv("WARREN_LISTEN", "127.0.0.1:9001", 1);
	is_int(conf_apply_env(&C, collect, &E), 0, "environment overrides");
	is_int(C.workers, 7, "WARREN_WORKERS");
	is_int(C.log_level, LOG_LEVEL_DEBUG, "WARREN_LOG_LEVEL");
	ok(!C.access_log, "WARREN_ACCESS_LOG");
	is_str(C.listen, "127.0.0.1:9001", "WARREN_LISTEN");
	unsetenv("WARREN_LOG_LEVEL");
	unsetenv("WARREN_ACCESS_LOG");
	unsetenv("WARREN_LISTEN");

	setenv("warren_workers", "9", 1);
	conf_defaults(&C);
	unsetenv("WARREN_WORKERS");
	is_int(conf_apply_env(&C, collect, &E), 0, "lower-case names");
	is_int(C.workers, 4, "are not looked at");
	unsetenv("warren_workers");

	setenv("WARREN_WORKERS", "0", 1);
	setenv("WARREN_MAX_BODY_SIZE", "lots", 1);
	conf_defaults(&C);
	memset(&E, 0, sizeof(E));
	is_int(conf_apply_env(&C, collect, &E), -1, "bad values in the "
	    "environment fail");
	is_int(E.n, 2, "each is reported");
	is_str(E.where[0], "environment WARREN_WORKERS",
	    "where names the variable");
	is_str(E.where[1], "environment WARREN_MAX_BODY_SIZE",
	    "second variable");
	is_int(C.workers, 4, "a bad value changes nothing");
	setenv("WARREN_WORKERS", "", 1);
	unsetenv("WARREN_MAX_BODY_SIZE");
	memset(&E, 0, sizeof(E));
	is_int(conf_apply_env(&C, collect, &E), -1, "an empty value is bad");

	/* conf_load: defaults, then the file, then the environment. */
	if ((fd = mkstemp(path)) == -1 ||
	    write(fd, file, sizeof(file) - 1) != (ssize_t)sizeof(file) - 1) {
		ok(0, "could not write a temporary file");
		return;
	}
	close(fd);
	setenv("WARREN_WORKERS", "5", 1);
	memset(&E, 0, sizeof(E));
	C.workers = 99;
	r = conf_load(&C, path, collect, &E);
	is_int(r, 0, "conf_load reads a file");
	is_int(C.workers, 5, "the environment wins over the file");
	is_int(C.log_level, LOG_LEVEL_ERROR, "the file wins over defaults");
	is_int(C.max_requests, 10000, "defaults fill the rest");
	setenv("WARREN_WORKERS", "x", 1);
	memset(&E, 0, sizeof(E));
	is_int(conf_load(&C, path, collect, &E), -1,
	    "conf_load fails on a bad environment value");
	unsetenv("WARREN_WORKERS");
	unlink(path);

	memset(&E, 0, sizeof(E));
	is_int(conf_load(&C, path, collect, &E), -1, "a missing file fails");
	is_str(E.where[0], path, "where is the path");
	like(E.msg[0], "could not open", "and says why");
	memset(&E, 0, sizeof(E));
	is_int(conf_load(&C, "/tmp", collect, &E), -1, "a directory fails");
}

/*
 * Values for the keys with a check of their own: reason NULL means the
 * value is accepted, else the refusal says it after "bad value for KEY: ".
 */
static const struct {
	const char	*key, *value, *reason;
} checked[] = {
	{ "listen", "/run/w.sock", NULL },
	{ "listen", "relative.sock", "expected an absolute socket path" },
	{ "listen", "", "expected an absolute socket path" },
	{ "authorizer_listen", "127.0.0.1:9001", NULL },
	{ "authorizer_listen", "0.0.0.0:9000", "expected a loopback address" },
	{ "public_url", "https://warren.example", NULL },
	{ "public_url", "https://warren.example/", "without a trailing slash" },
	{ "public_url", "", "without a trailing slash" },
	{ "public_url", "ftp://warren.example", "an http or https URL" },
	{ "github_auth_url", "http://127.0.0.1:9/authorize", NULL },
	{ "github_auth_url", "", NULL },
	{ "github_auth_url", "github.com/login", "an http or https URL" },
	{ "github_token_url", "https://ghe.example/token", NULL },
	{ "github_token_url", "ftp://ghe.example/", "an http or https URL" },
	{ "github_api_url", "https://ghe.example/api/v3", NULL },
	{ "github_api_url", "file:///etc/passwd", "an http or https URL" },
	{ "traefik_forward_url", "https://api.example/forward", NULL },
	{ "traefik_forward_url", "//api.example", "an http or https URL" },
	{ "base_domain", "ws.example.com", NULL },
	{ "base_domain", "Ws.Example.com", "a lower-case DNS name" },
	{ "base_domain", "-ws.example", "a lower-case DNS name" },
	{ "base_domain", ".example", "a lower-case DNS name" },
	{ "base_domain", "ws_1.example", "a lower-case DNS name" },
	{ "base_domain", "", "a lower-case DNS name" },
	{ "docker_host", "tcp://10.0.0.2:2376", NULL },
	{ "docker_host", "/var/run/docker.sock", "expected unix:///path" },
	{ "docker_host", "unix://run/docker.sock", "expected unix:///path" },
	{ "docker_publish_address", "10.0.0.7", NULL },
	{ "docker_publish_address", "fd00::7", NULL },
	{ "docker_publish_address", "0.0.0.0", "not 0.0.0.0" },
	{ "docker_publish_address", "::", "not ::" },
	{ "docker_publish_address", "localhost", "an IPv4 or IPv6 address" },
	{ "docker_publish_address", "", "an IPv4 or IPv6 address" },
	{ "docker_network", "warren-ws", NULL },
	{ "docker_network", "host", "never share the host's network" },
	{ "docker_network", "container:db", "never share the host's network" },
	{ "docker_network", "", "never share the host's network" },
};
#define NCHECKED	(sizeof(checked) / sizeof(checked[0]))

/*
 * conf_set refuses value for k, says why naming the key, and leaves the
 * configuration as it was.
 */
static void
refused(const struct conf_key *k, const char *value, const char *want)
{
	char err[512] = "", text[CONF_STR_MAX + 64];
	struct conf c, before;

	conf_defaults(&c);
	before = c;
	snprintf(text, sizeof(text), "%.60s", value);
	is_int(conf_set(&c, k, value, err, sizeof(err)), -1,
	    "%s = %s is refused", k->name, text);
	like(err, want, "%s: the refusal says \"%s\"", k->name, want);
	ok(memcmp(&c, &before, sizeof(c)) == 0,
	    "%s: a refused value changes nothing", k->name);
}

/* Refusals that follow from a key's type and bounds. */
static void
refused_by_type(const struct conf_key *k)
{
	char want[128], v[64], big[CONF_STR_MAX + 1];

	snprintf(want, sizeof(want), "bad value for %s: expected", k->name);
	switch (k->type) {
	case CONF_STRING:
		snprintf(want, sizeof(want), "control character in %s",
		    k->name);
		refused(k, "a\tb", want);
		memset(big, 'a', CONF_STR_MAX);
		big[CONF_STR_MAX] = '\0';
		snprintf(want, sizeof(want), "value of %s is too long",
		    k->name);
		refused(k, big, want);
		break;
	case CONF_BOOL:
		refused(k, "maybe", want);
		break;
	case CONF_ENUM:
		refused(k, "none-of-these", want);
		refused(k, "", want);
		break;
	case CONF_INT:
	case CONF_OCTAL:
	case CONF_SIZE:
		refused(k, "x", want);
		refused(k, "", want);
		snprintf(v, sizeof(v), k->type == CONF_OCTAL ? "%lo" : "%ld",
		    k->max + 1);
		refused(k, v, want);
		if (k->min > 0) {
			snprintf(v, sizeof(v), k->type == CONF_OCTAL ? "%lo" :
			    "%ld", k->min - 1);
			refused(k, v, want);
		}
		refused(k, "-1", want);
		break;
	}
}

static void
test_checks(void)
{
	char want[256], err[512];
	struct conf c;
	size_t i, j;
	int good, bad;

	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];

		refused_by_type(k);
		good = bad = 0;
		for (j = 0; j < NCHECKED; j++) {
			if (strcmp(checked[j].key, k->name) != 0)
				continue;
			if (checked[j].reason != NULL)
				bad++;
			else
				good++;
		}
		ok(k->check == NULL || (good > 0 && bad > 0),
		    "%s: its check is tested both ways", k->name);
	}
	for (j = 0; j < NCHECKED; j++) {
		const struct conf_key *k = conf_lookup(checked[j].key,
		    strlen(checked[j].key));

		if (k == NULL) {
			ok(0, "%s is a key", checked[j].key);
			continue;
		}
		ok(k->check != NULL, "%s has a check", k->name);
		if (checked[j].reason != NULL) {
			snprintf(want, sizeof(want), "bad value for %s: ",
			    k->name);
			refused(k, checked[j].value, want);
			refused(k, checked[j].value, checked[j].reason);
			continue;
		}
		conf_defaults(&c);
		is_int(conf_set(&c, k, checked[j].value, err, sizeof(err)), 0,
		    "%s = %s is accepted", k->name, checked[j].value);
		is_str((char *)&c + k->offset, checked[j].value, "and stored");
	}
}

/* A valid value of k other than its default, set in c. */
static int
change(struct conf *c, const struct conf_key *k)
{
	const char *p = (const char *)c + k->offset;
	char v[64], err[512];
	long n;
	size_t j;

	switch (k->type) {
	case CONF_STRING:
		for (j = 0; j < NCHECKED; j++)
			if (strcmp(checked[j].key, k->name) == 0 &&
			    checked[j].reason == NULL &&
			    strcmp(checked[j].value, k->def) != 0)
				return conf_set(c, k, checked[j].value, err,
				    sizeof(err));
		return conf_set(c, k, "changed", err, sizeof(err));
	case CONF_BOOL:
		return conf_set(c, k, *(const bool *)(const void *)p ? "no" :
		    "yes", err, sizeof(err));
	case CONF_ENUM:
		n = *(const long *)(const void *)p;
		return conf_set(c, k, k->choices[n == 0 ? 1 : 0], err,
		    sizeof(err));
	case CONF_INT:
	case CONF_OCTAL:
	case CONF_SIZE:
		n = *(const long *)(const void *)p;
		snprintf(v, sizeof(v), k->type == CONF_OCTAL ? "%lo" : "%ld",
		    n == k->min ? k->max : k->min);
		return conf_set(c, k, v, err, sizeof(err));
	}
	return -1;
}

static void
test_reload(void)
{
	static const char *const noreload[] = {
		"listen", "listen_mode", "authorizer_listen",
	};
	static const char *const reloadable[] = {
		"workers", "max_body_size", "log_level", "public_url",
		"workspace_admin_access", "jwt_key_file",
	};
	const struct conf_key *k, *seen[3];
	struct conf running, next;
	char err[512];
	size_t i, n = 0;

	for (i = 0; i < conf_nkeys; i++) {
		k = &conf_keys[i];
		conf_defaults(&running);
		next = running;
		is_int(change(&next, k), 0, "%s can take another value",
		    k->name);
		ok(memcmp(&running, &next, sizeof(next)) != 0,
		    "%s: and the value differs", k->name);
		if (k->flags & CONF_NORELOAD) {
			n++;
			ok(conf_reload_refused(&running, &next) == k,
			    "%s: a reload refuses a change", k->name);
			conf_copy_key(&next, &running, k);
			ok(memcmp(&running, &next, sizeof(next)) == 0,
			    "%s: conf_copy_key puts the running value back",
			    k->name);
		}
		ok(conf_reload_refused(&running, &next) == NULL,
		    "%s: %s", k->name, k->flags & CONF_NORELOAD ?
		    "nothing left to refuse" : "a reload takes a change");
	}
	is_int(n, sizeof(noreload) / sizeof(noreload[0]),
	    "as many keys need a restart as are named here");
	for (i = 0; i < sizeof(noreload) / sizeof(noreload[0]); i++) {
		k = conf_lookup(noreload[i], strlen(noreload[i]));
		ok(k != NULL && (k->flags & CONF_NORELOAD),
		    "%s needs a restart", noreload[i]);
	}
	for (i = 0; i < sizeof(reloadable) / sizeof(reloadable[0]); i++) {
		k = conf_lookup(reloadable[i], strlen(reloadable[i]));
		ok(k != NULL && !(k->flags & CONF_NORELOAD),
		    "%s is reloaded", reloadable[i]);
	}

	/* Several changes at once, as warren-api's reload loops over them. */
	conf_defaults(&running);
	next = running;
	if (conf_set(&next, conf_lookup("workers", 7), "9", err,
	    sizeof(err)) == -1 || conf_set(&next, conf_lookup("listen", 6),
	    "127.0.0.1:9000", err, sizeof(err)) == -1 ||
	    conf_set(&next, conf_lookup("authorizer_listen", 17),
	    "[::1]:9000", err, sizeof(err)) == -1)
		ok(0, "could not change three keys: %s", err);
	for (n = 0; n < 3 && (k = conf_reload_refused(&running, &next)) !=
	    NULL; n++) {
		seen[n] = k;
		conf_copy_key(&next, &running, k);
	}
	is_int(n, 2, "two changes refused");
	ok(n == 2 && strcmp(seen[0]->name, "listen") == 0 &&
	    strcmp(seen[1]->name, "authorizer_listen") == 0,
	    "listen, then authorizer_listen");
	is_str(next.listen, running.listen, "the running listen is kept");
	is_str(next.authorizer_listen, "", "and the running authorizer_listen");
	is_int(next.workers, 9, "the reloadable change stays");

	/* Only the string counts, not what a longer one left behind it. */
	conf_defaults(&running);
	next = running;
	if (conf_set(&running, conf_lookup("listen", 6), "/run/warren/a-long-"
	    "name.sock", err, sizeof(err)) == -1 || conf_set(&running,
	    conf_lookup("listen", 6), "/run/w.sock", err, sizeof(err)) == -1 ||
	    conf_set(&next, conf_lookup("listen", 6), "/run/w.sock", err,
	    sizeof(err)) == -1)
		ok(0, "could not set listen: %s", err);
	ok(conf_reload_refused(&running, &next) == NULL,
	    "the same listen is no change");
}

/* Reads the sample; NULL when it cannot. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 1 << 20);
	*len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	return buf;
}

/*
 * Documented: a "key =" line (commented out or not) in a paragraph that
 * has a comment before it.
 */
static bool
documented(const char *text, const char *key)
{
	const char *line = text, *next, *p;
	size_t klen = strlen(key);
	bool commented = false;

	for (; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\0') {
			commented = false;	/* a blank line ends a paragraph */
			continue;
		}
		if (*p == '#') {
			p++;
			while (*p == ' ')
				p++;
		}
		if (strncmp(p, key, klen) == 0) {
			p += klen;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '=' && commented)
				return true;
		}
		if (*line == '#')
			commented = true;
	}
	return false;
}

static void
test_sample(void)
{
	const char *path = SRCDIR "/etc/warren.conf.sample";
	struct conf def;
	size_t len = 0, i;
	char *text;

	if ((text = slurp(path, &len)) == NULL) {
		ok(0, "could not read %s", path);
		return;
	}
	conf_defaults(&C);
	memset(&E, 0, sizeof(E));
	is_int(conf_parse(&C, path, text, len, collect, &E), 0,
	    "the sample parses");
	if (E.n > 0)
		diag("%s: %s", E.where[0], E.msg[0]);
	conf_defaults(&def);
	for (i = 0; i < conf_nkeys; i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *a = (const char *)&C + k->offset;
		const char *b = (const char *)&def + k->offset;

		ok(documented(text, k->name), "%s is documented in the sample",
		    k->name);
		if (k->type == CONF_STRING)
			ok(strcmp(a, b) == 0, "the sample shows the default "
			    "of %s", k->name);
		else if (k->type == CONF_BOOL)
			ok(*(const bool *)(const void *)a ==
			    *(const bool *)(const void *)b,
			    "the sample shows the default of %s", k->name);
		else
			ok(*(const long *)(const void *)a ==
			    *(const long *)(const void *)b,
			    "the sample shows the default of %s", k->name);
	}
	ok(!documented(text, "no_such_key"), "the check can fail");
	free(text);
}

/* The tests decide which WARREN_* variables exist. */
static void
clear_env(void)
{
	char var[128];
	size_t i, j;

	for (i = 0; i < conf_nkeys; i++) {
		snprintf(var, sizeof(var), "WARREN_%s", conf_keys[i].name);
		for (j = 0; var[j] != '\0'; j++)
			var[j] = (char)toupper((unsigned char)var[j]);
		unsetenv(var);
	}
}

int
main(void)
{
	clear_env();
	test_defaults();
	test_table();
	test_strings();
	test_ints();
	test_octal();
	test_sizes();
	test_bools_enums();
	test_syntax();
	test_positions();
	test_env();
	test_checks();
	test_reload();
	test_sample();
	return done_testing();
}
