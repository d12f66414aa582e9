/*
 * ID token checks (src/api/oidc.c): keys made here with OpenSSL (RSA 2048
 * and EC P-256), published as a JWKS, tokens signed with them, and every
 * way a token can be wrong: its algorithm ("none", HS256, another key),
 * its signature, and each claim OpenID Connect Core 3.1.3.7 names.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "json.h"
#include "oidc.h"
#include "tap.h"

#define ISS	"https://idp.example"
#define AUD	"warren-client"
#define NONCE	"n-0S6_WzA2Mj"

static struct arena *A;
static int64_t NOW;

static char *
b64(const unsigned char *p, size_t n)
{
	size_t len = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = arena_alloc(A, len);

	return sodium_bin2base64(out, len, p, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static char *
b64s(const char *s)
{
	return b64((const unsigned char *)s, strlen(s));
}

static char *
bn64(EVP_PKEY *k, const char *param, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[512];
	int n;

	if (!EVP_PKEY_get_bn_param(k, param, &bn))
		return NULL;
	n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	return b64(buf, (size_t)n);
}

/* The public JWK of a key. */
static char *
jwk(EVP_PKEY *k, const char *kid, bool rsa)
{
	if (rsa)
		return arena_printf(A, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":"
		    "\"sig\",\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}", kid,
		    bn64(k, OSSL_PKEY_PARAM_RSA_N, 0),
		    bn64(k, OSSL_PKEY_PARAM_RSA_E, 0));
	return arena_printf(A, "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":"
	    "\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", kid,
	    bn64(k, OSSL_PKEY_PARAM_EC_PUB_X, 32),
	    bn64(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
}

static char *
sign(EVP_PKEY *k, bool rsa, const char *header, const char *payload)
{
	char *input = arena_printf(A, "%s.%s", b64s(header), b64s(payload));
	unsigned char sig[512], raw[64];
	size_t n = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const unsigned char *p = sig;
	ECDSA_SIG *es;

	EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k);
	EVP_DigestSign(md, sig, &n, (const unsigned char *)input,
	    strlen(input));
	EVP_MD_CTX_free(md);
	if (rsa)
		return arena_printf(A, "%s.%s", input, b64(sig, n));
	/* JWS wants r || s, OpenSSL gives DER. */
	es = d2i_ECDSA_SIG(NULL, &p, (long)n);
	BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
	ECDSA_SIG_free(es);
	return arena_printf(A, "%s.%s", input, b64(raw, 64));
}

static char *
claims(const char *extra)
{
	return arena_printf(A, "{\"iss\":\"" ISS "\",\"sub\":\"248289761001\","
	    "\"aud\":\"" AUD "\",\"nonce\":\"" NONCE "\",\"exp\":%lld,"
	    "\"iat\":%lld,\"email\":\"j@example.com\"%s}", (long long)NOW + 300,
	    (long long)NOW, extra);
}

static enum oidc_result
check(const char *jwt, struct json_object *set, const char **why)
{
	struct json_object *c;

	*why = "";
	return oidc_verify(A, jwt, set, ISS, AUD, NONCE, NOW, &c, why);
}

static void
refused(const char *jwt, struct json_object *set, const char *want,
    const char *what)
{
	const char *why;
	enum oidc_result r = check(jwt, set, &why);

	ok(r == OIDC_BAD && strstr(why, want) != NULL, "%s: %s", what, why);
}

int
main(void)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
	EVP_PKEY *other = EVP_RSA_gen(2048), *small = EVP_RSA_gen(1024);
	struct json_object *set, *empty, *c;
	const char *why, *rh = "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"JWT\"}";
	const char *eh = "{\"alg\":\"ES256\",\"kid\":\"e1\"}";
	char *good;

	A = arena_new(65536);
	NOW = (int64_t)time(NULL);
	if (sodium_init() < 0 || rsa == NULL || ec == NULL || other == NULL)
		return 1;
	{
		const char *text = arena_printf(A, "{\"keys\":[%s,%s,%s]}",
		    jwk(rsa, "r1", true), jwk(ec, "e1", false),
		    jwk(small, "s1", true));
		ok(json_parse(A, text, strlen(text), &set) == JSON_OK,
		    "the key set parses");
	}
	ok(json_parse(A, "{\"keys\":[]}", 11, &empty) == JSON_OK,
	    "an empty key set parses");

	good = sign(rsa, true, rh, claims(""));
	ok(oidc_verify(A, good, set, ISS, AUD, NONCE, NOW, &c, &why) == OIDC_OK,
	    "an RS256 token of the provider's key passes");
	ok(c != NULL && strcmp(json_object_get_string(json_object_object_get(c,
	    "sub")), "248289761001") == 0, "its claims come back");
	ok(check(sign(ec, false, eh, claims("")), set, &why) == OIDC_OK,
	    "an ES256 token passes: %s", why);
	ok(check(sign(rsa, true, "{\"alg\":\"RS256\"}", claims("")), set,
	    &why) == OIDC_OK, "without a kid, the key that verifies: %s", why);

	/* The algorithm and the key. */
	refused(arena_printf(A, "%s.%s.", b64s("{\"alg\":\"none\"}"),
	    b64s(claims(""))), set, "not signed with RS256 or ES256",
	    "alg none");
	refused(arena_printf(A, "%s.%s.%s", b64s("{\"alg\":\"HS256\",\"kid\":"
	    "\"r1\"}"), b64s(claims("")), b64s("x")), set,
	    "not signed with RS256 or ES256", "HS256 with the public key");
	refused(sign(other, true, rh, claims("")), set,
	    "signature does not verify", "another key with the same kid");
	ok(check(sign(other, true, "{\"alg\":\"RS256\",\"kid\":\"r9\"}",
	    claims("")), set, &why) == OIDC_NO_KEY,
	    "an unknown kid asks for the key set again");
	ok(check(good, empty, &why) == OIDC_NO_KEY, "no keys at all: again");
	ok(check(good, NULL, &why) == OIDC_NO_KEY, "no key set: again");
	refused(sign(small, true, "{\"alg\":\"RS256\",\"kid\":\"s1\"}",
	    claims("")), set, "signature does not verify", "a 1024-bit key");
	ok(check(sign(ec, false, "{\"alg\":\"ES256\",\"kid\":\"r1\"}",
	    claims("")), set, &why) == OIDC_NO_KEY,
	    "ES256 naming an RSA key: no such EC key");
	{
		/* The payload changed after signing. */
		char *t = arena_strdup(A, good), *d1 = strchr(t, '.');
		char *forged = arena_printf(A, "%.*s.%s%s", (int)(d1 - t), t,
		    b64s(claims(",\"email_verified\":true")), strchr(d1 + 1,
		    '.'));
		refused(forged, set, "signature does not verify",
		    "a payload changed after signing");
	}
	refused(arena_printf(A, "%s.", good), set, "no usable ID token",
	    "four parts");
	refused("not-a-jwt", set, "no usable ID token", "not a JWT");
	refused(sign(rsa, true, "{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":"
	    "[\"x\"]}", claims("")), set, "critical", "a crit header");

	/* The claims. */
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"https://evil"
	    "\",\"sub\":\"1\",\"aud\":\"" AUD "\",\"nonce\":\"" NONCE "\","
	    "\"exp\":%lld,\"iat\":%lld}", (long long)NOW + 300,
	    (long long)NOW)), set, "another issuer", "wrong iss");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":\"someone-else\",\"nonce\":\"" NONCE "\","
	    "\"exp\":%lld,\"iat\":%lld}", (long long)NOW + 300,
	    (long long)NOW)), set, "another audience", "wrong aud");
	ok(check(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":[\"" AUD "\"],\"nonce\":\"" NONCE "\","
	    "\"exp\":%lld,\"iat\":%lld}", (long long)NOW + 300,
	    (long long)NOW)), set, &why) == OIDC_OK, "aud as an array of one");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":[\"" AUD "\",\"api\"],\"nonce\":\"" NONCE
	    "\",\"exp\":%lld,\"iat\":%lld}", (long long)NOW + 300,
	    (long long)NOW)), set, "another audience",
	    "several audiences without azp");
	ok(check(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":[\"" AUD "\",\"api\"],\"azp\":\"" AUD "\","
	    "\"nonce\":\"" NONCE "\",\"exp\":%lld,\"iat\":%lld}",
	    (long long)NOW + 300, (long long)NOW)), set, &why) == OIDC_OK,
	    "several audiences, azp ours");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":\"" AUD "\",\"azp\":\"other\",\"nonce\":\""
	    NONCE "\",\"exp\":%lld,\"iat\":%lld}", (long long)NOW + 300,
	    (long long)NOW)), set, "another audience", "azp another client");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":\"" AUD "\",\"nonce\":\"" NONCE "\","
	    "\"exp\":%lld,\"iat\":%lld}", (long long)NOW - 120,
	    (long long)NOW - 400)), set, "expired", "exp passed");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":\"" AUD "\",\"nonce\":\"" NONCE "\","
	    "\"iat\":%lld}", (long long)NOW)), set, "expired", "no exp");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":\"" AUD "\",\"nonce\":\"" NONCE "\","
	    "\"exp\":%lld,\"iat\":%lld}", (long long)NOW + 9000,
	    (long long)NOW + 3600)), set, "another time", "iat in the future");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":\"" AUD "\",\"nonce\":\"" NONCE "\","
	    "\"exp\":%lld}", (long long)NOW + 300)), set, "another time",
	    "no iat");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":\"" AUD "\",\"nonce\":\"other\","
	    "\"exp\":%lld,\"iat\":%lld}", (long long)NOW + 300,
	    (long long)NOW)), set, "another sign-in", "wrong nonce");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"sub\":\"1\",\"aud\":\"" AUD "\",\"exp\":%lld,\"iat\":%lld}",
	    (long long)NOW + 300, (long long)NOW)), set, "another sign-in",
	    "no nonce");
	refused(sign(rsa, true, rh, arena_printf(A, "{\"iss\":\"" ISS "\","
	    "\"aud\":\"" AUD "\",\"nonce\":\"" NONCE "\",\"exp\":%lld,"
	    "\"iat\":%lld}", (long long)NOW + 300, (long long)NOW)), set,
	    "without subject", "no sub");

	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(other);
	EVP_PKEY_free(small);
	arena_free(A);
	return done_testing();
}
