/* Every forgery the JWT wrapper must refuse, built by hand with libsodium. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "arena.h"
#include "tap.h"
#include "webtoken.h"

#define ISS	"https://warren.example"
#define AUD	"warren-api"
#define NOW	1800000000LL

static struct arena *a;
static struct webtoken_keys keys;
static const char keyline[] =
    "k1 MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\n";

static char *
b64(const void *p, size_t n)
{
	size_t max = sodium_base64_ENCODED_LEN(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = arena_alloc(a, max);

	sodium_bin2base64(out, max, p, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* mac: 256, 512, or 0 for an empty signature */
static char *
forge(const char *header, const char *payload, int mac)
{
	unsigned char sig[64];
	char *input;
	size_t siglen = 0;

	input = arena_printf(a, "%s.%s", b64(header, strlen(header)),
	    b64(payload, strlen(payload)));
	if (mac == 256) {
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, keys.k[0].key, keys.k[0].len);
		crypto_auth_hmacsha256_update(&st, (unsigned char *)input,
		    strlen(input));
		crypto_auth_hmacsha256_final(&st, sig);
		siglen = 32;
	} else if (mac == 512) {
		crypto_auth_hmacsha512_state st;
		crypto_auth_hmacsha512_init(&st, keys.k[0].key, keys.k[0].len);
		crypto_auth_hmacsha512_update(&st, (unsigned char *)input,
		    strlen(input));
		crypto_auth_hmacsha512_final(&st, sig);
		siglen = 64;
	}
	return arena_printf(a, "%s.%s", input, siglen ? b64(sig, siglen) : "");
}

static char *
claims(const char *iss, const char *aud, const char *typ, long long iat,
    long long nbf, long long exp)
{
	return arena_printf(a, "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"u1\","
	    "\"sid\":\"s1\",\"jti\":\"j1\",\"typ\":\"%s\",\"iat\":%lld,"
	    "\"nbf\":%lld,\"exp\":%lld}", iss, aud, typ, iat, nbf, exp);
}

static enum webtoken_result
verify(const char *tok)
{
	struct webtoken_claims c;

	return webtoken_verify(a, &keys, tok, ISS, AUD, "access", NOW, &c);
}

#define GOOD	claims(ISS, AUD, "access", NOW - 10, NOW - 10, NOW + 600)
#define HS256	"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"

int
main(void)
{
	struct webtoken_claims c = { "u1", "s1", "j1", "access", NOW - 10,
	    NOW - 10, NOW + 600 }, got;
	char err[128], *tok, *alt;
	const char *none[] = { "none", "None", "NONE", "nOnE" };
	size_t i;

	if (sodium_init() < 0)
		return 1;
	a = arena_new(4096);
	ok(webtoken_keys_parse(&keys, keyline, strlen(keyline), err,
	    sizeof(err)) == 0, "a 32-byte key loads");
	ok(webtoken_keys_parse(&keys, "k1 c2hvcnQ\n", 11, err, sizeof(err))
	    == -1 && strstr(err, "at least 32") != NULL,
	    "a key shorter than 32 bytes is refused (%s)", err);
	ok(webtoken_keys_parse(&keys, "# empty\n", 8, err, sizeof(err)) == -1,
	    "a file with no key is refused");
	ok(webtoken_keys_parse(&keys, keyline, strlen(keyline), err,
	    sizeof(err)) == 0, "reload the good key");

	tok = webtoken_sign(a, &keys, ISS, AUD, &c);
	is_int(webtoken_verify(a, &keys, tok, ISS, AUD, "access", NOW, &got),
	    WEBTOKEN_OK, "a token we signed verifies");
	is_str(got.sub, "u1", "subject comes back");
	is_str(got.sid, "s1", "session id comes back");
	is_int(verify(forge(HS256, GOOD, 256)), WEBTOKEN_OK,
	    "a hand-made HS256 token with the right key verifies");

	for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		char *h = arena_printf(a, "{\"alg\":\"%s\",\"kid\":\"k1\"}",
		    none[i]);
		is_int(verify(forge(h, GOOD, 0)), WEBTOKEN_BAD_ALG,
		    "alg %s without signature is refused", none[i]);
		is_int(verify(forge(h, GOOD, 256)), WEBTOKEN_BAD_ALG,
		    "alg %s with a signature is refused", none[i]);
	}
	is_int(verify(forge("{\"alg\":\"HS512\",\"kid\":\"k1\"}", GOOD, 512)),
	    WEBTOKEN_BAD_ALG, "HS512 with the HS256 key is refused");
	is_int(verify(forge("{\"alg\":\"RS256\",\"kid\":\"k1\"}", GOOD, 256)),
	    WEBTOKEN_BAD_ALG, "RS256 header MACed with the key is refused");
	is_int(verify(forge("{\"kid\":\"k1\"}", GOOD, 256)), WEBTOKEN_BAD_ALG,
	    "a header without alg is refused");
	is_int(verify(forge(HS256, GOOD, 0)), WEBTOKEN_BAD_SIGNATURE,
	    "an empty signature is refused");

	alt = arena_strdup(a, forge(HS256, GOOD, 256));
	{
		char *dot = strchr(alt, '.') + 1, *dot2 = strchr(dot, '.');
		char *evil = b64(claims(ISS, AUD, "access", NOW - 10, NOW - 10,
		    NOW + 99999), strlen(claims(ISS, AUD, "access", NOW - 10,
		    NOW - 10, NOW + 99999)));
		tok = arena_printf(a, "%.*s%s%s", (int)(dot - alt), alt, evil,
		    dot2);
	}
	is_int(verify(tok), WEBTOKEN_BAD_SIGNATURE,
	    "an altered payload is refused");
	tok = arena_strdup(a, forge(HS256, GOOD, 256));
	tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
	is_int(verify(tok), WEBTOKEN_BAD_SIGNATURE,
	    "an altered signature is refused");

	is_int(verify(forge(HS256, claims(ISS, AUD, "access", NOW - 7200,
	    NOW - 7200, NOW - 3600), 256)), WEBTOKEN_EXPIRED,
	    "an expired token is refused");
	is_int(verify(forge(HS256, claims(ISS, AUD, "access", NOW + 3600,
	    NOW + 3600, NOW + 7200), 256)), WEBTOKEN_NOT_YET_VALID,
	    "a token not yet valid is refused");
	is_int(verify(forge(HS256, claims(ISS, "other-api", "access", NOW,
	    NOW, NOW + 60), 256)), WEBTOKEN_BAD_AUDIENCE,
	    "a wrong audience is refused");
	is_int(verify(forge(HS256, claims("https://evil.example", AUD,
	    "access", NOW, NOW, NOW + 60), 256)), WEBTOKEN_BAD_ISSUER,
	    "a wrong issuer is refused");
	is_int(verify(forge(HS256, claims(ISS, AUD, "refresh", NOW, NOW,
	    NOW + 60), 256)), WEBTOKEN_BAD_TYPE,
	    "a refresh token used as an access token is refused");
	is_int(verify(forge(HS256, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}",
	    256)), WEBTOKEN_MISSING_CLAIM, "missing claims are refused");
	is_int(verify(forge(HS256, arena_printf(a, "{\"iss\":\"%s\",\"aud\":"
	    "\"%s\",\"sub\":\"u1\",\"sid\":\"s1\",\"jti\":\"j1\",\"typ\":"
	    "\"access\",\"iat\":\"%lld\",\"nbf\":%lld,\"exp\":%lld}", ISS, AUD,
	    NOW, NOW, NOW + 60), 256)), WEBTOKEN_MISSING_CLAIM,
	    "a time claim given as a string is refused");
	is_int(verify(forge("{\"alg\":\"HS256\",\"kid\":\"k9\"}", GOOD, 256)),
	    WEBTOKEN_UNKNOWN_KEY, "an unknown key id is refused");
	is_int(verify("abc"), WEBTOKEN_MALFORMED, "garbage is refused");
	is_int(verify("a.b.c.d"), WEBTOKEN_MALFORMED, "four parts refused");
	is_int(verify("e30.e30.e30 "), WEBTOKEN_MALFORMED,
	    "characters outside base64url refused");
	{
		char big[WEBTOKEN_MAX_LEN + 2];
		memset(big, 'A', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		is_int(verify(big), WEBTOKEN_TOO_LONG,
		    "a token over 4 KiB is refused before decoding");
	}
	ok(webtoken_verify(a, &keys, webtoken_sign(a, &keys, ISS, AUD, &c),
	    ISS, AUD, "access", NOW, &got) == WEBTOKEN_OK &&
	    webtoken_check_valid_after(&got, NOW) == WEBTOKEN_REVOKED,
	    "a token issued before the user's valid-after time is refused");
	ok(webtoken_check_valid_after(&got, NOW - 3600) == WEBTOKEN_OK,
	    "a token issued after valid-after passes");

	/* Rotation: a new key signs, the old one still verifies. */
	{
		static const char two[] =
		    "k2 ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA\n"
		    "k1 MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\n";
		char *old = webtoken_sign(a, &keys, ISS, AUD, &c);
		ok(webtoken_keys_parse(&keys, two, strlen(two), err,
		    sizeof(err)) == 0, "two keys load");
		is_int(verify(old), WEBTOKEN_OK,
		    "a token signed with the previous key still verifies");
		tok = webtoken_sign(a, &keys, ISS, AUD, &c);
		is_int(verify(tok), WEBTOKEN_OK, "the new key signs");
		ok(strstr(arena_printf(a, "%s", tok), ".") != NULL,
		    "token has parts");

		/* A token verified once is remembered, never beyond what a
		 * full check would allow. */
		is_int(verify(tok), WEBTOKEN_OK, "a token verifies again");
		is_int(webtoken_verify(a, &keys, tok, ISS, AUD, "access",
		    NOW + 3600, &got), WEBTOKEN_EXPIRED,
		    "a remembered token still expires");
		is_int(webtoken_verify(a, &keys, tok, ISS, AUD, "access",
		    NOW - 3600, &got), WEBTOKEN_NOT_YET_VALID,
		    "a remembered token is still not valid before its time");
		is_int(webtoken_verify(a, &keys, tok, ISS, "other", "access",
		    NOW, &got), WEBTOKEN_BAD_AUDIENCE,
		    "a remembered token is refused for another audience");
		is_int(webtoken_verify(a, &keys, tok, ISS, AUD, "refresh",
		    NOW, &got), WEBTOKEN_BAD_TYPE,
		    "a remembered token is refused as another type");
		ok(webtoken_verify(a, &keys, tok, ISS, AUD, "access", NOW,
		    &got) == WEBTOKEN_OK && strcmp(got.sub, "u1") == 0 &&
		    strcmp(got.sid, "s1") == 0 && got.exp == NOW + 600,
		    "a remembered token gives its claims");
		/* The signing key retired: its tokens stop verifying at once. */
		ok(webtoken_keys_parse(&keys, keyline, strlen(keyline), err,
		    sizeof(err)) == 0, "the set without k2 loads");
		is_int(verify(tok), WEBTOKEN_UNKNOWN_KEY,
		    "a remembered token of a removed key is refused");
		/* Same kid, other key material: the MAC decides again. */
		ok(webtoken_keys_parse(&keys, "k2 "
		    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\n", 47, err,
		    sizeof(err)) == 0, "k2 with other material loads");
		is_int(verify(tok), WEBTOKEN_BAD_SIGNATURE,
		    "a remembered token fails against a replaced key");
	}
	arena_free(a);
	return done_testing();
}
