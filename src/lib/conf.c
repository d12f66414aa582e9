/*
 * Every key Warren reads is one row of conf_keys[]; parsing, validation,
 * defaults, environment overrides, reload and the sample file all follow
 * it.  A row's type says how its value is read and stored, its check what
 * else the value must be, its flags whether a reload may change it.
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
refuse(char *why, size_t whylen, const char *expected)
{
	snprintf(why, whylen, "%s", expected);
	return -1;
}

static int
check_url(const char *v, char *why, size_t whylen)
{
	if (v[0] != '\0' && strncmp(v, "https://", 8) != 0 &&
	    strncmp(v, "http://", 7) != 0)
		return refuse(why, whylen, "expected an http or https URL");
	return 0;
}

/* Paths are appended to it, and its scheme and host are the origin. */
static int
check_public_url(const char *v, char *why, size_t whylen)
{
	if (check_url(v, why, whylen) == -1)
		return -1;
	if (v[0] == '\0' || v[strlen(v) - 1] == '/')
		return refuse(why, whylen, "expected a URL without a trailing "
		    "slash");
	return 0;
}

static int
check_listen(const char *v, char *why, size_t whylen)
{
	if (v[0] != '/' && strcmp(v, "inherit") != 0 &&
	    strrchr(v, ':') == NULL)
		return refuse(why, whylen, "expected an absolute socket path, "
		    "HOST:PORT or inherit");
	return 0;
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
check_authorizer_listen(const char *v, char *why, size_t whylen)
{
	if (v[0] != '\0' && !loopback_port(v))
		return refuse(why, whylen, "expected a loopback address and "
		    "port, such as 127.0.0.1:9000 or [::1]:9000");
	return 0;
}

/* Workspace host names are <id>.<base_domain>. */
static int
check_base_domain(const char *v, char *why, size_t whylen)
{
	size_t n = strlen(v);

	if (n == 0 || n > 200 || v[0] == '.' || v[0] == '-' ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789.-") != n)
		return refuse(why, whylen, "expected a lower-case DNS name");
	return 0;
}

static int
check_docker_host(const char *v, char *why, size_t whylen)
{
	if (strncmp(v, "unix:///", 8) != 0 && strncmp(v, "tcp://", 6) != 0)
		return refuse(why, whylen, "expected unix:///path or "
		    "tcp://host:port");
	return 0;
}

/*
 * An address of this host, never all of them: a port published on
 * 0.0.0.0 or :: is open to every network the host is on, not only to the
 * proxy (see the README's firewall rule for non-loopback addresses).
 */
static int
check_publish_address(const char *v, char *why, size_t whylen)
{
	unsigned char buf[sizeof(struct in6_addr)];
	static const unsigned char any[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, v, buf) == 1) {
		if (memcmp(buf, any, 4) == 0)
			return refuse(why, whylen, "not 0.0.0.0: workspace "
			    "ports would be open on every address of the "
			    "host");
		return 0;
	}
	if (inet_pton(AF_INET6, v, buf) == 1) {
		if (memcmp(buf, any, sizeof(any)) == 0)
			return refuse(why, whylen, "not ::: workspace ports "
			    "would be open on every address of the host");
		return 0;
	}
	return refuse(why, whylen, "expected an IPv4 or IPv6 address of "
	    "this host");
}

static int
check_docker_network(const char *v, char *why, size_t whylen)
{
	if (v[0] == '\0' || strcmp(v, "host") == 0 ||
	    strncmp(v, "container:", 10) == 0)
		return refuse(why, whylen, "workspaces never share the host's "
		    "network");
	return 0;
}

#define OFF(f)	offsetof(struct conf, f)
#define URLKEY(name, def, help) \
	{ #name, CONF_STRING, OFF(name), 0, 0, def, NULL, check_url, 0, help }

/*
 * CONF_NORELOAD: the sockets are opened once, by the master, and every
 * generation of workers inherits them.
 */
const struct conf_key conf_keys[] = {
	{ "listen", CONF_STRING, OFF(listen), 0, 0, "/run/warren/api.sock",
	    NULL, check_listen, CONF_NORELOAD,
	    "unix socket path, HOST:PORT, or inherit (FastCGI socket on fd 0)" },
	{ "listen_mode", CONF_OCTAL, OFF(listen_mode), 0, 0777, "0660",
	    NULL, NULL, CONF_NORELOAD, "mode of the unix socket" },
	{ "authorizer_listen", CONF_STRING, OFF(authorizer_listen), 0, 0, "",
	    NULL, check_authorizer_listen, CONF_NORELOAD,
	    "loopback HOST:PORT for FastCGI Authorizer requests only" },
	{ "workers", CONF_INT, OFF(workers), 1, 128, "4",
	    NULL, NULL, 0, "worker processes" },
	{ "max_requests", CONF_INT, OFF(max_requests), 0, 10000000, "10000",
	    NULL, NULL, 0,
	    "requests a worker serves before it is replaced (0: never)" },
	{ "shutdown_grace", CONF_INT, OFF(shutdown_grace), 1, 300, "10",
	    NULL, NULL, 0, "seconds in-flight requests get on SIGTERM" },
	{ "max_body_size", CONF_SIZE, OFF(max_body_size), 1024, 64 << 20, "1m",
	    NULL, NULL, 0, "largest request body accepted" },
	{ "worker_memory_limit", CONF_SIZE, OFF(worker_memory_limit), 0,
	    64L << 30, "1g", NULL, NULL, 0, "address space each worker may use "
	    "(0: no limit)" },
	{ "db_conninfo", CONF_STRING, OFF(db_conninfo), 0, 0, "dbname=warren",
	    NULL, NULL, 0, "libpq connection string" },
	{ "db_connect_timeout", CONF_INT, OFF(db_connect_timeout), 100, 60000,
	    "1000", NULL, NULL, 0, "milliseconds to connect to PostgreSQL" },
	{ "db_query_timeout", CONF_INT, OFF(db_query_timeout), 100, 600000,
	    "5000", NULL, NULL, 0, "milliseconds a query may take" },
	{ "log_level", CONF_ENUM, OFF(log_level), 0, 0, "info", log_levels,
	    NULL, 0, "debug, info, warning or error" },
	{ "access_log", CONF_BOOL, OFF(access_log), 0, 0, "yes",
	    NULL, NULL, 0, "one log line per request" },
	{ "public_url", CONF_STRING, OFF(public_url), 0, 0,
	    "http://127.0.0.1:8080", NULL, check_public_url, 0,
	    "the URL users open: token issuer, cookie policy, CSRF origin" },
	{ "jwt_key_file", CONF_STRING, OFF(jwt_key_file), 0, 0,
	    "/etc/warren/jwt.keys", NULL, NULL, 0,
	    "signing keys for access tokens" },
	{ "access_token_ttl", CONF_INT, OFF(access_token_ttl), 60, 900, "600",
	    NULL, NULL, 0, "seconds an access token is valid" },
	{ "session_lifetime", CONF_INT, OFF(session_lifetime), 300, 31536000,
	    "1209600", NULL, NULL, 0,
	    "seconds a session lasts at most, refreshed or not" },
	{ "trusted_proxies", CONF_STRING, OFF(trusted_proxies), 0, 0, "",
	    NULL, NULL, 0, "addresses whose X-Forwarded-For is believed" },
	{ "login_failures_per_address", CONF_INT,
	    OFF(login_failures_per_address), 1, 100000, "20", NULL, NULL, 0,
	    "failed sign-ins from one address per window" },
	{ "login_failures_per_account", CONF_INT,
	    OFF(login_failures_per_account), 1, 100000, "5", NULL, NULL, 0,
	    "failed sign-ins to one account from one address per window" },
	{ "login_window", CONF_INT, OFF(login_window), 1, 86400, "900",
	    NULL, NULL, 0, "seconds over which failed sign-ins are counted" },
	{ "token_rate_limit", CONF_INT, OFF(token_rate_limit), 1, 10000000,
	    "600", NULL, NULL, 0,
	    "requests per minute one API token may make" },
	{ "max_concurrent_hashes", CONF_INT, OFF(max_concurrent_hashes), 1, 64,
	    "2", NULL, NULL, 0, "password hashes computed at once on this host" },
	{ "signup_policy", CONF_ENUM, OFF(signup_policy), 0, 0, "invite",
	    signup_policies, NULL, 0, "open, domains or invite" },
	{ "signup_domains", CONF_STRING, OFF(signup_domains), 0, 0, "",
	    NULL, NULL, 0, "e-mail domains allowed to sign up when "
	    "signup_policy = domains" },
	{ "oauth_timeout", CONF_INT, OFF(oauth_timeout), 100, 60000, "5000",
	    NULL, NULL, 0,
	    "milliseconds allowed for a call to a sign-in provider" },
	{ "github_client_id", CONF_STRING, OFF(github_client_id), 0, 0, "",
	    NULL, NULL, 0, "GitHub OAuth app client id" },
	{ "github_client_secret", CONF_STRING, OFF(github_client_secret), 0, 0,
	    "", NULL, NULL, 0, "GitHub OAuth app client secret" },
	URLKEY(github_auth_url, "https://github.com/login/oauth/authorize",
	    "GitHub authorization endpoint"),
	URLKEY(github_token_url, "https://github.com/login/oauth/access_token",
	    "GitHub token endpoint"),
	URLKEY(github_api_url, "https://api.github.com", "GitHub API base"),
	{ "oidc_provider_dir", CONF_STRING, OFF(oidc_provider_dir), 0, 0,
	    "/etc/warren/oidc", NULL, NULL, 0, "directory of OpenID Connect "
	    "providers, one NAME.conf each" },
	{ "image_recipes_dir", CONF_STRING, OFF(image_recipes_dir), 0, 0,
	    "/usr/share/warren/images", NULL, NULL, 0, "recipes of Warren's "
	    "standard workspace images (warrenctl images)" },
	{ "base_domain", CONF_STRING, OFF(base_domain), 0, 0,
	    "warren.localhost", NULL, check_base_domain, 0,
	    "workspaces answer at <id>.<base_domain>" },
	{ "max_cpu_millis", CONF_INT, OFF(max_cpu_millis), 100, 1024000, "8000",
	    NULL, NULL, 0,
	    "most CPU a template may give a workspace (1000 = 1 core)" },
	{ "max_memory_mb", CONF_INT, OFF(max_memory_mb), 16, 4194304, "16384",
	    NULL, NULL, 0, "most memory a template may give a workspace, MiB" },
	{ "max_pids", CONF_INT, OFF(max_pids), 16, 4194304, "4096",
	    NULL, NULL, 0, "most processes a template may allow a workspace" },
	{ "dormancy_after_days", CONF_INT, OFF(dormancy_after_days), 0, 3650,
	    "0", NULL, NULL, 0,
	    "days stopped before a workspace is dormant (0: never)" },
	{ "dormancy_delete_after_days", CONF_INT,
	    OFF(dormancy_delete_after_days), 0, 3650, "0", NULL, NULL, 0,
	    "days dormant before a workspace is deleted (0: never)" },
	{ "default_max_workspaces", CONF_INT, OFF(default_max_workspaces), 0,
	    1000000, "0", NULL, NULL, 0,
	    "workspaces per user without a quota (0: no limit)" },
	{ "default_max_running", CONF_INT, OFF(default_max_running), 0, 1000000,
	    "0", NULL, NULL, 0,
	    "running workspaces per user without a quota (0: no limit)" },
	{ "secret_key_file", CONF_STRING, OFF(secret_key_file), 0, 0,
	    "/etc/warren/secret.key", NULL, NULL, 0,
	    "key that encrypts secrets at rest" },
	{ "docker_host", CONF_STRING, OFF(docker_host), 0, 0,
	    "unix:///var/run/docker.sock", NULL, check_docker_host, 0,
	    "Docker Engine API: unix:///path or tcp://host:port" },
	{ "image_registries", CONF_STRING, OFF(image_registries), 0, 0, "",
	    NULL, NULL, 0, "registries workspace images may come from; empty: "
	    "any public name" },
	{ "docker_publish_address", CONF_STRING, OFF(docker_publish_address),
	    0, 0, "127.0.0.1", NULL, check_publish_address, 0,
	    "host address workspace ports publish on" },
	{ "docker_network", CONF_STRING, OFF(docker_network), 0, 0, "warren",
	    NULL, check_docker_network, 0,
	    "Docker network of workspace containers" },
	{ "docker_timeout", CONF_INT, OFF(docker_timeout), 1000, 600000,
	    "30000", NULL, NULL, 0, "milliseconds a Docker API call may take" },
	{ "reconciler_host_name", CONF_STRING, OFF(reconciler_host_name), 0, 0,
	    "local", NULL, NULL, 0,
	    "name of this Docker host in the docker_hosts table" },
	{ "reconciler_resync", CONF_INT, OFF(reconciler_resync), 1, 3600, "30",
	    NULL, NULL, 0, "seconds between full passes" },
	{ "reconciler_threads", CONF_INT, OFF(reconciler_threads), 1, 256, "16",
	    NULL, NULL, 0, "workspaces converged at once" },
	{ "reconciler_metrics_file", CONF_STRING, OFF(reconciler_metrics_file),
	    0, 0, "", NULL, NULL, 0,
	    "Prometheus text file written after each pass" },
	{ "reconciler_removal_fuse", CONF_INT, OFF(reconciler_removal_fuse), 1,
	    100, "50", NULL, NULL, 0, "percent of this installation's "
	    "containers a pass may remove as orphans" },
	{ "reconciler_removal_fuse_min", CONF_INT,
	    OFF(reconciler_removal_fuse_min), 1, 1000000, "5", NULL, NULL, 0,
	    "orphan containers a pass may always remove, below the fuse" },
	{ "workspace_admin_access", CONF_BOOL, OFF(workspace_admin_access), 0,
	    0, "no", NULL, NULL, 0, "admins may open any workspace" },
	{ "workspace_cookie_ttl", CONF_INT, OFF(workspace_cookie_ttl), 60,
	    86400, "3600", NULL, NULL, 0,
	    "seconds a workspace host's cookie lasts" },
	{ "traefik_file", CONF_STRING, OFF(traefik_file), 0, 0, "",
	    NULL, NULL, 0,
	    "Traefik dynamic configuration file the reconciler writes" },
	{ "traefik_version", CONF_INT, OFF(traefik_version), 2, 3, "3",
	    NULL, NULL, 0, "Traefik configuration syntax: 2 or 3" },
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
parse_bool(const char *s, long *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };
	int i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(s, yes[i]) == 0)
			return (*out = 1), 0;
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(s, no[i]) == 0)
			return (*out = 0), 0;
	return -1;
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
	return 0;
}

static int
check_number(const struct conf_key *k, const char *v, long *n, char *err,
    size_t errlen)
{
	if ((k->type == CONF_SIZE ? parse_size(v, n) : parse_long(v,
	    k->type == CONF_OCTAL ? 8 : 10, n)) == 0 && *n >= k->min &&
	    *n <= k->max)
		return 0;
	if (k->type == CONF_OCTAL)
		snprintf(err, errlen, "bad value for %s: expected an octal "
		    "mode 0..%lo", k->name, k->max);
	else
		snprintf(err, errlen, "bad value for %s: expected %s %ld..%ld",
		    k->name, k->type == CONF_SIZE ? "a size (k, m suffix)" :
		    "an integer", k->min, k->max);
	return -1;
}

/* What the key's type says of v; a bool or an enum's index in *n. */
static int
check_type(const struct conf_key *k, const char *v, long *n, char *err,
    size_t errlen)
{
	switch (k->type) {
	case CONF_STRING:
		return check_string(k, v, err, errlen);
	case CONF_BOOL:
		if (parse_bool(v, n) == 0)
			return 0;
		snprintf(err, errlen, "bad value for %s: expected yes or no",
		    k->name);
		return -1;
	case CONF_ENUM:
		for (*n = 0; k->choices[*n] != NULL; (*n)++)
			if (strcmp(v, k->choices[*n]) == 0)
				return 0;
		snprintf(err, errlen, "bad value for %s: expected one of %s",
		    k->name, k->help);
		return -1;
	case CONF_INT:
	case CONF_OCTAL:
	case CONF_SIZE:
		return check_number(k, v, n, err, errlen);
	}
	return -1;
}

int
conf_set(struct conf *c, const struct conf_key *k, const char *v, char *err,
    size_t errlen)
{
	char *p = (char *)c + k->offset, why[256];
	long n = 0;

	if (check_type(k, v, &n, err, errlen) == -1)
		return -1;
	if (k->check != NULL && k->check(v, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "bad value for %s: %s", k->name, why);
		return -1;
	}
	if (k->type == CONF_STRING)
		snprintf(p, CONF_STR_MAX, "%s", v);
	else if (k->type == CONF_BOOL)
		*(bool *)(void *)p = n != 0;
	else
		*(long *)(void *)p = n;
	return 0;
}

static size_t
value_size(const struct conf_key *k)
{
	if (k->type == CONF_STRING)
		return CONF_STR_MAX;
	return k->type == CONF_BOOL ? sizeof(bool) : sizeof(long);
}

static bool
value_equal(const struct conf_key *k, const struct conf *a,
    const struct conf *b)
{
	const char *x = (const char *)a + k->offset;
	const char *y = (const char *)b + k->offset;

	/* Bytes past a string's NUL are what an earlier value left. */
	if (k->type == CONF_STRING)
		return strcmp(x, y) == 0;
	return memcmp(x, y, value_size(k)) == 0;
}

const struct conf_key *
conf_reload_refused(const struct conf *running, const struct conf *next)
{
	size_t i;

	for (i = 0; i < conf_nkeys; i++)
		if ((conf_keys[i].flags & CONF_NORELOAD) &&
		    !value_equal(&conf_keys[i], running, next))
			return &conf_keys[i];
	return NULL;
}

void
conf_copy_key(struct conf *dst, const struct conf *src,
    const struct conf_key *k)
{
	memcpy((char *)dst + k->offset, (const char *)src + k->offset,
	    value_size(k));
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
