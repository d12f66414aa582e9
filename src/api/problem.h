/* RFC 9457 problem details: one table of the problems Warren answers with. */
#ifndef WARREN_PROBLEM_H
#define WARREN_PROBLEM_H

#include "http.h"

enum problem {
	PROBLEM_BAD_REQUEST,
	PROBLEM_BAD_PATH,
	PROBLEM_MALFORMED_JSON,
	PROBLEM_NOT_FOUND,
	PROBLEM_METHOD_NOT_ALLOWED,
	PROBLEM_BODY_TOO_LARGE,
	PROBLEM_URI_TOO_LONG,
	PROBLEM_UNSUPPORTED_MEDIA_TYPE,
	PROBLEM_INVALID_INPUT,
	PROBLEM_UNAUTHORIZED,
	PROBLEM_INVALID_CREDENTIALS,
	PROBLEM_FORBIDDEN,
	PROBLEM_CSRF,
	PROBLEM_CONFLICT,
	PROBLEM_TOO_MANY_REQUESTS,
	PROBLEM_SIGNIN_FAILED,
	PROBLEM_PROVIDER_ERROR,
	PROBLEM_BUSY,
	PROBLEM_QUOTA,
	PROBLEM_IDEMPOTENCY,
	PROBLEM_INTERNAL,
	PROBLEM_DB_UNAVAILABLE,
	PROBLEM_NOT_READY,
	PROBLEM_COUNT
};

struct problem_def {
	int		 status;
	const char	*slug;		/* type is "/problems/<slug>" */
	const char	*title;
};

extern const struct problem_def problem_defs[PROBLEM_COUNT];

/* Fills the response; detail must never carry internal information. */
void	problem(struct request *, struct response *, enum problem,
	    const char *detail);
/* The same, with extension members (an object whose keys are added). */
void	problem_ext(struct request *, struct response *, enum problem,
	    const char *detail, struct json_object *extra);

#endif
