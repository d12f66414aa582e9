#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jwt.h>
#include <sodium.h>

#include "json.h"
#include "log.h"
#include "webtoken.h"

static int
b64url_decode(struct arena *a, const char *s, size_t len, char **out,
    size_t *outlen)
{
	size_t max = len * 3 / 4 + 3;
	char *buf = arena_alloc(a, max + 1);

	if (sodium_base642bin((unsigned char *)buf, max, s, len, NULL, outlen,
	    NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return -1;
	buf[*outlen] = '\0';
	*out = buf;
	return 0;
}

/* "kid key" lines; the key is base64url, at least 32 bytes decoded. */
int
webtoken_keys_parse(struct webtoken_keys *keys, const char *buf, size_t len,
    char *err, size_t errlen)
{
	char line[512], kid[64], b64[400];
	size_t i = 0, n, lineno = 0, klen;
	struct webtoken_key *k;

	memset(keys, 0, sizeof(*keys));
	while (i < len) {
		lineno++;
		for (n = 0; i + n < len && buf[i + n] != '\n'; n++)
			;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "line %zu: too long", lineno);
			return -1;
		}
		memcpy(line, buf + i, n);
		line[n] = '\0';
		i += n + 1;
		if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0')
			continue;
		if (sscanf(line, "%63s %399s", kid, b64) != 2 ||
		    strlen(kid) > 32) {
			snprintf(err, errlen, "line %zu: expected \"kid key\"",
			    lineno);
			return -1;
		}
		if (keys->n == WEBTOKEN_MAX_KEYS) {
			snprintf(err, errlen, "more than %d keys",
			    WEBTOKEN_MAX_KEYS);
			return -1;
		}
		k = &keys->k[keys->n];
		if (sodium_base642bin(k->key, sizeof(k->key), b64, strlen(b64),
		    NULL, &klen, NULL,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
			snprintf(err, errlen, "line %zu: key is not base64url",
			    lineno);
			return -1;
		}
		if (klen < WEBTOKEN_MIN_KEY) {
			snprintf(err, errlen, "line %zu: key is %zu bytes, at "
			    "least %d are needed", lineno, klen,
			    WEBTOKEN_MIN_KEY);
			return -1;
		}
		k->len = klen;
		memcpy(k->kid, kid, strlen(kid) + 1);	/* at most 32 + 1 */
		keys->n++;
	}
	if (keys->n == 0) {
		snprintf(err, errlen, "no key");
		return -1;
	}
	return 0;
}

int
webtoken_keys_load(struct webtoken_keys *keys, const char *path, char *err,
    size_t errlen)
{
	char buf[8192];
	ssize_t n;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "could not open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || (size_t)n == sizeof(buf)) {
		snprintf(err, errlen, "could not read %s", path);
		return -1;
	}
	rc = webtoken_keys_parse(keys, buf, (size_t)n, err, errlen);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

static void
free_jwt(void *p)
{
	jwt_free(p);
}

char *
webtoken_sign(struct arena *a, const struct webtoken_keys *keys,
    const char *iss, const char *aud, const struct webtoken_claims *c)
{
	const struct webtoken_key *k = &keys->k[0];
	char *s, *out;
	jwt_t *jwt;

	if (keys->n == 0 || k->len < WEBTOKEN_MIN_KEY)
		fatalx("webtoken: no signing key");
	if (jwt_new(&jwt) != 0)
		fatalx("webtoken: out of memory");
	arena_defer(a, free_jwt, jwt);
	if (jwt_set_alg(jwt, JWT_ALG_HS256, k->key, (int)k->len) != 0 ||
	    jwt_add_header(jwt, "kid", k->kid) != 0 ||
	    jwt_add_grant(jwt, "iss", iss) != 0 ||
	    jwt_add_grant(jwt, "aud", aud) != 0 ||
	    jwt_add_grant(jwt, "sub", c->sub) != 0 ||
	    jwt_add_grant(jwt, "sid", c->sid) != 0 ||
	    jwt_add_grant(jwt, "jti", c->jti) != 0 ||
	    jwt_add_grant(jwt, "typ", c->typ) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)c->iat) != 0 ||
	    jwt_add_grant_int(jwt, "nbf", (long)c->nbf) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)c->exp) != 0)
		fatalx("webtoken: could not build a token");
	if ((s = jwt_encode_str(jwt)) == NULL)
		fatalx("webtoken: could not sign a token");
	out = arena_strdup(a, s);
	free(s);
	return out;
}

static const struct webtoken_key *
find_key(const struct webtoken_keys *keys, const char *kid)
{
	size_t i;

	for (i = 0; i < keys->n; i++)
		if (strcmp(keys->k[i].kid, kid) == 0)
			return &keys->k[i];
	return NULL;
}

static int
get_str(struct json_object *o, const char *name, char *out, size_t outlen)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (strlen(s) == 0 || strlen(s) >= outlen)
		return -1;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int
get_time(struct json_object *o, const char *name, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 0;
}

/* Decodes one dot-separated part into a JSON object. */
static struct json_object *
part_json(struct arena *a, const char *s, size_t len)
{
	struct json_object *o;
	size_t n;
	char *raw;

	if (len == 0 || b64url_decode(a, s, len, &raw, &n) == -1 ||
	    json_parse(a, raw, n, &o) != JSON_OK ||
	    !json_object_is_type(o, json_type_object))
		return NULL;
	return o;
}

static enum webtoken_result
check_times(const struct webtoken_claims *c, int64_t now)
{
	if (now >= c->exp + WEBTOKEN_LEEWAY)
		return WEBTOKEN_EXPIRED;
	if (now + WEBTOKEN_LEEWAY < c->nbf || now + WEBTOKEN_LEEWAY < c->iat)
		return WEBTOKEN_NOT_YET_VALID;
	return WEBTOKEN_OK;
}

static enum webtoken_result
check_claims(struct json_object *p, const char *iss, const char *aud,
    const char *typ, int64_t now, struct webtoken_claims *c)
{
	char tiss[512], taud[128];

	if (get_str(p, "iss", tiss, sizeof(tiss)) == -1 ||
	    get_str(p, "aud", taud, sizeof(taud)) == -1 ||
	    get_str(p, "sub", c->sub, sizeof(c->sub)) == -1 ||
	    get_str(p, "sid", c->sid, sizeof(c->sid)) == -1 ||
	    get_str(p, "jti", c->jti, sizeof(c->jti)) == -1 ||
	    get_str(p, "typ", c->typ, sizeof(c->typ)) == -1 ||
	    get_time(p, "iat", &c->iat) == -1 ||
	    get_time(p, "nbf", &c->nbf) == -1 ||
	    get_time(p, "exp", &c->exp) == -1)
		return WEBTOKEN_MISSING_CLAIM;
	if (strcmp(tiss, iss) != 0)
		return WEBTOKEN_BAD_ISSUER;
	if (strcmp(taud, aud) != 0)
		return WEBTOKEN_BAD_AUDIENCE;
	if (strcmp(c->typ, typ) != 0)
		return WEBTOKEN_BAD_TYPE;
	return check_times(c, now);
}

/*
 * Tokens that verified in this process, by a digest of the token, the
 * claims expected of it and every key of the set: a client sends the same
 * access token with each request for its lifetime, so the MAC and both
 * JSON parts are checked once, not per request.  The times are checked on
 * every use; a key removed from the set changes the digest.
 */
#define SEEN_SLOTS	256

struct seen {
	unsigned char		digest[crypto_generichash_BYTES];
	struct webtoken_claims	claims;
	bool			used;
};

static _Thread_local struct seen seen[SEEN_SLOTS];

static void
seen_digest(const struct webtoken_keys *keys, const char *token,
    const char *iss, const char *aud, const char *typ, unsigned char *out)
{
	crypto_generichash_state st;
	size_t i;

	crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)token,
	    strlen(token) + 1);
	crypto_generichash_update(&st, (const unsigned char *)iss,
	    strlen(iss) + 1);
	crypto_generichash_update(&st, (const unsigned char *)aud,
	    strlen(aud) + 1);
	crypto_generichash_update(&st, (const unsigned char *)typ,
	    strlen(typ) + 1);
	for (i = 0; i < keys->n; i++) {
		unsigned char len = (unsigned char)keys->k[i].len;

		crypto_generichash_update(&st,
		    (const unsigned char *)keys->k[i].kid,
		    strlen(keys->k[i].kid) + 1);
		crypto_generichash_update(&st, &len, 1);
		crypto_generichash_update(&st, keys->k[i].key, keys->k[i].len);
	}
	crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

enum webtoken_result
webtoken_verify(struct arena *a, const struct webtoken_keys *keys,
    const char *token, const char *iss, const char *aud, const char *typ,
    int64_t now, struct webtoken_claims *c)
{
	const struct webtoken_key *k;
	struct json_object *h, *p;
	const char *d1, *d2;
	char alg[16], kid[33], htyp[16];
	unsigned char digest[crypto_generichash_BYTES];
	enum webtoken_result r;
	struct seen *slot;
	size_t len;
	jwt_t *jwt;

	memset(c, 0, sizeof(*c));
	if ((len = strlen(token)) > WEBTOKEN_MAX_LEN)
		return WEBTOKEN_TOO_LONG;
	seen_digest(keys, token, iss, aud, typ, digest);
	slot = &seen[digest[0] % SEEN_SLOTS];
	if (slot->used && memcmp(slot->digest, digest, sizeof(digest)) == 0) {
		*c = slot->claims;
		return check_times(c, now);
	}
	if (strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.") != len ||
	    (d1 = strchr(token, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL)
		return WEBTOKEN_MALFORMED;
	if ((h = part_json(a, token, (size_t)(d1 - token))) == NULL ||
	    (p = part_json(a, d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		return WEBTOKEN_MALFORMED;
	/* The algorithm is ours to choose, never the token's. */
	if (get_str(h, "alg", alg, sizeof(alg)) == -1 ||
	    strcmp(alg, "HS256") != 0)
		return WEBTOKEN_BAD_ALG;
	if (get_str(h, "typ", htyp, sizeof(htyp)) == 0 &&
	    strcmp(htyp, "JWT") != 0)
		return WEBTOKEN_MALFORMED;
	if (get_str(h, "kid", kid, sizeof(kid)) == -1 ||
	    (k = find_key(keys, kid)) == NULL)
		return WEBTOKEN_UNKNOWN_KEY;
	if (d2[1] == '\0')
		return WEBTOKEN_BAD_SIGNATURE;
	if (k->len < WEBTOKEN_MIN_KEY)
		fatalx("webtoken: verification key too short");
	if (jwt_decode(&jwt, token, k->key, (int)k->len) != 0)
		return WEBTOKEN_BAD_SIGNATURE;
	arena_defer(a, free_jwt, jwt);
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		return WEBTOKEN_BAD_ALG;
	if ((r = check_claims(p, iss, aud, typ, now, c)) == WEBTOKEN_OK) {
		memcpy(slot->digest, digest, sizeof(digest));
		slot->claims = *c;
		slot->used = true;
	}
	return r;
}

enum webtoken_result
webtoken_check_valid_after(const struct webtoken_claims *c,
    int64_t valid_after)
{
	return c->iat < valid_after ? WEBTOKEN_REVOKED : WEBTOKEN_OK;
}

const char *
webtoken_result_str(enum webtoken_result r)
{
	static const char *const names[] = {
		"ok", "token too long", "malformed token",
		"algorithm not allowed", "unknown key", "bad signature",
		"token expired", "token not yet valid", "wrong issuer",
		"wrong audience", "wrong token type", "missing claim",
		"token revoked",
	};

	return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}
