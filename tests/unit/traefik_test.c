/*
 * The Traefik snapshot: traefik_render against golden files (empty, one
 * workspace, shared ports, v2 and v3), and traefik_write's promises:
 * written once, not rewritten when the bytes are the same (inode and mtime
 * kept), replaced atomically (a reader of the old file keeps the old
 * bytes, no temporary file is left), and traefik_clean removing the
 * temporary files a crash left behind and nothing else.
 *
 * WARREN_GOLDEN_UPDATE=1 rewrites the golden files from the renderer:
 * review the diff before committing it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "log.h"
#include "tap.h"
#include "traefik.h"

#ifndef SRCDIR
#error "SRCDIR must name the source tree (set in Makefile.am)"
#endif

#define GOLDEN	SRCDIR "/tests/unit/golden/"
#define FORWARD	"http://127.0.0.1:8080/api/v1/auth/forward"
#define DOMAIN	"warren.localhost"

static char *
slurp(const char *path)
{
	struct stat sb;
	char *buf;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	if (fstat(fileno(f), &sb) == -1 || (buf = malloc((size_t)sb.st_size +
	    1)) == NULL) {
		fclose(f);
		return NULL;
	}
	buf[fread(buf, 1, (size_t)sb.st_size, f)] = '\0';
	fclose(f);
	return buf;
}

static void
spill(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) == EOF)
		diag("could not write %s: %s", path, strerror(errno));
}

/* The golden file, byte for byte. */
static void
golden(const char *name, const char *got)
{
	char path[512];
	char *want;

	snprintf(path, sizeof(path), GOLDEN "%s", name);
	if (getenv("WARREN_GOLDEN_UPDATE") != NULL)
		spill(path, got);
	want = slurp(path);
	ok(want != NULL, "golden file %s is there", name);
	is_str(got, want ? want : "", "render matches %s", name);
	free(want);
}

static const struct traefik_route one[] = {
	{ "abcdefgh23", 0, "127.0.0.1:32768" },
};

/* Sorted as state_routes() gives them: by short id, then port. */
static const struct traefik_route shared[] = {
	{ "abcdefgh23", 0, "127.0.0.1:32768" },
	{ "abcdefgh23", 8081, "127.0.0.1:32769" },
	{ "zyxwvuts76", 0, "127.0.0.1:32770" },
	{ "zyxwvuts76", 3000, "127.0.0.1:32771" },
	{ "zyxwvuts76", 65535, "127.0.0.1:32772" },
};

static void
test_render(struct arena *a)
{
	const int nshared = (int)(sizeof(shared) / sizeof(shared[0]));
	char *v3, *v2;

	golden("traefik-empty.yml", traefik_render(a, NULL, 0, DOMAIN,
	    FORWARD, 3));
	golden("traefik-empty-v2.yml", traefik_render(a, NULL, 0, DOMAIN,
	    FORWARD, 2));
	golden("traefik-one.yml", traefik_render(a, one, 1, DOMAIN, FORWARD,
	    3));
	golden("traefik-shared.yml", traefik_render(a, shared, nshared,
	    DOMAIN, FORWARD, 3));
	golden("traefik-shared-v2.yml", traefik_render(a, shared, nshared,
	    DOMAIN, FORWARD, 2));

	/* Pure: the same input gives the same bytes. */
	v3 = traefik_render(a, shared, nshared, DOMAIN, FORWARD, 3);
	is_str(v3, traefik_render(a, shared, nshared, DOMAIN, FORWARD, 3),
	    "rendering twice gives the same bytes");
	v2 = traefik_render(a, shared, nshared, DOMAIN, FORWARD, 2);
	ok(strcmp(v2, v3) != 0, "v2 and v3 output say which syntax they are");
	like(v3, "Host(`zyxwvuts76-65535." DOMAIN "`)",
	    "a shared port's rule names <id>-<port>.<base_domain>");
	like(v3, "Host(`abcdefgh23." DOMAIN "`)",
	    "a main port's rule names <id>.<base_domain>");
	ok(strstr(v3, "{}") == NULL && strstr(v3, "[]") == NULL,
	    "no empty map or list in flow style");
	like(traefik_render(a, NULL, 0, DOMAIN, FORWARD, 3),
	    "warren-any-host:\n      rule: \"HostRegexp(`^[a-z2-7]{10}"
	    "(?:-[1-9][0-9]{0,4})?\\\\.warren\\\\.localhost$`)\"",
	    "without routes, every workspace host still reaches Warren (v3)");
	like(traefik_render(a, NULL, 0, DOMAIN, FORWARD, 2),
	    "HostRegexp(`{host:[a-z2-7]{10}(?:-[1-9][0-9]{0,4})?}.warren.localhost`)",
	    "and in v2's syntax");
	like(v3, "address: \"" FORWARD "?pending=1\"",
	    "hosts without a router ask the forward endpoint as pending");
	like(v3, "passHostHeader: false",
	    "warren-api gets its own Host, the workspace's in X-Forwarded-Host");
	ok(strstr(v3, "-handoff:") != NULL && strstr(v3,
	    "warren-abcdefgh23-handoff") == NULL,
	    "one hand-off router for every host");
}

static int
temp_files(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp") != NULL)
			n++;
	closedir(d);
	return n;
}

static void
touch(const char *path, const char *text)
{
	spill(path, text);
}

static void
test_write(const char *dir)
{
	char path[512], file[600], *got;
	struct stat before, after;
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	int fd;

	snprintf(path, sizeof(path), "%s/routes.yml", dir);
	is_int(traefik_write(path, "a: 1\n"), 1, "a new file is written");
	got = slurp(path);
	is_str(got, "a: 1\n", "with the text given");
	free(got);
	is_int(temp_files(dir), 0, "no temporary file is left after a write");

	/* Old mtime, so that a rewrite could not hide in the same second. */
	ok(utimensat(AT_FDCWD, path, old, 0) == 0, "mtime set in the past");
	ok(stat(path, &before) == 0, "stat before");
	is_int(traefik_write(path, "a: 1\n"), 0, "same bytes: not rewritten");
	ok(stat(path, &after) == 0, "stat after");
	ok(before.st_ino == after.st_ino, "same bytes: same inode");
	ok(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
	    before.st_mtim.tv_nsec == after.st_mtim.tv_nsec,
	    "same bytes: mtime kept");

	/* A prefix or an extension of the file is not "the same". */
	is_int(traefik_write(path, "a: 1\nb: 2\n"), 1,
	    "longer text: rewritten");
	is_int(traefik_write(path, "a: 1\n"), 1, "shorter text: rewritten");
	got = slurp(path);
	is_str(got, "a: 1\n", "shorter text: nothing of the longer left");
	free(got);

	/* Atomic: a new inode replaces the old one; a reader that opened
	 * the old file reads the old bytes to the end. */
	ok(stat(path, &before) == 0, "stat before a change");
	fd = open(path, O_RDONLY);
	ok(fd != -1, "a reader opens the current file");
	is_int(traefik_write(path, "a: 2\n"), 1, "changed text: rewritten");
	ok(stat(path, &after) == 0, "stat after a change");
	ok(before.st_ino != after.st_ino,
	    "changed text: replaced by rename, not rewritten in place");
	{
		char buf[16] = "";
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = '\0';
		is_str(buf, "a: 1\n", "the reader still sees the old bytes");
		close(fd);
	}
	got = slurp(path);
	is_str(got, "a: 2\n", "the new file holds the new text");
	free(got);
	ok((after.st_mode & 0777) == 0644, "mode 0644, readable by Traefik");
	is_int(temp_files(dir), 0, "no temporary file is left after a change");

	/* Cannot write: -1, nothing left behind. */
	snprintf(file, sizeof(file), "%s/missing/routes.yml", dir);
	is_int(traefik_write(file, "a: 1\n"), -1,
	    "a missing directory: -1");
	is_int(temp_files(dir), 0, "and no temporary file");
}

static void
test_clean(const char *dir)
{
	char path[512], f[600];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/routes.yml", dir);
	snprintf(f, sizeof(f), "%s/.warren-routes.yml.tmp4242", dir);
	touch(f, "half a file");
	snprintf(f, sizeof(f), "%s/.warren-routes.yml.tmp7", dir);
	touch(f, "");
	snprintf(f, sizeof(f), "%s/other.yml", dir);
	touch(f, "x: 1\n");
	snprintf(f, sizeof(f), "%s/.warren-notes", dir);
	touch(f, "kept\n");
	is_int(temp_files(dir), 2, "two stale temporary files planted");
	traefik_clean(path);
	is_int(temp_files(dir), 0, "traefik_clean removes them");
	ok(stat(path, &sb) == 0, "the snapshot itself is kept");
	snprintf(f, sizeof(f), "%s/other.yml", dir);
	ok(stat(f, &sb) == 0, "another file of the directory is kept");
	snprintf(f, sizeof(f), "%s/.warren-notes", dir);
	ok(stat(f, &sb) == 0, "a dot file that is not a temporary is kept");

	/* A relative traefik_file, as a config may give it. */
	snprintf(f, sizeof(f), "%s/.warren-routes.yml.tmp99", dir);
	touch(f, "stale");
	if (chdir(dir) == 0) {
		traefik_clean("routes.yml");
		ok(temp_files(".") == 0,
		    "traefik_clean with a file name without a directory");
	}
}

int
main(void)
{
	struct arena *a = arena_new(64 * 1024);
	char dir[] = "/tmp/warren-traefik-XXXXXX";
	char cmd[600];

	log_init("traefik_test", LOG_LEVEL_ERROR);
	test_render(a);
	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp: %s", strerror(errno));
		return done_testing();
	}
	test_write(dir);
	test_clean(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	arena_free(a);
	return done_testing();
}
