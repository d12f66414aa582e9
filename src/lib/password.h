/*
 * Password hashes, one set of settings for the API and warrenctl: argon2id
 * with libsodium's interactive limits (2 passes over 64 MiB).  A hash
 * string names its own algorithm and limits, so hashes made under other
 * settings still verify.
 */
#ifndef WARREN_PASSWORD_H
#define WARREN_PASSWORD_H

#include <stdbool.h>

#include <sodium.h>

/* A hash string with its terminating NUL fits in this. */
#define PASSWORD_HASH_SIZE	crypto_pwhash_STRBYTES

/* 0, or -1 when the memory the hash needs cannot be had. */
int	password_hash(char out[PASSWORD_HASH_SIZE], const char *pw)
	    __attribute__((warn_unused_result));
/*
 * Whether pw matches hash.  Without a hash (unknown user, account without
 * a password) a dummy one is checked and false returned, so that the time
 * taken does not tell which accounts exist.  The dummy is made on first
 * use and kept: call from one thread.
 */
bool	password_verify(const char *hash, const char *pw);

#endif
