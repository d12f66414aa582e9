/* src/lib/util.c: the clock, libpq's messages cut to one line, files
 * replaced atomically. */
#include "config.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

/* Each thread cuts its own message many times: no buffer is shared. */
static void *
cutter(void *arg)
{
	const char *want = arg;
	char msg[64];
	int i, bad = 0;

	snprintf(msg, sizeof(msg), "%s\nDETAIL: more", want);
	for (i = 0; i < 100000; i++)
		if (strcmp(FIRST_LINE(msg), want) != 0)
			bad++;
	return bad ? (void *)1 : NULL;
}

/* Entries of a directory (or of /proc/self/fd), "." and ".." aside. */
static int
entries(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static char *
slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
atomic_writes(void)
{
	char dir[] = "/tmp/warren-util-XXXXXX", path[256], sub[256];
	struct stat st;
	int fds;

	umask(022);
	if (mkdtemp(dir) == NULL) {
		ok(0, "a temporary directory");
		return;
	}
	snprintf(path, sizeof(path), "%s/routes.yml", dir);
	ok(atomic_write(path, "one\n", 4, 0640) == 0, "a new file is written");
	is_str(slurp(path), "one\n", "with its text");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "and its mode");
	ok(atomic_write(path, "two\n", 4, 0644) == 0, "an old one is replaced");
	is_str(slurp(path), "two\n", "by the new text");
	is_int(entries(dir), 1, "no temporary file is left");
	/* Failures: no descriptor kept, no temporary file left. */
	fds = entries("/proc/self/fd");
	snprintf(sub, sizeof(sub), "%s/no-such-dir/x", dir);
	ok(atomic_write(sub, "x", 1, 0644) == -1, "a missing directory fails");
	snprintf(sub, sizeof(sub), "%s/d", dir);
	mkdir(sub, 0755);
	snprintf(path, sizeof(path), "%s/d/inside", dir);
	atomic_write(path, "x", 1, 0644);
	ok(atomic_write(sub, "x", 1, 0644) == -1,
	    "a rename over a directory that is not empty fails");
	is_int(entries(dir), 2, "and leaves no temporary file");
	is_int(entries("/proc/self/fd"), fds, "failures leave no descriptor open");
	unlink(path);
	rmdir(sub);
	snprintf(path, sizeof(path), "%s/routes.yml", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	char buf[8], big[600];
	pthread_t t[2];
	void *r0, *r1;
	int64_t a, b;

	is_str(FIRST_LINE("ERROR:  no\nDETAIL: x\n"), "ERROR:  no",
	    "the first line of a libpq message");
	is_str(FIRST_LINE(NULL), "unknown error", "no message");
	is_str(FIRST_LINE("\nsecond"), "unknown error", "an empty first line");
	is_str(first_line(buf, sizeof(buf), "0123456789\n"), "0123456",
	    "cut to the buffer");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(strlen(FIRST_LINE(big)) == 511, "FIRST_LINE holds 511 characters");
	pthread_create(&t[0], NULL, cutter, "first thread's");
	pthread_create(&t[1], NULL, cutter, "second thread's message");
	pthread_join(t[0], &r0);
	pthread_join(t[1], &r1);
	ok(r0 == NULL && r1 == NULL, "threads do not share a buffer");
	a = now_ms();
	b = now_ms();
	ok(a > 0 && b >= a, "the clock moves forward");
	atomic_writes();
	return done_testing();
}
