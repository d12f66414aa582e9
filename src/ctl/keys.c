/*
 * The key file holds "kid key" lines, newest first: the first signs, all
 * verify.  Rotation puts a new key in front and keeps two older ones, so
 * tokens signed before a rotation stay valid until they expire.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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

/* Writes the whole file next to the old one, then renames it in place. */
static int
write_file(const char *path, const char *text)
{
	char tmp[4096];
	size_t n = strlen(text);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))
	    == -1 || fchmod(fd, 0600) == -1 ||
	    write(fd, text, n) != (ssize_t)n || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, path) == -1) {
		fprintf(stderr, "warrenctl: could not write %s: %s\n", path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
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
		if (write_file(c->jwt_key_file, line) == -1)
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
	if (write_file(c->jwt_key_file, text) == -1)
		return -1;
	sodium_memzero(text, sizeof(text));
	printf("rotated %s: reload warren-api (SIGHUP) to sign with the new "
	    "key\n", c->jwt_key_file);
	return 0;
}
