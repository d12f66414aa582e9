/*
 * OpenID Connect providers: their files (one per provider in
 * oidc_provider_dir), and the check of an ID token (OpenID Connect Core 1.0,
 * 3.1.3.7): its signature against the provider's JSON Web Key Set (RS256,
 * ES256, by OpenSSL), then its claims.  No network here.
 */
#ifndef WARREN_OIDC_H
#define WARREN_OIDC_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "arena.h"
#include "conf.h"

#define OIDC_MAX_PROVIDERS	16

/* How the client authenticates at the token endpoint. */
enum oidc_auth {
	OIDC_AUTH_AUTO,		/* basic when the provider supports it */
	OIDC_AUTH_BASIC,	/* client_secret_basic */
	OIDC_AUTH_POST,		/* client_secret_post */
};

/* A provider that sends no email_verified claim. */
enum oidc_email {
	OIDC_EMAIL_REFUSE,	/* its e-mail is not verified: no sign-up */
	OIDC_EMAIL_TRUST,	/* its e-mail counts as verified */
	OIDC_EMAIL_SUBJECT,	/* accounts by subject only, no e-mail */
};

struct oidc_provider {
	char		 name[33];
	char		 display_name[129];
	char		 issuer[CONF_STR_MAX];
	char		 client_id[256];
	char		 client_secret[512];
	char		 scopes[256];
	enum oidc_auth	 auth;
	enum oidc_email	 email;
	bool		 allow_http;
};

/*
 * Reads every NAME.conf of dir into out (at most max), sorted by name; a
 * missing dir is no provider.  Each error is reported; -1 when any.
 */
int	oidc_load(const char *dir, struct oidc_provider *out, int max, int *n,
	    conf_error_fn, void *ctx) __attribute__((warn_unused_result));
/* May this provider's endpoint be at url (https, or http if allowed)? */
bool	oidc_url_ok(const struct oidc_provider *, const char *url);

enum oidc_result {
	OIDC_OK,
	OIDC_NO_KEY,	/* no key of the set has its kid: fetch the set again */
	OIDC_BAD,	/* refused, for the reason given */
};

/* Seconds of clock difference a token's times may show. */
#define OIDC_LEEWAY	60

enum oidc_result oidc_verify(struct arena *, const char *jwt,
	    struct json_object *jwks, const char *issuer,
	    const char *client_id, const char *nonce, int64_t now,
	    struct json_object **claims, const char **why);

#endif
