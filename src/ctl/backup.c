/*
 * "warrenctl backup DIR" and "warrenctl restore DIR": the whole state of an
 * installation in one directory, and back into a fresh one.
 *
 *	DIR/warren.dump		pg_dump --format=custom of the database
 *	DIR/keys/		the signing keys and the secrets key (0600)
 *	DIR/homes/NAME.tar	each workspace's home volume, as Docker's
 *				archive API gives it
 *	DIR/MANIFEST		what is there: the installation's id and one
 *				line per home volume
 *
 * A home volume is read and written through a container that is created
 * and never started, with the volume mounted at /warren-home: the archive
 * API needs nothing inside the image, so the helper image is one empty
 * directory, imported here when missing.
 */
#include "config.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "arena.h"
#include "backup.h"
#include "ctldb.h"
#include "docker.h"
#include "json.h"
#include "keys.h"
#include "migrate.h"

#define HELPER_IMAGE	"warren/home-copy:1"
#define MOUNT		"/warren-home"
#define COPY_TIMEOUT	(6L * 3600 * 1000)	/* a large home, a slow disk */

struct run {
	const struct conf	*c;
	const char		*dir;
	PGconn			*db;
	struct docker		*docker;
	struct arena		*a;
};

static int
say_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
say_error(const char *fmt, ...)
{
	va_list ap;

	fputs("warrenctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* Runs argv, waits; 0 when it exited 0. */
static int
run_program(char *const argv[])
{
	pid_t pid;
	int status;

	fflush(NULL);
	if ((pid = fork()) == -1)
		return say_error("could not run %s: %s", argv[0],
		    strerror(errno));
	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "warrenctl: could not run %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return say_error("%s failed", argv[0]);
	return 0;
}

static int
docker_open(struct run *r)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((r->docker = docker_new(r->c->docker_host, NULL, 30000)) == NULL)
		return say_error("docker_host: cannot use %s",
		    r->c->docker_host);
	if (docker_negotiate(r->docker, r->a) == -1)
		return say_error("Docker at %s does not answer: %s",
		    r->c->docker_host, docker_error(r->docker));
	return 0;
}

/* The helper image: one empty directory, made here when missing. */
static int
helper_image(struct run *r)
{
	static const char tar_header_name[] = "warren-home/";
	unsigned char block[1536];
	unsigned sum = 0;
	enum docker_result res;
	FILE *in;
	size_t i;

	res = docker_call(r->docker, r->a, "GET", "/images/" HELPER_IMAGE
	    "/json", NULL, 0, NULL);
	if (res == DOCKER_OK)
		return 0;
	/* A tar of one directory entry, then two empty blocks. */
	memset(block, 0, sizeof(block));
	memcpy(block, tar_header_name, sizeof(tar_header_name) - 1);
	memcpy(block + 100, "0000755", 7);
	memcpy(block + 108, "0000000", 7);
	memcpy(block + 116, "0000000", 7);
	memcpy(block + 124, "00000000000", 11);
	memcpy(block + 136, "00000000000", 11);
	block[156] = '5';
	memcpy(block + 257, "ustar", 6);
	memcpy(block + 263, "00", 2);
	memset(block + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += block[i];
	snprintf((char *)block + 148, 8, "%06o", sum);
	if ((in = fmemopen(block, sizeof(block), "r")) == NULL)
		return say_error("out of memory");
	res = docker_stream(r->docker, r->a, "POST", "/images/create?fromSrc=-"
	    "&repo=warren%2Fhome-copy&tag=1", in, NULL, 60000);
	fclose(in);
	/* Docker's progress stream says 200 even when the import failed. */
	if (res == DOCKER_OK)
		res = docker_call(r->docker, r->a, "GET", "/images/"
		    HELPER_IMAGE "/json", NULL, 0, NULL);
	if (res != DOCKER_OK)
		return say_error("could not make the helper image %s: %s",
		    HELPER_IMAGE, docker_error(r->docker));
	return 0;
}

/* A created, never started container with volume at MOUNT: its id. */
static const char *
helper(struct run *r, const char *volume)
{
	struct json_object *b, *hc, *mounts, *m, *labels, *out;

	b = json_own(r->a, json_object_new_object());
	json_object_object_add(b, "Image", json_object_new_string(
	    HELPER_IMAGE));
	json_object_object_add(b, "Cmd", json_tokener_parse("[\"/none\"]"));
	labels = json_object_new_object();
	json_object_object_add(labels, "warren.helper",
	    json_object_new_string("home-copy"));
	json_object_object_add(b, "Labels", labels);
	hc = json_object_new_object();
	mounts = json_object_new_array();
	m = json_object_new_object();
	json_object_object_add(m, "Type", json_object_new_string("volume"));
	json_object_object_add(m, "Source", json_object_new_string(volume));
	json_object_object_add(m, "Target", json_object_new_string(MOUNT));
	json_object_array_add(mounts, m);
	json_object_object_add(hc, "Mounts", mounts);
	json_object_object_add(hc, "NetworkMode", json_object_new_string(
	    "none"));
	json_object_object_add(b, "HostConfig", hc);
	if (docker_call(r->docker, r->a, "POST", "/containers/create", b, 0,
	    &out) != DOCKER_OK || out == NULL) {
		say_error("could not create a container for %s: %s", volume,
		    docker_error(r->docker));
		return NULL;
	}
	return arena_strdup(r->a, json_object_get_string(
	    json_object_object_get(out, "Id")));
}

static void
helper_done(struct run *r, const char *id)
{
	(void)docker_call(r->docker, r->a, "DELETE", arena_printf(r->a,
	    "/containers/%s?force=1", id), NULL, 0, NULL);
}

/*
 * Copies volume to the tar file at path (out) or from it (in), through a
 * helper container; -1 after saying why.
 */
static int
copy_volume(struct run *r, const char *volume, const char *path, bool out)
{
	enum docker_result res;
	const char *id;
	FILE *f;

	if ((id = helper(r, volume)) == NULL)
		return -1;
	if ((f = fopen(path, out ? "wxe" : "re")) == NULL) {
		helper_done(r, id);
		return say_error("could not open %s: %s", path, strerror(errno));
	}
	res = docker_stream(r->docker, r->a, out ? "GET" : "PUT",
	    arena_printf(r->a, "/containers/%s/archive?path=%s", id, out ?
	    MOUNT : "/"), out ? NULL : f, out ? f : NULL, COPY_TIMEOUT);
	helper_done(r, id);
	if (out && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		res = DOCKER_ERROR;
	fclose(f);
	if (res != DOCKER_OK)
		return say_error("could not copy volume %s %s %s: %s", volume,
		    out ? "to" : "from", path, docker_error(r->docker));
	return 0;
}

/* -1 error, 0 copied, 1 no such volume. */
static int
export_home(struct run *r, const char *volume, const char *path, long *bytes)
{
	enum docker_result res;
	struct stat st;

	res = docker_call(r->docker, r->a, "GET", arena_printf(r->a,
	    "/volumes/%s", volume), NULL, 0, NULL);
	if (res == DOCKER_NOT_FOUND)
		return 1;
	if (res != DOCKER_OK)
		return say_error("could not look at volume %s: %s", volume,
		    docker_error(r->docker));
	if (copy_volume(r, volume, path, true) == -1)
		return -1;
	*bytes = stat(path, &st) == 0 ? (long)st.st_size : 0;
	return 0;
}

static char *
slurp(struct arena *a, const char *path)
{
	char *buf;
	FILE *f;
	long n;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > 65536 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = arena_alloc(a, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
write_text(const char *path, const char *text, mode_t mode)
{
	size_t n = strlen(text);
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode))
	    == -1 || write(fd, text, n) != (ssize_t)n || fsync(fd) == -1 ||
	    close(fd) == -1)
		return say_error("could not write %s: %s", path,
		    strerror(errno));
	return 0;
}

/* The key files, by their names in the configuration. */
static const char *
key_path(const struct conf *c, int i)
{
	return i == 0 ? c->jwt_key_file : c->secret_key_file;
}

static int
backup_keys(struct run *r)
{
	char *text;
	int i;

	if (mkdir(arena_printf(r->a, "%s/keys", r->dir), 0700) == -1)
		return say_error("could not make %s/keys: %s", r->dir,
		    strerror(errno));
	for (i = 0; i < 2; i++) {
		if ((text = slurp(r->a, key_path(r->c, i))) == NULL)
			return say_error("could not read %s", key_path(r->c, i));
		if (write_text(arena_printf(r->a, "%s/keys/%s", r->dir,
		    basename(arena_strdup(r->a, key_path(r->c, i)))), text,
		    0600) == -1)
			return -1;
	}
	return 0;
}

static int
backup_homes(struct run *r, FILE *manifest, int *count, long *total)
{
	PGresult *res;
	long bytes = 0;
	int i, rc;

	if ((res = ctl_exec(r->db, "list the workspaces", "SELECT id,"
	    " 'warren-' || short_id || '-home' FROM workspaces"
	    " WHERE deleted_at IS NULL ORDER BY created_at", 0, NULL)) == NULL)
		return -1;
	if (mkdir(arena_printf(r->a, "%s/homes", r->dir), 0700) == -1) {
		PQclear(res);
		return say_error("could not make %s/homes: %s", r->dir,
		    strerror(errno));
	}
	for (i = 0; i < PQntuples(res); i++) {
		const char *vol = PQgetvalue(res, i, 1);
		rc = export_home(r, vol, arena_printf(r->a, "%s/homes/%s.tar",
		    r->dir, vol), &bytes);
		if (rc == -1) {
			PQclear(res);
			return -1;
		}
		if (rc == 1) {
			printf("workspace %s has no home volume %s yet\n",
			    PQgetvalue(res, i, 0), vol);
			continue;
		}
		fprintf(manifest, "home %s %s %ld\n", vol, PQgetvalue(res, i, 0),
		    bytes);
		printf("copied home volume %s (%ld bytes)\n", vol, bytes);
		(*count)++;
		*total += bytes;
	}
	PQclear(res);
	return 0;
}

/* An empty directory, or one to make. */
static int
fresh_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST || (d = opendir(dir)) == NULL)
		return say_error("could not make %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	if (n > 0)
		return say_error("%s is not empty: back up into a new directory",
		    dir);
	return chmod(dir, 0700);
}

int
backup_run(const struct conf *c, const char *dir)
{
	struct run r = { c, dir, NULL, NULL, arena_new(65536) };
	char *dump_arg, *db_arg;
	PGresult *res = NULL;
	FILE *manifest = NULL;
	long total = 0;
	int count = 0, rc = -1;

	if (fresh_dir(dir) == -1 || (r.db = ctl_connect(c)) == NULL ||
	    (res = ctl_exec(r.db, "read the installation", "SELECT instance_id"
	    " FROM instance", 0, NULL)) == NULL || docker_open(&r) == -1 ||
	    helper_image(&r) == -1)
		goto out;
	if ((manifest = fopen(arena_printf(r.a, "%s/MANIFEST", dir), "wxe"))
	    == NULL) {
		say_error("could not write %s/MANIFEST: %s", dir,
		    strerror(errno));
		goto out;
	}
	fprintf(manifest, "warren-backup 1\ninstance %s\n",
	    PQgetvalue(res, 0, 0));
	dump_arg = arena_printf(r.a, "--file=%s/warren.dump", dir);
	db_arg = arena_printf(r.a, "--dbname=%s", c->db_conninfo);
	if (run_program((char *[]){ "pg_dump", "--format=custom",
	    "--no-owner", dump_arg, db_arg, NULL }) == -1)
		goto out;
	printf("dumped the database to %s/warren.dump\n", dir);
	if (backup_keys(&r) == -1)
		goto out;
	printf("copied the keys to %s/keys\n", dir);
	if (backup_homes(&r, manifest, &count, &total) == -1)
		goto out;
	if (fflush(manifest) != 0 || fsync(fileno(manifest)) != 0) {
		say_error("could not write %s/MANIFEST", dir);
		goto out;
	}
	printf("backed up instance %s: the database, the keys and %d home "
	    "volumes (%ld bytes) in %s\n", PQgetvalue(res, 0, 0), count, total,
	    dir);
	rc = 0;
out:
	if (manifest != NULL)
		fclose(manifest);
	PQclear(res);
	if (r.db != NULL)
		PQfinish(r.db);
	docker_free(r.docker);
	arena_free(r.a);
	return rc;
}

/* ---------------------------------------------------------------- restore */

static int
restore_keys(struct run *r)
{
	char *text, *old, *moved;
	int i;

	for (i = 0; i < 2; i++) {
		const char *path = key_path(r->c, i);
		if ((text = slurp(r->a, arena_printf(r->a, "%s/keys/%s", r->dir,
		    basename(arena_strdup(r->a, path))))) == NULL)
			return say_error("%s/keys has no %s", r->dir,
			    basename(arena_strdup(r->a, path)));
		if ((old = slurp(r->a, path)) != NULL) {
			if (strcmp(old, text) == 0)
				continue;
			/* This installation's own keys are kept aside. */
			moved = arena_printf(r->a, "%s.replaced-%lld", path,
			    (long long)time(NULL));
			if (rename(path, moved) == -1)
				return say_error("could not move %s aside: %s",
				    path, strerror(errno));
			printf("moved %s aside to %s\n", path, moved);
		}
		if (keys_write(path, text) == -1)
			return -1;
		printf("restored %s\n", path);
	}
	return 0;
}

static int
import_home(struct run *r, const char *instance, const char *volume,
    const char *ws, const char *path)
{
	struct json_object *b, *labels;
	enum docker_result res;

	res = docker_call(r->docker, r->a, "GET", arena_printf(r->a,
	    "/volumes/%s", volume), NULL, 0, NULL);
	if (res == DOCKER_OK)
		return say_error("volume %s exists on this Docker host: remove "
		    "it, or restore elsewhere", volume);
	b = json_own(r->a, json_object_new_object());
	json_object_object_add(b, "Name", json_object_new_string(volume));
	labels = json_object_new_object();
	json_object_object_add(labels, "warren.managed",
	    json_object_new_string("true"));
	json_object_object_add(labels, "warren.workspace",
	    json_object_new_string(ws));
	json_object_object_add(labels, "warren.instance",
	    json_object_new_string(instance));
	json_object_object_add(b, "Labels", labels);
	if (docker_call(r->docker, r->a, "POST", "/volumes/create", b, 0, NULL)
	    != DOCKER_OK)
		return say_error("could not create volume %s: %s", volume,
		    docker_error(r->docker));
	if (copy_volume(r, volume, path, false) == -1)
		return -1;
	printf("restored home volume %s\n", volume);
	return 0;
}

/* The MANIFEST's "home NAME WORKSPACE BYTES" lines, checked first. */
static int
restore_homes(struct run *r, const char *instance, char *manifest)
{
	char *line, *save = NULL, vol[128], ws[64];
	long bytes;
	int n = 0;

	for (line = strtok_r(manifest, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "home ", 5) != 0)
			continue;
		if (sscanf(line, "home %127s %63s %ld", vol, ws, &bytes) != 3 ||
		    strncmp(vol, "warren-", 7) != 0 || strchr(vol, '/') != NULL)
			return say_error("%s/MANIFEST: not a home line: %s",
			    r->dir, line);
		if (import_home(r, instance, vol, ws, arena_printf(r->a,
		    "%s/homes/%s.tar", r->dir, vol)) == -1)
			return -1;
		n++;
	}
	printf("restored %d home volumes\n", n);
	return 0;
}

int
restore_run(const struct conf *c, const char *dir)
{
	struct run r = { c, dir, NULL, NULL, arena_new(65536) };
	char *manifest, *dump, *db_arg, instance[64];
	PGresult *res = NULL;
	struct stat st;
	int rc = -1;

	if ((manifest = slurp(r.a, arena_printf(r.a, "%s/MANIFEST", dir)))
	    == NULL || strncmp(manifest, "warren-backup 1\ninstance ", 25) != 0 ||
	    sscanf(manifest + 25, "%63s", instance) != 1) {
		say_error("%s is not a Warren backup (no MANIFEST)", dir);
		goto out;
	}
	dump = arena_printf(r.a, "%s/warren.dump", dir);
	if (stat(dump, &st) == -1) {
		say_error("%s: %s", dump, strerror(errno));
		goto out;
	}
	if ((r.db = ctl_connect(c)) == NULL || (res = ctl_exec(r.db,
	    "look at the database", "SELECT to_regclass('instance') IS NULL"
	    " AND to_regclass('workspaces') IS NULL", 0, NULL)) == NULL)
		goto out;
	if (PQgetvalue(res, 0, 0)[0] != 't') {
		say_error("the database already holds a Warren installation: "
		    "restore into a new, empty database");
		goto out;
	}
	/* Docker first: nothing is written before both ends answer. */
	if (docker_open(&r) == -1 || helper_image(&r) == -1)
		goto out;
	db_arg = arena_printf(r.a, "--dbname=%s", c->db_conninfo);
	if (run_program((char *[]){ "pg_restore", "--no-owner",
	    "--exit-on-error", "--single-transaction", db_arg, dump, NULL })
	    == -1)
		goto out;
	printf("restored the database of instance %s\n", instance);
	if (migrate_run(c, false) == -1 || restore_keys(&r) == -1 ||
	    restore_homes(&r, instance, manifest) == -1)
		goto out;
	printf("restored instance %s from %s: start warren-api and "
	    "warren-reconciler\n", instance, dir);
	rc = 0;
out:
	PQclear(res);
	if (r.db != NULL)
		PQfinish(r.db);
	docker_free(r.docker);
	arena_free(r.a);
	return rc;
}
