/*
 * warrenctl images: the recipes in image_recipes_dir (NAME.recipe beside
 * build.sh, which does the work: a root file system from Debian's and npm's
 * packages, imported into the Docker Engine that docker_host names) and
 * the template of each (NAME.template.json, for POST /api/v1/templates).
 */
#include "config.h"

#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images.h"

#define MAX_RECIPES	32
#define NAME_MAX_LEN	32

static int
by_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* The recipes' names, sorted; -1 when the directory cannot be read. */
static int
recipes(const char *dir, char names[][NAME_MAX_LEN], int *n)
{
	struct dirent *e;
	size_t len;
	DIR *d;

	*n = 0;
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "warrenctl images: %s: %s (image_recipes_dir)\n",
		    dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL && *n < MAX_RECIPES) {
		len = strlen(e->d_name);
		if (len < 8 || len - 7 >= NAME_MAX_LEN ||
		    strcmp(e->d_name + len - 7, ".recipe") != 0)
			continue;
		snprintf(names[*n], NAME_MAX_LEN, "%.*s", (int)(len - 7),
		    e->d_name);
		(*n)++;
	}
	closedir(d);
	qsort(names, (size_t)*n, NAME_MAX_LEN, by_name);
	return 0;
}

static bool
known(char names[][NAME_MAX_LEN], int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* build.sh NAME [option], with DOCKER_HOST from the configuration. */
static int
build_sh(const struct conf *c, const char *name, const char *option)
{
	char path[CONF_STR_MAX + 16];
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "%s/build.sh", c->image_recipes_dir);
	fflush(stdout);
	if ((pid = fork()) == -1) {
		perror("warrenctl images: fork");
		return -1;
	}
	if (pid == 0) {
		if (c->docker_host[0] != '\0')
			setenv("DOCKER_HOST", c->docker_host, 1);
		execl("/bin/sh", "sh", path, name, option, (char *)NULL);
		fprintf(stderr, "warrenctl images: /bin/sh %s: %s\n", path,
		    strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
template(const struct conf *c, const char *name)
{
	char path[CONF_STR_MAX + 64], buf[4096];
	size_t got;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.template.json",
	    c->image_recipes_dir, name);
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "warrenctl images: no template for %s: %s: "
		    "%s\n", name, path, strerror(errno));
		return -1;
	}
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, got, stdout);
	fclose(f);
	return 0;
}

int
images_run(const struct conf *c, int argc, char **argv)
{
	char names[MAX_RECIPES][NAME_MAX_LEN];
	bool force = false;
	int n, i, failed = 0;

	if (recipes(c->image_recipes_dir, names, &n) == -1)
		return -1;
	if (argc == 0 || (argc == 1 && strcmp(argv[0], "list") == 0)) {
		for (i = 0; i < n; i++)
			if (build_sh(c, names[i], "--status") == -1)
				failed++;
		return failed ? -1 : 0;
	}
	if (strcmp(argv[0], "template") == 0) {
		if (argc != 2)
			return -2;
		if (!known(names, n, argv[1])) {
			fprintf(stderr, "warrenctl images: no image recipe "
			    "'%.64s'\n", argv[1]);
			return -1;
		}
		return template(c, argv[1]);
	}
	if (strcmp(argv[0], "build") != 0 || argc < 2)
		return -2;
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (argv[i][0] == '-')
			return -2;
		else if (!known(names, n, argv[i])) {
			fprintf(stderr, "warrenctl images: no image recipe "
			    "'%.64s'\n", argv[i]);
			return -1;
		}
	/* Every name was checked first: nothing is built for a typo. */
	for (i = 1; i < argc; i++)
		if (argv[i][0] != '-' && build_sh(c, argv[i], force ?
		    "--force" : NULL) == -1) {
			fprintf(stderr, "warrenctl images: %s was not built\n",
			    argv[i]);
			failed++;
		}
	return failed ? -1 : 0;
}
