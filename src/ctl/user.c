/*
 * "warrenctl user add": creates a user directly in the database.  Without
 * --password-stdin a random one-time password is printed, to be changed
 * at the first sign-in.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "ctldb.h"
#include "password.h"
#include "user.h"

static int
read_password(char *pw, size_t len)
{
	size_t n;

	if (fgets(pw, (int)len, stdin) == NULL)
		return -1;
	n = strcspn(pw, "\r\n");
	pw[n] = '\0';
	return n >= 8 ? 0 : -1;
}

int
user_add(const struct conf *c, const char *username, const char *email,
    const char *role, bool password_stdin)
{
	char pw[1025], hash[PASSWORD_HASH_SIZE];
	const char *params[4];
	unsigned char raw[15];
	PGresult *r;
	PGconn *conn;
	int rc = -1;

	if (password_stdin) {
		if (read_password(pw, sizeof(pw)) == -1) {
			fprintf(stderr, "warrenctl: the password on standard "
			    "input must have 8 to 1024 characters\n");
			return -1;
		}
	} else {
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(pw, sizeof(pw), raw, sizeof(raw),
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	}
	if (password_hash(hash, pw) == -1) {
		fprintf(stderr, "warrenctl: out of memory hashing the "
		    "password\n");
		return -1;
	}
	if ((conn = ctl_connect(c)) == NULL)
		return -1;
	params[0] = username;
	params[1] = email;
	params[2] = hash;
	params[3] = role;
	r = PQexecParams(conn, "INSERT INTO users (username, email,"
	    " password_hash, role) VALUES ($1, lower($2), $3, $4)"
	    " RETURNING id", 4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		fprintf(stderr, "warrenctl: could not add user %s: %s\n",
		    username, state && strcmp(state, "23505") == 0 ?
		    "a user with this name or e-mail exists" :
		    state && strcmp(state, "23514") == 0 ?
		    "the name must be lower-case letters, digits, '.', '_' or '-'"
		    : PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	} else {
		printf("created %s %s (%s)\n", role, username,
		    PQgetvalue(r, 0, 0));
		if (!password_stdin)
			printf("one-time password: %s\n", pw);
		rc = 0;
	}
	PQclear(r);
	PQfinish(conn);
	sodium_memzero(pw, sizeof(pw));
	return rc;
}
