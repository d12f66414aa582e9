/* Secrets at rest: libsodium secretbox under a key file of mode 0600. */
#ifndef WARREN_SECRETBOX_H
#define WARREN_SECRETBOX_H

#include <stddef.h>

#include <sodium.h>

#include "arena.h"

#define SECRETBOX_KEYBYTES	crypto_secretbox_KEYBYTES

/* The file holds the key in base64url on one line. */
int	secretbox_load(const char *path, unsigned char key[SECRETBOX_KEYBYTES],
	    char *err, size_t errlen) __attribute__((warn_unused_result));
int	secretbox_create(const char *path, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
/* Nonce and ciphertext as bytea hex literals. */
void	secretbox_seal(struct arena *, const unsigned char *key,
	    const char *plain, size_t len, char **nonce_hex, char **cipher_hex);
/* From bytea hex literals; NULL when it does not open. */
char	*secretbox_open(struct arena *, const unsigned char *key,
	    const char *nonce_hex, const char *cipher_hex, size_t *len);

#endif
