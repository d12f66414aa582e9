/*
 * The JWT wrapper.  Arbitrary bytes as a token must never verify, and
 * must be refused without a crash; a token we signed, with any one byte
 * changed, must be refused too (unless the change is in no part at all).
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "webtoken.h"

#define ISS	"https://warren.example"
#define AUD	"warren"
#define NOW	1800000000LL

static struct arena *A;
static struct webtoken_keys K;
static char *signed_token;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char key[] =
	    "k1 MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\n";
	struct webtoken_claims c = { "u1", "s1", "j1", "access", NOW, NOW,
	    NOW + 600 };
	char err[128];

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 ||
	    webtoken_keys_parse(&K, key, strlen(key), err, sizeof(err)) != 0)
		abort();
	A = arena_new(64 * 1024);
	signed_token = strdup(webtoken_sign(A, &K, ISS, AUD, &c));
	arena_reset(A);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webtoken_claims c;
	enum webtoken_result r;
	char *tok;
	size_t n;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		/* Flip bytes of a good token at positions the input picks. */
		tok = arena_strdup(A, signed_token);
		n = strlen(tok);
		for (size_t i = 1; i + 1 < size; i += 2)
			tok[data[i] % n] ^= (char)(data[i + 1] | 1);
		r = webtoken_verify(A, &K, tok, ISS, AUD, "access", NOW, &c);
		CHECK(r != WEBTOKEN_OK || strcmp(tok, signed_token) == 0);
	} else {
		tok = arena_strndup(A, (const char *)data + 1, size - 1);
		r = webtoken_verify(A, &K, tok, ISS, AUD, "access", NOW, &c);
		CHECK(r != WEBTOKEN_OK || strcmp(tok, signed_token) == 0);
	}
	CHECK(webtoken_result_str(r) != NULL);
	arena_reset(A);
	return 0;
}
