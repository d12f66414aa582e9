#include "config.h"

#include <string.h>

#include <sodium.h>

#include "log.h"
#include "password.h"

#define PASSWORD_OPSLIMIT	crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define PASSWORD_MEMLIMIT	crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE

int
password_hash(char out[PASSWORD_HASH_SIZE], const char *pw)
{
	return crypto_pwhash_argon2id_str(out, pw, strlen(pw),
	    PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) == 0 ? 0 : -1;
}

bool
password_verify(const char *hash, const char *pw)
{
	static char dummy[PASSWORD_HASH_SIZE];

	/* Made on the first call, whatever it is, so as not to set it apart. */
	if (dummy[0] == '\0' && password_hash(dummy, "warren-dummy") == -1)
		fatalx("password hashing: out of memory");
	/* Not argon2id_str_verify: argon2i hashes verify too. */
	return crypto_pwhash_str_verify(hash ? hash : dummy, pw, strlen(pw))
	    == 0 && hash != NULL;
}
