/* Who is calling: sessions, access tokens, API tokens, cookies and CSRF. */
#ifndef WARREN_AUTH_H
#define WARREN_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"

enum auth_result {
	AUTH_OK,
	AUTH_ANONYMOUS,		/* no credentials at all */
	AUTH_INVALID,		/* credentials that do not hold: 401 */
	AUTH_UNAVAILABLE,	/* database down: 503 */
	AUTH_LIMITED,		/* API token over its budget: 429 */
};

enum cookie_kind {
	COOKIE_ACCESS,
	COOKIE_REFRESH,
	COOKIE_CSRF,
	COOKIE_OAUTH,
};

#define API_TOKEN_PREFIX	"wrn_"

enum auth_result auth_resolve(struct request *, long *retry_after);
bool	auth_csrf_ok(struct request *);
bool	auth_origin_ok(struct request *);
const char *auth_client_addr(struct request *);
const char *cookie_name(struct request *, enum cookie_kind);
/* Every value of a cookie (a browser may send several): how many. */
#define COOKIE_MAX_SAME	8
int	cookie_all(struct request *, enum cookie_kind, const char **, int max);
int	cookie_values(struct request *, const char *name, const char **,
	    int max);
void	cookie_set(struct request *, struct response *, enum cookie_kind,
	    const char *value, long max_age, bool http_only);
char	*auth_random_token(struct arena *, size_t bytes);	/* base64url */
char	*auth_hash_hex(struct arena *, const char *);	/* \x + sha256 */
/* Scope names by enum token_scope; API token scopes from SCOPE_READ on. */
extern const char *const auth_scopes[];
enum token_scope auth_scope(const char *name);
int64_t	 auth_now(void);

/*
 * Starts a session for user_id: stores a refresh-token family, signs an
 * access token, sets the cookies and fills a JSON answer.  Runs inside the
 * caller's transaction.  Returns -1 after answering with a problem.
 */
int	auth_start_session(struct request *, struct response *,
	    const char *user_id, struct json_object *answer);
/* After a refresh: a new access token, the rotated refresh token. */
void	auth_rotated(struct request *, struct response *, const char *user_id,
	    const char *session_id, const char *refresh, long lifetime_left,
	    struct json_object *answer);
/* Signs an access token for an existing session. */
char	*auth_access_token(struct request *, const char *user_id,
	    const char *session_id);
void	auth_clear_cookies(struct request *, struct response *);

/*
 * password_hash() and password_verify() with the hashes in flight bounded
 * host-wide (max_concurrent_hashes); -1 when no hashing place is free.
 */
int	auth_password_hash(struct request *, const char *pw, char **out);
int	auth_password_verify(struct request *, const char *hash,
	    const char *pw, bool *ok);

#endif
