/* The request and response every handler sees, independent of FastCGI. */
#ifndef WARREN_HTTP_H
#define WARREN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "arena.h"

enum http_method {
	HTTP_GET	= 1 << 0,
	HTTP_HEAD	= 1 << 1,
	HTTP_POST	= 1 << 2,
	HTTP_PUT	= 1 << 3,
	HTTP_PATCH	= 1 << 4,
	HTTP_DELETE	= 1 << 5,
	HTTP_OPTIONS	= 1 << 6,
};

#define ROUTE_MAX_PARAMS	8
#define HTTP_MAX_HEADERS	16
#define REQUEST_ID_MAX		64

struct route;
struct server;

enum auth_via {
	AUTH_NONE,
	AUTH_COOKIE,		/* browser session cookie */
	AUTH_BEARER,		/* access token in Authorization */
	AUTH_API_TOKEN,		/* API token in Authorization */
};

/*
 * What an API token may do: read the API, use all of it, or only open
 * workspaces (the data plane); a session may do everything.
 */
enum token_scope {
	SCOPE_SESSION,
	SCOPE_READ,
	SCOPE_FULL,
	SCOPE_WORKSPACE,
};

/* Who is calling, filled once per request by the central auth step. */
struct caller {
	enum auth_via	via;
	char		user_id[64];
	char		username[72];
	char		role[20];
	char		email[256];
	char		display_name[208];
	char		session_id[64];
	char		token_id[64];
	enum token_scope scope;
};

struct request {
	struct arena		*arena;
	struct server		*srv;
	enum http_method	 method;
	const char		*method_name;
	const char		*uri;		/* raw, as sent */
	const char		*path;		/* raw, before '?' */
	const char		*query;		/* raw, after '?', or "" */
	const char		*content_type;
	long			 content_length;
	const char		*remote_addr;
	char			 request_id[REQUEST_ID_MAX + 1];
	const struct route	*route;
	const char		*params[ROUTE_MAX_PARAMS];	/* decoded */
	size_t			 nparams;
	struct json_object	*body;
	struct caller		 caller;
	const char		*client_addr;	/* after trusted proxies */
	/* Adapter hooks, so that the core needs no FastCGI. */
	const char		*(*header)(struct request *, const char *cgi);
	long			 (*read_body)(struct request *, char *, size_t);
	void			*adapter;
};

struct header {
	const char	*name;
	const char	*value;
};

struct response {
	int		 status;
	const char	*content_type;
	struct header	 headers[HTTP_MAX_HEADERS];
	size_t		 nheaders;
	const char	*body;
	size_t		 len;
};

void		 resp_header(struct response *, const char *, const char *);
void		 resp_json(struct request *, struct response *, int status,
		    struct json_object *);
void		 resp_text(struct response *, int status, const char *ctype,
		    const char *body, size_t len);
const char	*http_status_text(int);
const char	*http_method_name(enum http_method);
enum http_method http_method_parse(const char *);
bool		 request_id_sane(const char *);

#endif
