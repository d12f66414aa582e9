/* Outbound HTTP (libcurl) for sign-in providers: bounded time and size. */
#ifndef WARREN_HTTPC_H
#define WARREN_HTTPC_H

#include <stddef.h>

#include "arena.h"

#define HTTPC_MAX_BODY	(256 * 1024)

struct httpc_response {
	long	 status;	/* 0 when no answer came */
	char	*body;
	size_t	 len;
};

/*
 * form: "a=b&c=d" already encoded, or NULL for a GET; authorization: the
 * Authorization header's value ("Bearer ...", "Basic ..."), or NULL.
 */
int	httpc_request(struct arena *, const char *url, const char *form,
	    const char *authorization, long timeout_ms, struct httpc_response *)
	    __attribute__((warn_unused_result));
char	*httpc_escape(struct arena *, const char *);

#endif
