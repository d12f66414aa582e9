/* warrenctl: the operator's command line. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "backup.h"
#include "conf.h"
#include "images.h"
#include "log.h"
#include "keys.h"
#include "migrate.h"
#include "oidc.h"
#include "ops.h"
#include "setup.h"
#include "user.h"
#include "router.h"

static const char *conf_path = CONF_DEFAULT_FILE;

static int	cmd_migrate(int, char **);
static int	cmd_check_config(int, char **);
static int	cmd_routes(int, char **);
static int	cmd_keys(int, char **);
static int	cmd_user(int, char **);
static int	cmd_setup(int, char **);
static int	cmd_version(int, char **);
static int	cmd_status(int, char **);
static int	cmd_volumes(int, char **);
static int	cmd_removals(int, char **);
static int	cmd_backup(int, char **);
static int	cmd_restore(int, char **);
static int	cmd_images(int, char **);

static const struct command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;
} commands[] = {
	{ "migrate", cmd_migrate, "migrate [--status]" },
	{ "check-config", cmd_check_config, "check-config" },
	{ "routes", cmd_routes, "routes" },
	{ "keys", cmd_keys, "keys init | keys rotate" },
	{ "user", cmd_user, "user add NAME [--admin | --role ROLE] "
	    "[--email ADDR] [--password-stdin]" },
	{ "setup", cmd_setup, "setup [--admin NAME] [--email ADDR]" },
	{ "status", cmd_status, "status" },
	{ "volumes", cmd_volumes, "volumes [remove NAME... | remove --all]" },
	{ "removals", cmd_removals, "removals confirm [HOST]" },
	{ "backup", cmd_backup, "backup DIR" },
	{ "restore", cmd_restore, "restore DIR" },
	{ "images", cmd_images, "images [list] | images build NAME... [--force] "
	    "| images template NAME" },
	{ "version", cmd_version, "version" },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static void __attribute__((noreturn))
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: warrenctl [-V] [-c file] command [args]\n"
	    "commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(stderr, "  %s\n", commands[i].usage);
	exit(2);
}

static int
load(struct conf *c)
{
	return conf_load(c, conf_path, conf_print_error, NULL);
}

static int
cmd_migrate(int argc, char **argv)
{
	bool status = false;
	struct conf c;

	if (argc == 2 && strcmp(argv[1], "--status") == 0)
		status = true;
	else if (argc != 1)
		usage();
	if (load(&c) == -1)
		return 1;
	return migrate_run(&c, status) == 0 ? 0 : 1;
}

static int
cmd_check_config(int argc, char **argv)
{
	static struct oidc_provider oidc[OIDC_MAX_PROVIDERS];
	struct conf c;
	int n, i;

	(void)argv;
	if (argc != 1)
		usage();
	if (load(&c) == -1)
		return 1;
	/* The OpenID Connect provider files are part of the configuration. */
	if (oidc_load(c.oidc_provider_dir, oidc, OIDC_MAX_PROVIDERS, &n,
	    conf_print_error, NULL) == -1)
		return 1;
	printf("%s: configuration OK\n", conf_path);
	for (i = 0; i < n; i++)
		printf("OpenID Connect provider %s (%s): %s\n", oidc[i].name,
		    oidc[i].display_name, oidc[i].issuer);
	return 0;
}

static int
cmd_routes(int argc, char **argv)
{
	unsigned m;
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < nroutes; i++)
		for (m = 1; m <= HTTP_OPTIONS; m <<= 1)
			if (routes[i].methods & m)
				printf("%-7s %-40s %-20s %s\n",
				    http_method_name(m), routes[i].pattern,
				    routes[i].name,
				    policy_name(routes[i].policy) ?
				    policy_name(routes[i].policy) : "UNSET");
	return 0;
}

static int
cmd_keys(int argc, char **argv)
{
	struct conf c;

	if (argc != 2 || (strcmp(argv[1], "init") != 0 &&
	    strcmp(argv[1], "rotate") != 0))
		usage();
	if (load(&c) == -1)
		return 1;
	if (strcmp(argv[1], "init") == 0)
		return keys_init(&c) == 0 ? 0 : 1;
	return keys_rotate(&c) == 0 ? 0 : 1;
}

static int
cmd_user(int argc, char **argv)
{
	static const char *const roles[] = { "admin", "template-admin",
	    "auditor", "member", NULL };
	const char *role = "member", *email = NULL;
	bool pw_stdin = false, ok = false;
	struct conf c;
	int i;

	if (argc < 3 || strcmp(argv[1], "add") != 0)
		usage();
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--admin") == 0)
			role = "admin";
		else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			role = argv[++i];
		else if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
			email = argv[++i];
		else if (strcmp(argv[i], "--password-stdin") == 0)
			pw_stdin = true;
		else
			usage();
	}
	for (i = 0; roles[i] != NULL; i++)
		ok |= strcmp(roles[i], role) == 0;
	if (!ok) {
		fprintf(stderr, "warrenctl: role must be admin, template-admin, "
		    "auditor or member\n");
		return 1;
	}
	if (load(&c) == -1)
		return 1;
	return user_add(&c, argv[2], email, role, pw_stdin) == 0 ? 0 : 1;
}

static int
cmd_setup(int argc, char **argv)
{
	const char *admin = "admin", *email = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--admin") == 0 && i + 1 < argc)
			admin = argv[++i];
		else if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
			email = argv[++i];
		else
			usage();
	}
	return setup_run(conf_path, admin, email) == 0 ? 0 : 1;
}

/* An ops_* command that takes its own arguments. */
static int
ops(int argc, char **argv, int (*fn)(const struct conf *, int, char **))
{
	struct conf c;
	int rc;

	if (load(&c) == -1)
		return 1;
	if ((rc = fn(&c, argc - 1, argv + 1)) == -2)
		usage();
	return rc == 0 ? 0 : 1;
}

static int
cmd_status(int argc, char **argv)
{
	return ops(argc, argv, ops_status);
}

static int
cmd_volumes(int argc, char **argv)
{
	return ops(argc, argv, ops_volumes);
}

static int
cmd_images(int argc, char **argv)
{
	return ops(argc, argv, images_run);
}

static int
cmd_removals(int argc, char **argv)
{
	return ops(argc, argv, ops_removals);
}

static int
cmd_backup(int argc, char **argv)
{
	struct conf c;

	if (argc != 2)
		usage();
	if (load(&c) == -1)
		return 1;
	return backup_run(&c, argv[1]) == 0 ? 0 : 1;
}

static int
cmd_restore(int argc, char **argv)
{
	struct conf c;

	if (argc != 2)
		usage();
	if (load(&c) == -1)
		return 1;
	return restore_run(&c, argv[1]) == 0 ? 0 : 1;
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("warrenctl %s\n", PACKAGE_VERSION);
	return 0;
}

int
main(int argc, char *argv[])
{
	size_t i, j;
	int ch;

	log_init("warrenctl", LOG_LEVEL_WARNING);
	if (sodium_init() < 0) {
		fprintf(stderr, "warrenctl: could not initialise libsodium\n");
		return 1;
	}
	while ((ch = getopt(argc, argv, "+c:V")) != -1) {
		if (ch == 'V')
			return cmd_version(0, NULL);
		if (ch != 'c')
			usage();
		conf_path = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	/* -c is also accepted after the command, as in "check-config -c F". */
	for (i = 1, j = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < (size_t)argc)
			conf_path = argv[++i];
		else
			argv[j++] = argv[i];
	}
	argc = (int)j;
	argv[argc] = NULL;
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, argv[0]) == 0)
			return commands[i].fn(argc, argv);
	fprintf(stderr, "warrenctl: unknown command '%s'\n", argv[0]);
	usage();
}
