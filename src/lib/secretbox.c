#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secretbox.h"

int
secretbox_load(const char *path, unsigned char key[SECRETBOX_KEYBYTES],
    char *err, size_t errlen)
{
	char buf[256];
	struct stat st;
	size_t klen;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "could not open %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (st.st_mode & 0007) {
		close(fd);
		snprintf(err, errlen, "%s must not be readable by others "
		    "(chmod 0600 or 0640)", path);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		snprintf(err, errlen, "could not read %s", path);
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (sodium_base642bin(key, SECRETBOX_KEYBYTES, buf, strlen(buf), NULL,
	    &klen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    klen != SECRETBOX_KEYBYTES) {
		sodium_memzero(buf, sizeof(buf));
		snprintf(err, errlen, "%s does not hold a 32-byte key", path);
		return -1;
	}
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

int
secretbox_create(const char *path, char *err, size_t errlen)
{
	unsigned char key[SECRETBOX_KEYBYTES];
	char b64[64], line[80];
	size_t n;
	int fd;

	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(line, sizeof(line), "%s\n", b64);
	n = strlen(line);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600))
	    == -1 || write(fd, line, n) != (ssize_t)n || fsync(fd) == -1 ||
	    close(fd) == -1) {
		snprintf(err, errlen, "could not write %s: %s", path,
		    strerror(errno));
		sodium_memzero(key, sizeof(key));
		sodium_memzero(line, sizeof(line));
		return -1;
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(line, sizeof(line));
	return 0;
}

static char *
to_hex(struct arena *a, const unsigned char *p, size_t n)
{
	char *out = arena_alloc(a, 2 * n + 3);

	out[0] = '\\';
	out[1] = 'x';
	sodium_bin2hex(out + 2, 2 * n + 1, p, n);
	return out;
}

void
secretbox_seal(struct arena *a, const unsigned char *key, const char *plain,
    size_t len, char **nonce_hex, char **cipher_hex)
{
	unsigned char nonce[crypto_secretbox_NONCEBYTES];
	unsigned char *c = arena_alloc(a, len + crypto_secretbox_MACBYTES);

	randombytes_buf(nonce, sizeof(nonce));
	crypto_secretbox_easy(c, (const unsigned char *)plain, len, nonce, key);
	*nonce_hex = to_hex(a, nonce, sizeof(nonce));
	*cipher_hex = to_hex(a, c, len + crypto_secretbox_MACBYTES);
}

static unsigned char *
from_hex(struct arena *a, const char *hex, size_t *len)
{
	size_t n;
	unsigned char *out;

	if (strncmp(hex, "\\x", 2) != 0)
		return NULL;
	n = strlen(hex + 2) / 2;
	out = arena_alloc(a, n + 1);
	if (sodium_hex2bin(out, n, hex + 2, strlen(hex + 2), NULL, len, NULL)
	    != 0)
		return NULL;
	return out;
}

char *
secretbox_open(struct arena *a, const unsigned char *key,
    const char *nonce_hex, const char *cipher_hex, size_t *len)
{
	unsigned char *nonce, *c;
	size_t nlen, clen;
	char *plain;

	if ((nonce = from_hex(a, nonce_hex, &nlen)) == NULL ||
	    nlen != crypto_secretbox_NONCEBYTES ||
	    (c = from_hex(a, cipher_hex, &clen)) == NULL ||
	    clen < crypto_secretbox_MACBYTES)
		return NULL;
	plain = arena_alloc(a, clen - crypto_secretbox_MACBYTES + 1);
	if (crypto_secretbox_open_easy((unsigned char *)plain, c, clen, nonce,
	    key) != 0)
		return NULL;
	*len = clen - crypto_secretbox_MACBYTES;
	plain[*len] = '\0';
	return plain;
}
