/* warren-api: the FastCGI application server. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "prefork.h"
#include "server.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: warren-api [-n] [-c file]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static struct server srv;
	struct listeners l;
	bool check_only = false;
	int ch;

	srv.conf_path = CONF_DEFAULT_FILE;
	while ((ch = getopt(argc, argv, "c:nV")) != -1) {
		switch (ch) {
		case 'c':
			srv.conf_path = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'V':
			printf("warren-api %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (conf_load(&srv.conf, srv.conf_path, conf_print_error, NULL) == -1)
		return 1;
	log_init("warren-api", (enum log_level)srv.conf.log_level);
	if (sodium_init() < 0)
		fatalx("could not initialise libsodium");
	if (server_prepare(&srv) == -1)
		return 1;
	if (check_only) {
		printf("%s: configuration OK\n", srv.conf_path);
		return 0;
	}
	srv.route_labels = server_route_labels();
	if (prefork_listen(&srv.conf, &l) == -1)
		return 1;
	return prefork_run(&srv, &l);
}
