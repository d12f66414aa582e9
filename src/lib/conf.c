/*
 * Every key Warren reads is one row of conf_keys[]; parsing, validation,
 * defaults, environment overrides and the sample file all follow it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

#define CONF_FILE_MAX	(1024 * 1024)
#define CONF_LINE_MAX	4096

static const char *const log_levels[] = {
	"debug", "info", "warning", "error", NULL
};

static const char *const signup_policies[] = {
	"open", "domains", "invite", NULL
};

#define OFF(f)	offsetof(struct conf, f)
#define URLKEY(name, def, help) \
	{ #name, CONF_STRING, OFF(name), 0, 0, def, NULL, help }

const struct conf_key conf_keys[] = {
	{ "listen", CONF_STRING, OFF(listen), 0, 0, "/run/warren/api.sock",
	    NULL, "unix socket path, HOST:PORT, or inherit (FastCGI socket on fd 0)" },
	{ "listen_mode", CONF_OCTAL, OFF(listen_mode), 0, 0777, "0660",
	    NULL, "mode of the unix socket" },
	{ "authorizer_listen", CONF_STRING, OFF(authorizer_listen), 0, 0, "",
	    NULL, "loopback HOST:PORT for FastCGI Authorizer requests only" },
	{ "workers", CONF_INT, OFF(workers), 1, 128, "4",
	    NULL, "worker processes" },
	{ "max_requests", CONF_INT, OFF(max_requests), 0, 10000000, "10000",
	    NULL, "requests a worker serves before it is replaced (0: never)" },
	{ "shutdown_grace", CONF_INT, OFF(shutdown_grace), 1, 300, "10",
	    NULL, "seconds in-flight requests get on SIGTERM" },
	{ "max_body_size", CONF_SIZE, OFF(max_body_size), 1024, 64 << 20, "1m",
	    NULL, "largest request body accepted" },
	{ "worker_memory_limit", CONF_SIZE, OFF(worker_memory_limit), 0,
	    64L << 30, "1g", NULL, "address space each worker may use "
	    "(0: no limit)" },
	{ "db_conninfo", CONF_STRING, OFF(db_conninfo), 0, 0, "dbname=warren",
	    NULL, "libpq connection string" },
	{ "db_connect_timeout", CONF_INT, OFF(db_connect_timeout), 100, 60000,
	    "1000", NULL, "milliseconds to connect to PostgreSQL" },
	{ "db_query_timeout", CONF_INT, OFF(db_query_timeout), 100, 600000,
	    "5000", NULL, "milliseconds a query may take" },
	{ "log_level", CONF_ENUM, OFF(log_level), 0, 0, "info", log_levels,
	    "debug, info, warning or error" },
	{ "access_log", CONF_BOOL, OFF(access_log), 0, 0, "yes",
	    NULL, "one log line per request" },
	URLKEY(public_url, "http://127.0.0.1:8080",
	    "the URL users open: token issuer, cookie policy, CSRF origin"),
	{ "jwt_key_file", CONF_STRING, OFF(jwt_key_file), 0, 0,
	    "/etc/warren/jwt.keys", NULL, "signing keys for access tokens" },
	{ "access_token_ttl", CONF_INT, OFF(access_token_ttl), 60, 900, "600",
	    NULL, "seconds an access token is valid" },
	{ "session_lifetime", CONF_INT, OFF(session_lifetime), 300, 31536000,
	    "1209600", NULL, "seconds a session lasts at most, refreshed or not" },
	{ "trusted_proxies", CONF_STRING, OFF(trusted_proxies), 0, 0, "",
	    NULL, "addresses whose X-Forwarded-For is believed" },
	{ "login_failures_per_address", CONF_INT,
	    OFF(login_failures_per_address), 1, 100000, "20", NULL,
	    "failed sign-ins from one address per window" },
	{ "login_failures_per_account", CONF_INT,
	    OFF(login_failures_per_account), 1, 100000, "5", NULL,
	    "failed sign-ins to one account from one address per window" },
	{ "login_window", CONF_INT, OFF(login_window), 1, 86400, "900", NULL,
	    "seconds over which failed sign-ins are counted" },
	{ "token_rate_limit", CONF_INT, OFF(token_rate_limit), 1, 10000000,
	    "600", NULL, "requests per minute one API token may make" },
	{ "max_concurrent_hashes", CONF_INT, OFF(max_concurrent_hashes), 1, 64,
	    "2", NULL, "password hashes computed at once on this host" },
	{ "signup_policy", CONF_ENUM, OFF(signup_policy), 0, 0, "invite",
	    signup_policies, "open, domains or invite" },
	{ "signup_domains", CONF_STRING, OFF(signup_domains), 0, 0, "", NULL,
	    "e-mail domains allowed to sign up when signup_policy = domains" },
	{ "oauth_timeout", CONF_INT, OFF(oauth_timeout), 100, 60000, "5000",
	    NULL, "milliseconds allowed for a call to a sign-in provider" },
	URLKEY(github_client_id, "", "GitHub OAuth app client id"),
	URLKEY(github_client_secret, "", "GitHub OAuth app client secret"),
	URLKEY(github_auth_url, "https://github.com/login/oauth/authorize",
	    "GitHub authorization endpoint"),
	URLKEY(github_token_url, "https://github.com/login/oauth/access_token",
	    "GitHub token endpoint"),
	URLKEY(github_api_url, "https://api.github.com", "GitHub API base"),
	{ "oidc_provider_dir", CONF_STRING, OFF(oidc_provider_dir), 0, 0,
	    "/etc/warren/oidc", NULL, "directory of OpenID Connect "
	    "providers, one NAME.conf each" },
	{ "image_recipes_dir", CONF_STRING, OFF(image_recipes_dir), 0, 0,
	    "/usr/share/warren/images", NULL, "recipes of Warren's standard "
	    "workspace images (warrenctl images)" },
	{ "base_domain", CONF_STRING, OFF(base_domain), 0, 0,
	    "warren.localhost", NULL, "workspaces answer at <id>.<base_domain>" },
	{ "max_cpu_millis", CONF_INT, OFF(max_cpu_millis), 100, 1024000, "8000",
	    NULL, "most CPU a template may give a workspace (1000 = 1 core)" },
	{ "max_memory_mb", CONF_INT, OFF(max_memory_mb), 16, 4194304, "16384",
	    NULL, "most memory a template may give a workspace, MiB" },
	{ "max_pids", CONF_INT, OFF(max_pids), 16, 4194304, "4096", NULL,
	    "most processes a template may allow a workspace" },
	{ "dormancy_after_days", CONF_INT, OFF(dormancy_after_days), 0, 3650,
	    "0", NULL, "days stopped before a workspace is dormant (0: never)" },
	{ "dormancy_delete_after_days", CONF_INT,
	    OFF(dormancy_delete_after_days), 0, 3650, "0", NULL,
	    "days dormant before a workspace is deleted (0: never)" },
	{ "default_max_workspaces", CONF_INT, OFF(default_max_workspaces), 0,
	    1000000, "0", NULL, "workspaces per user without a quota (0: no limit)" },
	{ "default_max_running", CONF_INT, OFF(default_max_running), 0, 1000000,
	    "0", NULL, "running workspaces per user without a quota (0: no limit)" },
	{ "secret_key_file", CONF_STRING, OFF(secret_key_file), 0, 0,
	    "/etc/warren/secret.key", NULL, "key that encrypts secrets at rest" },
	{ "docker_host", CONF_STRING, OFF(docker_host), 0, 0,
	    "unix:///var/run/docker.sock", NULL,
	    "Docker Engine API: unix:///path or tcp://host:port" },
	{ "image_registries", CONF_STRING, OFF(image_registries), 0, 0, "",
	    NULL, "registries workspace images may come from; empty: any "
	    "public name" },
	{ "docker_publish_address", CONF_STRING, OFF(docker_publish_address),
	    0, 0, "127.0.0.1", NULL, "host address workspace ports publish on" },
	{ "docker_network", CONF_STRING, OFF(docker_network), 0, 0, "warren",
	    NULL, "Docker network of workspace containers" },
	{ "docker_timeout", CONF_INT, OFF(docker_timeout), 1000, 600000,
	    "30000", NULL, "milliseconds a Docker API call may take" },
	{ "reconciler_host_name", CONF_STRING, OFF(reconciler_host_name), 0, 0,
	    "local", NULL, "name of this Docker host in the docker_hosts table" },
	{ "reconciler_resync", CONF_INT, OFF(reconciler_resync), 1, 3600, "30",
	    NULL, "seconds between full passes" },
	{ "reconciler_threads", CONF_INT, OFF(reconciler_threads), 1, 256, "16",
	    NULL, "workspaces converged at once" },
	{ "reconciler_metrics_file", CONF_STRING, OFF(reconciler_metrics_file),
	    0, 0, "", NULL, "Prometheus text file written after each pass" },
	{ "reconciler_removal_fuse", CONF_INT, OFF(reconciler_removal_fuse), 1,
	    100, "50", NULL, "percent of this installation's containers a pass "
	    "may remove as orphans" },
	{ "reconciler_removal_fuse_min", CONF_INT,
	    OFF(reconciler_removal_fuse_min), 1, 1000000, "5", NULL,
	    "orphan containers a pass may always remove, below the fuse" },
	{ "workspace_admin_access", CONF_BOOL, OFF(workspace_admin_access), 0,
	    0, "no", NULL, "admins may open any workspace" },
	{ "workspace_cookie_ttl", CONF_INT, OFF(workspace_cookie_ttl), 60,
	    86400, "3600", NULL, "seconds a workspace host's cookie lasts" },
	{ "traefik_file", CONF_STRING, OFF(traefik_file), 0, 0, "", NULL,
	    "Traefik dynamic configuration file the reconciler writes" },
	{ "traefik_version", CONF_INT, OFF(traefik_version), 2, 3, "3", NULL,
	    "Traefik configuration syntax: 2 or 3" },
	URLKEY(traefik_forward_url, "http://127.0.0.1:8080/api/v1/auth/forward",
	    "the forward endpoint Traefik asks"),
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);

const struct conf_key *
conf_lookup(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++)
		if (strlen(conf_keys[i].name) == len &&
		    memcmp(conf_keys[i].name, name, len) == 0)
			return &conf_keys[i];
	return NULL;
}

static int
parse_long(const char *s, int base, long *out)
{
	char *end;
	long v;

	if (*s == '\0' || isspace((unsigned char)*s) || *s == '+')
		return -1;
	errno = 0;
	v = strtol(s, &end, base);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
parse_size(const char *s, long *out)
{
	char num[32], *end;
	long mult = 1, v;
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (tolower((unsigned char)num[n - 1])) {
	case 'k':
		mult = 1024;
		break;
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'g':
		mult = 1024L * 1024 * 1024;
		break;
	}
	if (mult != 1)
		num[--n] = '\0';
	if (n == 0 || !isdigit((unsigned char)num[0]))
		return -1;
	errno = 0;
	v = strtol(num, &end, 10);
	if (errno != 0 || *end != '\0' || v > (1L << 40) / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };
	int i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(s, yes[i]) == 0)
			return (*out = true), 0;
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(s, no[i]) == 0)
			return (*out = false), 0;
	return -1;
}

/*
 * The Authorizer listener believes what the web server says about the
 * client (address, host, credentials) and is TCP, as mod_authnz_fcgi knows
 * nothing else: it must not be reachable from another host.
 */
static bool
loopback_port(const char *v)
{
	char host[64];
	const char *colon = strrchr(v, ':');
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;
	long port;

	if (colon == NULL || (n = (size_t)(colon - v)) >= sizeof(host) ||
	    parse_long(colon + 1, 10, &port) == -1 || port < 1 ||
	    port > 65535)
		return false;
	memcpy(host, v, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		return inet_pton(AF_INET6, host + 1, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

static int
check_string(const struct conf_key *k, const char *v, char *err, size_t errlen)
{
	size_t i;

	if (strlen(v) >= CONF_STR_MAX) {
		snprintf(err, errlen, "value of %s is too long", k->name);
		return -1;
	}
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			snprintf(err, errlen, "control character in %s",
			    k->name);
			return -1;
		}
	if (strstr(k->name, "_url") != NULL && v[0] != '\0' &&
	    strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0) {
		snprintf(err, errlen, "bad value for %s: expected an http or "
		    "https URL", k->name);
		return -1;
	}
	if (strcmp(k->name, "public_url") == 0 && (v[0] == '\0' ||
	    v[strlen(v) - 1] == '/')) {
		snprintf(err, errlen, "bad value for public_url: expected a "
		    "URL without a trailing slash");
		return -1;
	}
	if (strcmp(k->name, "base_domain") == 0 && (v[0] == '\0' ||
	    strlen(v) > 200 || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789"
	    ".-") != strlen(v) || v[0] == '.' || v[0] == '-')) {
		snprintf(err, errlen, "bad value for base_domain: expected a "
		    "lower-case DNS name");
		return -1;
	}
	if (strcmp(k->name, "docker_host") == 0 && strncmp(v, "unix:///", 8)
	    != 0 && strncmp(v, "tcp://", 6) != 0) {
		snprintf(err, errlen, "bad value for docker_host: expected "
		    "unix:///path or tcp://host:port");
		return -1;
	}
	if (strcmp(k->name, "docker_network") == 0 && (strcmp(v, "host") == 0 ||
	    strncmp(v, "container:", 10) == 0 || v[0] == '\0')) {
		snprintf(err, errlen, "bad value for docker_network: workspaces "
		    "never share the host's network");
		return -1;
	}
	if (strcmp(k->name, "listen") == 0 && v[0] != '/' &&
	    strcmp(v, "inherit") != 0 && strrchr(v, ':') == NULL) {
		snprintf(err, errlen, "bad value for listen: expected an "
		    "absolute socket path, HOST:PORT or inherit");
		return -1;
	}
	if (strcmp(k->name, "authorizer_listen") == 0 && v[0] != '\0' &&
	    !loopback_port(v)) {
		snprintf(err, errlen, "bad value for authorizer_listen: expected "
		    "a loopback address and port, such as 127.0.0.1:9000 or "
		    "[::1]:9000");
		return -1;
	}
	return 0;
}

int
conf_set(struct conf *c, const struct conf_key *k, const char *v, char *err,
    size_t errlen)
{
	char *p = (char *)c + k->offset;
	long n = 0;
	bool b;
	int i;

	switch (k->type) {
	case CONF_STRING:
		if (check_string(k, v, err, errlen) == -1)
			return -1;
		snprintf(p, CONF_STR_MAX, "%s", v);
		return 0;
	case CONF_BOOL:
		if (parse_bool(v, &b) == -1) {
			snprintf(err, errlen, "bad value for %s: expected yes "
			    "or no", k->name);
			return -1;
		}
		*(bool *)(void *)p = b;
		return 0;
	case CONF_ENUM:
		for (i = 0; k->choices[i] != NULL; i++)
			if (strcmp(v, k->choices[i]) == 0) {
				*(long *)(void *)p = i;
				return 0;
			}
		snprintf(err, errlen, "bad value for %s: expected one of "
		    "%s", k->name, k->help);
		return -1;
	case CONF_INT:
	case CONF_OCTAL:
	case CONF_SIZE:
		if ((k->type == CONF_SIZE ? parse_size(v, &n) :
		    parse_long(v, k->type == CONF_OCTAL ? 8 : 10, &n)) == -1 ||
		    n < k->min || n > k->max) {
			if (k->type == CONF_OCTAL)
				snprintf(err, errlen, "bad value for %s: "
				    "expected an octal mode 0..%lo", k->name,
				    k->max);
			else
				snprintf(err, errlen, "bad value for %s: "
				    "expected %s %ld..%ld", k->name,
				    k->type == CONF_SIZE ? "a size (k, m suffix)"
				    : "an integer", k->min, k->max);
			return -1;
		}
		*(long *)(void *)p = n;
		return 0;
	}
	return -1;
}

void
conf_defaults(struct conf *c)
{
	char err[256];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < conf_nkeys; i++)
		if (conf_set(c, &conf_keys[i], conf_keys[i].def, err,
		    sizeof(err)) == -1)
			abort();	/* a bad default is a programming error */
}

struct parse_ctx {
	struct conf	*c;
	bool		*seen;
};

static const char *
trim(char *s, char **endp)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	*endp = e;
	return s;
}

int
conf_split(char *line, char **key, char **val, char *err, size_t errlen)
{
	char *eq, *end, *k, *v;

	k = (char *)trim(line, &end);
	if (*k == '\0' || *k == '#')
		return 0;
	if ((eq = strchr(k, '=')) == NULL) {
		snprintf(err, errlen, "expected key = value");
		return -1;
	}
	*eq = '\0';
	k = (char *)trim(k, &end);
	v = (char *)trim(eq + 1, &end);
	if (*v == '"') {
		if (end - v < 2 || end[-1] != '"') {
			snprintf(err, errlen, "unterminated quote in value "
			    "of %.64s", k);
			return -1;
		}
		end[-1] = '\0';
		v++;
	}
	*key = k;
	*val = v;
	return 1;
}

static int
parse_line(void *arg, char *line, char *err, size_t errlen)
{
	struct parse_ctx *pc = arg;
	const struct conf_key *k;
	char *key, *val;
	int r;

	if ((r = conf_split(line, &key, &val, err, errlen)) <= 0)
		return r;
	if ((k = conf_lookup(key, strlen(key))) == NULL) {
		snprintf(err, errlen, "unknown key '%.64s'", key);
		return -1;
	}
	if (pc->seen[k - conf_keys]) {
		snprintf(err, errlen, "duplicate key '%s'", k->name);
		return -1;
	}
	pc->seen[k - conf_keys] = true;
	return conf_set(pc->c, k, val, err, errlen);
}

int
conf_lines(const char *name, const char *buf, size_t len,
    int (*fn)(void *, char *, char *, size_t), void *arg,
    conf_error_fn errfn, void *ctx)
{
	char line[CONF_LINE_MAX], where[512], err[512];
	size_t i = 0, n, lineno = 0;
	int errors = 0;

	while (i < len) {
		lineno++;
		for (n = 0; i + n < len && buf[i + n] != '\n'; n++)
			;
		snprintf(where, sizeof(where), "%s:%zu", name, lineno);
		if (n >= sizeof(line)) {
			errfn(ctx, where, "line too long");
			errors++;
		} else if (memchr(buf + i, '\0', n) != NULL) {
			errfn(ctx, where, "NUL byte in line");
			errors++;
		} else {
			memcpy(line, buf + i, n);
			line[n] = '\0';
			if (fn(arg, line, err, sizeof(err)) == -1) {
				errfn(ctx, where, err);
				errors++;
			}
		}
		i += n + 1;
	}
	return errors ? -1 : 0;
}

int
conf_parse(struct conf *c, const char *name, const char *buf, size_t len,
    conf_error_fn errfn, void *ctx)
{
	bool seen[sizeof(conf_keys) / sizeof(conf_keys[0])] = { false };
	struct parse_ctx pc = { c, seen };

	return conf_lines(name, buf, len, parse_line, &pc, errfn, ctx);
}

int
conf_apply_env(struct conf *c, conf_error_fn errfn, void *ctx)
{
	char var[128], where[160], err[512];
	const char *v;
	size_t i, j;
	int errors = 0;

	for (i = 0; i < conf_nkeys; i++) {
		snprintf(var, sizeof(var), "WARREN_%s", conf_keys[i].name);
		for (j = 7; var[j] != '\0'; j++)
			var[j] = (char)toupper((unsigned char)var[j]);
		if ((v = getenv(var)) == NULL)
			continue;
		if (conf_set(c, &conf_keys[i], v, err, sizeof(err)) == -1) {
			snprintf(where, sizeof(where), "environment %s", var);
			errfn(ctx, where, err);
			errors++;
		}
	}
	return errors ? -1 : 0;
}

char *
conf_read(const char *path, size_t *len, conf_error_fn errfn, void *ctx)
{
	char *buf, msg[512];
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(msg, sizeof(msg), "could not open: %s",
		    strerror(errno));
		errfn(ctx, path, msg);
		if (fd != -1)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONF_FILE_MAX) {
		errfn(ctx, path, "not a regular file of at most 1 MiB");
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size &&
	    (r = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

int
conf_load(struct conf *c, const char *path, conf_error_fn errfn, void *ctx)
{
	size_t len;
	char *buf;
	int rc;

	conf_defaults(c);
	if ((buf = conf_read(path, &len, errfn, ctx)) == NULL)
		return -1;
	rc = conf_parse(c, path, buf, len, errfn, ctx);
	free(buf);
	if (conf_apply_env(c, errfn, ctx) == -1)
		rc = -1;
	return rc;
}

void
conf_print_error(void *ctx, const char *where, const char *msg)
{
	fprintf(ctx ? ctx : stderr, "%s: %s\n", where, msg);
}
