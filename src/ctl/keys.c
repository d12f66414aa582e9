/*
 * The key file holds "kid key" lines, newest first: the first signs, all
 * verify.  Rotation puts a new key in front and keeps two older ones, so
 * tokens signed before a rotation stay valid until they expire.
 *
 * warren-api and warren-reconciler run as their own users and share the
 * keys through group KEYS_GROUP: root creates the files as root:warren
 * 0640 when that group exists (0600 otherwise), and a rewritten file keeps
 * the owner, group and mode of the one it replaces, so that a rotation by
 * root does not lock the services out.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keys.h"
#include "secretbox.h"
#include "webtoken.h"

#define KEEP	3

static void
new_line(char *out, size_t outlen)
{
	unsigned char key[32], kid[6];
	char k64[64], kid64[16];

	randombytes_buf(key, sizeof(key));
	randombytes_buf(kid, sizeof(kid));
	sodium_bin2base64(k64, sizeof(k64), key, sizeof(key),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(kid64, sizeof(kid64), kid, sizeof(kid),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, outlen, "%s %s\n", kid64, k64);
	sodium_memzero(key, sizeof(key));
}

/* Owner, group and mode for a key file: the old file's, else new ones. */
static void
key_owner(const char *path, uid_t *uid, gid_t *gid, mode_t *mode)
{
	struct group *gr;
	struct stat st;

	*uid = geteuid();
	*gid = getegid();
	*mode = 0600;
	if (stat(path, &st) == 0) {
		*uid = st.st_uid;
		*gid = st.st_gid;
		*mode = st.st_mode & 0640;
		if ((*mode & 0600) != 0600)
			*mode = 0600;
	} else if (geteuid() == 0 && (gr = getgrnam(KEYS_GROUP)) != NULL) {
		*gid = gr->gr_gid;
		*mode = 0640;
	}
}

/* Gives an open key file its owner and mode; -1 with errno set. */
static int
share(int fd, uid_t uid, gid_t gid, mode_t mode)
{
	if (geteuid() == 0 && fchown(fd, uid, gid) == -1)
		return -1;
	return fchmod(fd, mode);
}

/* Writes the whole file next to the old one, then renames it in place. */
int
keys_write(const char *path, const char *text)
{
	char tmp[4096];
	size_t n = strlen(text);
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int fd;

	key_owner(path, &uid, &gid, &mode);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))
	    == -1) {
		fprintf(stderr, "warrenctl: could not write %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) == -1 || write(fd, text, n) != (ssize_t)n ||
	    share(fd, uid, gid, mode) == -1 || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		fprintf(stderr, "warrenctl: could not write %s: %s\n", path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The secrets key is made by secretbox_create() (0600): share it after. */
static int
share_path(const char *path)
{
	struct group *gr;
	int fd, rc;

	if (geteuid() != 0 || (gr = getgrnam(KEYS_GROUP)) == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    (rc = share(fd, 0, gr->gr_gid, 0640)) == -1) {
		fprintf(stderr, "warrenctl: could not give %s to group %s: %s\n",
		    path, KEYS_GROUP, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return rc;
}

/* Creates what is missing of the signing keys and the secrets key. */
int
keys_init(const struct conf *c)
{
	char line[256], err[512];

	if (access(c->jwt_key_file, F_OK) == 0)
		printf("%s exists: keeping it\n", c->jwt_key_file);
	else {
		new_line(line, sizeof(line));
		if (keys_write(c->jwt_key_file, line) == -1)
			return -1;
		printf("created %s\n", c->jwt_key_file);
	}
	if (access(c->secret_key_file, F_OK) == 0)
		printf("%s exists: keeping it\n", c->secret_key_file);
	else {
		if (secretbox_create(c->secret_key_file, err, sizeof(err))
		    == -1) {
			fprintf(stderr, "warrenctl: %s\n", err);
			return -1;
		}
		if (share_path(c->secret_key_file) == -1)
			return -1;
		printf("created %s\n", c->secret_key_file);
	}
	return 0;
}

int
keys_rotate(const struct conf *c)
{
	struct webtoken_keys keys;
	char text[4096], line[256], err[256], *p;
	size_t i, n;
	FILE *f;

	if (webtoken_keys_load(&keys, c->jwt_key_file, err, sizeof(err))
	    == -1) {
		fprintf(stderr, "warrenctl: %s\n", err);
		return -1;
	}
	new_line(text, sizeof(text));
	if ((f = fopen(c->jwt_key_file, "r")) == NULL)
		return -1;
	/* Keep the newest KEEP - 1 existing lines, comments dropped. */
	for (i = 0, n = strlen(text); i < KEEP - 1 &&
	    fgets(line, sizeof(line), f) != NULL;) {
		p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || *p == '\0')
			continue;
		snprintf(text + n, sizeof(text) - n, "%s", line);
		n = strlen(text);
		i++;
	}
	fclose(f);
	sodium_memzero(&keys, sizeof(keys));
	if (keys_write(c->jwt_key_file, text) == -1)
		return -1;
	sodium_memzero(text, sizeof(text));
	printf("rotated %s: reload warren-api (SIGHUP) to sign with the new "
	    "key\n", c->jwt_key_file);
	return 0;
}
