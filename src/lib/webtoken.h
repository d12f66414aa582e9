/*
 * Signed access tokens (JWT, HS256).  All libjwt calls live in webtoken.c:
 * Debian's libjwt 1.10 skips verification for an empty key, never checks
 * claims and follows the algorithm the token names, so this wrapper does
 * the checking itself and uses libjwt only to sign and verify the MAC.
 * A token that verified is remembered by the thread (by a digest of the
 * token, the claims expected and the key set), so a client's repeated
 * token costs a digest and the time checks.
 */
#ifndef WARREN_WEBTOKEN_H
#define WARREN_WEBTOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

#define WEBTOKEN_MAX_LEN	4096
#define WEBTOKEN_MIN_KEY	32
#define WEBTOKEN_MAX_KEY	128
#define WEBTOKEN_MAX_KEYS	8
#define WEBTOKEN_LEEWAY		30	/* seconds of clock skew tolerated */

struct webtoken_key {
	char		kid[33];
	unsigned char	key[WEBTOKEN_MAX_KEY];
	size_t		len;
};

/* keys[0] signs; every key verifies, so a rotation signs nobody out. */
struct webtoken_keys {
	struct webtoken_key	k[WEBTOKEN_MAX_KEYS];
	size_t			n;
};

struct webtoken_claims {
	char	sub[64];	/* user id */
	char	sid[64];	/* session (refresh family) id */
	char	jti[64];
	char	typ[16];	/* "access" */
	int64_t	iat, nbf, exp;
};

enum webtoken_result {
	WEBTOKEN_OK,
	WEBTOKEN_TOO_LONG,
	WEBTOKEN_MALFORMED,
	WEBTOKEN_BAD_ALG,
	WEBTOKEN_UNKNOWN_KEY,
	WEBTOKEN_BAD_SIGNATURE,
	WEBTOKEN_EXPIRED,
	WEBTOKEN_NOT_YET_VALID,
	WEBTOKEN_BAD_ISSUER,
	WEBTOKEN_BAD_AUDIENCE,
	WEBTOKEN_BAD_TYPE,
	WEBTOKEN_MISSING_CLAIM,
	WEBTOKEN_REVOKED,	/* issued before the user's valid-after time */
};

int	webtoken_keys_parse(struct webtoken_keys *, const char *buf,
	    size_t len, char *err, size_t errlen)
	    __attribute__((warn_unused_result));
int	webtoken_keys_load(struct webtoken_keys *, const char *path,
	    char *err, size_t errlen) __attribute__((warn_unused_result));
char	*webtoken_sign(struct arena *, const struct webtoken_keys *,
	    const char *iss, const char *aud, const struct webtoken_claims *);
enum webtoken_result webtoken_verify(struct arena *,
	    const struct webtoken_keys *, const char *token, const char *iss,
	    const char *aud, const char *typ, int64_t now,
	    struct webtoken_claims *) __attribute__((warn_unused_result));
enum webtoken_result webtoken_check_valid_after(
	    const struct webtoken_claims *, int64_t valid_after);
const char *webtoken_result_str(enum webtoken_result);

#endif
