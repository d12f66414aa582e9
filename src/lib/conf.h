/* Configuration: one typed table of keys, a key = value file, WARREN_* overrides. */
#ifndef WARREN_CONF_H
#define WARREN_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define CONF_DEFAULT_FILE	"/etc/warren/warren.conf"
#define CONF_STR_MAX		1024

struct conf {
	char	listen[CONF_STR_MAX];
	long	listen_mode;
	char	authorizer_listen[CONF_STR_MAX];
	long	workers;
	long	max_requests;
	long	shutdown_grace;		/* seconds */
	long	max_body_size;		/* bytes */
	long	worker_memory_limit;	/* bytes of address space, 0: none */
	char	db_conninfo[CONF_STR_MAX];
	long	db_connect_timeout;	/* milliseconds */
	long	db_query_timeout;	/* milliseconds */
	long	log_level;		/* enum log_level */
	bool	access_log;
	char	public_url[CONF_STR_MAX];
	char	jwt_key_file[CONF_STR_MAX];
	long	access_token_ttl;	/* seconds */
	long	session_lifetime;	/* seconds */
	char	trusted_proxies[CONF_STR_MAX];
	long	login_failures_per_address;
	long	login_failures_per_account;
	long	login_window;		/* seconds */
	long	token_rate_limit;	/* requests per minute */
	long	max_concurrent_hashes;
	long	signup_policy;		/* enum signup_policy */
	char	signup_domains[CONF_STR_MAX];
	long	oauth_timeout;		/* milliseconds */
	char	github_client_id[CONF_STR_MAX];
	char	github_client_secret[CONF_STR_MAX];
	char	github_auth_url[CONF_STR_MAX];
	char	github_token_url[CONF_STR_MAX];
	char	github_api_url[CONF_STR_MAX];
	char	oidc_provider_dir[CONF_STR_MAX];
	char	image_recipes_dir[CONF_STR_MAX];
	char	base_domain[CONF_STR_MAX];
	long	max_cpu_millis;
	long	max_memory_mb;
	long	max_pids;
	long	dormancy_after_days;
	long	dormancy_delete_after_days;
	long	default_max_workspaces;
	long	default_max_running;
	char	secret_key_file[CONF_STR_MAX];
	char	docker_host[CONF_STR_MAX];
	char	image_registries[CONF_STR_MAX];
	char	docker_publish_address[CONF_STR_MAX];
	char	docker_network[CONF_STR_MAX];
	long	docker_timeout;		/* milliseconds */
	char	reconciler_host_name[CONF_STR_MAX];
	long	reconciler_resync;	/* seconds */
	long	reconciler_threads;
	char	reconciler_metrics_file[CONF_STR_MAX];
	long	reconciler_removal_fuse;	/* percent */
	long	reconciler_removal_fuse_min;
	bool	workspace_admin_access;
	long	workspace_cookie_ttl;	/* seconds */
	char	traefik_file[CONF_STR_MAX];
	long	traefik_version;
	char	traefik_forward_url[CONF_STR_MAX];
};

enum signup_policy {
	SIGNUP_OPEN,
	SIGNUP_DOMAINS,
	SIGNUP_INVITE,
};

enum conf_type {
	CONF_STRING,
	CONF_INT,
	CONF_OCTAL,
	CONF_SIZE,
	CONF_BOOL,
	CONF_ENUM,
};

/*
 * What a key's type alone does not say about its value: 0, or -1 and why
 * (conf_set puts "bad value for KEY: " before it).
 */
typedef int (*conf_check_fn)(const char *value, char *why, size_t whylen);

/* warren-api's reload keeps the running value and says a restart is due. */
#define CONF_NORELOAD	0x01

struct conf_key {
	const char		*name;
	enum conf_type		 type;
	size_t			 offset;
	long			 min, max;
	const char		*def;
	const char *const	*choices;	/* CONF_ENUM, NULL-terminated */
	conf_check_fn		 check;		/* or NULL */
	unsigned		 flags;		/* CONF_NORELOAD */
	const char		*help;
};

/* Reports one error; `where` is "FILE:LINE" or "environment WARREN_X". */
typedef void (*conf_error_fn)(void *ctx, const char *where, const char *msg);

extern const struct conf_key	conf_keys[];
extern const size_t		conf_nkeys;

void	conf_defaults(struct conf *);
int	conf_parse(struct conf *, const char *name, const char *buf, size_t len,
	    conf_error_fn, void *ctx) __attribute__((warn_unused_result));
int	conf_apply_env(struct conf *, conf_error_fn, void *ctx)
	    __attribute__((warn_unused_result));
int	conf_load(struct conf *, const char *path, conf_error_fn, void *ctx)
	    __attribute__((warn_unused_result));
int	conf_set(struct conf *, const struct conf_key *, const char *value,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
const struct conf_key *conf_lookup(const char *name, size_t len);
/*
 * The first CONF_NORELOAD key whose value differs between the running
 * configuration and a new one, or NULL; conf_copy_key puts back the
 * running value, so a loop over both ends.
 */
const struct conf_key *conf_reload_refused(const struct conf *running,
	    const struct conf *next);
void	conf_copy_key(struct conf *dst, const struct conf *src,
	    const struct conf_key *);
void	conf_print_error(void *ctx, const char *where, const char *msg);
/*
 * The key = value syntax, for other files: conf_split cuts a line (1, or
 * 0 for a blank or comment line, -1 and err); conf_lines calls fn for each
 * line and reports each error as "NAME:LINE"; conf_read reads a whole file
 * of at most 1 MiB (malloc'd, NUL-terminated), or says why not.
 */
int	conf_split(char *line, char **key, char **val, char *err,
	    size_t errlen);
int	conf_lines(const char *name, const char *buf, size_t len,
	    int (*fn)(void *, char *line, char *err, size_t errlen), void *arg,
	    conf_error_fn, void *ctx);
char	*conf_read(const char *path, size_t *len, conf_error_fn, void *ctx);

#endif
