/*
 * Password hashes: a round trip, the settings a new hash records, hashes
 * made before this module and under other settings, and strings that are
 * no hash at all.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "password.h"
#include "tap.h"

#define PW	"correct horse battery staple"

/*
 * Made by libsodium 1.0.18's crypto_pwhash_str() with its interactive
 * limits, as the API and warrenctl stored hashes before this module.
 */
#define OLD_ARGON2ID	"$argon2id$v=19$m=65536,t=2,p=1$" \
	"g58DG/xyZbNs0diSppfExw$XZL0gFosj7mSnlIvOUjgIoVN3KHwKCVr1dBK4LOds3w"
/* The same password under other settings: argon2i, and 8 KiB once. */
#define OLD_ARGON2I	"$argon2i$v=19$m=32768,t=4,p=1$lTpt8B4dkbs0teZKoa8WUA" \
	"$AlyQqbOkqWZNebC6NG/p33VfG/C/WPWAMv58pM/HVpM"
#define SMALL_ARGON2ID	"$argon2id$v=19$m=8,t=1,p=1$bs7mOSEN3TRY1NmUqvPwew" \
	"$tKCdveBgxP5Ae6mequVKpHJt7vWP4LQ03+UM/gNhHd0"

static void
test_round_trip(void)
{
	char h[PASSWORD_HASH_SIZE], h2[PASSWORD_HASH_SIZE];

	ok(password_hash(h, "s3cret-passw0rd") == 0, "hashes a password");
	ok(password_verify(h, "s3cret-passw0rd"), "its password verifies");
	ok(!password_verify(h, "s3cret-passw0rD"), "another one does not");
	ok(!password_verify(h, "s3cret-passw0r"), "nor a prefix of it");
	ok(!password_verify(h, ""), "nor the empty password");
	ok(strstr(h, "s3cret") == NULL, "the hash does not hold the password");
	ok(password_hash(h2, "s3cret-passw0rd") == 0 && strcmp(h, h2) != 0,
	    "the same password hashes differently twice (salted)");
	ok(password_hash(h, "") == 0 && password_verify(h, "") &&
	    !password_verify(h, " "), "an empty password hashes and verifies");
}

static void
test_settings(void)
{
	static const char want[] = "$argon2id$v=19$m=65536,t=2,p=1$";
	char h[PASSWORD_HASH_SIZE];

	ok(password_hash(h, PW) == 0, "hashes a password");
	ok(strncmp(h, want, strlen(want)) == 0,
	    "argon2id, 64 MiB, 2 passes: %s", h);
	is_int(strlen(h), strlen(OLD_ARGON2ID),
	    "as long as a hash made before");
}

static void
test_earlier_hashes(void)
{
	ok(password_verify(OLD_ARGON2ID, PW),
	    "a hash stored before this module verifies");
	ok(!password_verify(OLD_ARGON2ID, PW "."), "with its password only");
	ok(password_verify(OLD_ARGON2I, PW), "an argon2i hash verifies");
	ok(!password_verify(OLD_ARGON2I, "wrong"), "with its password only");
	ok(password_verify(SMALL_ARGON2ID, PW),
	    "a hash under other limits verifies: it names its own");
	ok(!password_verify(SMALL_ARGON2ID, "wrong"), "with its password only");
}

static void
test_not_a_hash(void)
{
	char cut[sizeof(OLD_ARGON2ID)], changed[sizeof(OLD_ARGON2ID)];

	ok(!password_verify("", PW), "the empty string is no hash");
	ok(!password_verify(PW, PW), "nor the password itself");
	ok(!password_verify("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi."
	    "Ss7KIUgO2t0jWMUW", PW), "nor a bcrypt hash");
	memcpy(cut, OLD_ARGON2ID, sizeof(cut));
	cut[sizeof(cut) - 5] = '\0';
	ok(!password_verify(cut, PW), "nor a cut hash");
	memcpy(changed, OLD_ARGON2ID, sizeof(changed));
	/* In the digest's middle: its last character holds padding bits. */
	changed[sizeof(changed) - 20] =
	    changed[sizeof(changed) - 20] == 'A' ? 'B' : 'A';
	ok(!password_verify(changed, PW), "nor a hash with its digest changed");
	memcpy(changed, OLD_ARGON2ID, sizeof(changed));
	memcpy(changed + 1, "argon2x", 7);
	ok(!password_verify(changed, PW), "nor one of an unknown algorithm");
}

static void
test_no_hash(void)
{
	ok(!password_verify(NULL, PW), "no hash: false");
	ok(!password_verify(NULL, "warren-dummy"),
	    "even for the password of the dummy checked instead");
}

int
main(void)
{
	if (sodium_init() < 0) {
		printf("Bail out! could not initialise libsodium\n");
		return 1;
	}
	test_round_trip();
	test_settings();
	test_earlier_hashes();
	test_not_a_hash();
	test_no_hash();
	return done_testing();
}
