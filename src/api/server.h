/* Process-wide state of a worker and the request pipeline. */
#ifndef WARREN_SERVER_H
#define WARREN_SERVER_H

#include "conf.h"
#include "db.h"
#include "http.h"
#include "oidc.h"
#include "webtoken.h"

struct server {
	struct conf		 conf;
	const char		*conf_path;
	struct db		*db;
	const char *const	*route_labels;	/* nroutes + "unmatched" */
	struct webtoken_keys	 keys;
	bool			 secure;	/* public_url is https */
	bool			 has_secret_key;
	unsigned char		 secret_key[32];
	char			 origin[CONF_STR_MAX];	/* of public_url */
	struct oidc_provider	 oidc[OIDC_MAX_PROVIDERS];
	int			 noidc;
};

/* Loads what the configuration points at (keys); -1 after logging. */
int	server_prepare(struct server *) __attribute__((warn_unused_result));

/* Runs one request through routing, policy, body checks and a handler. */
void	server_handle(struct server *, struct request *, struct response *);
void	request_id_new(char *out);	/* 33 bytes */
void	request_id_seed(void);		/* in each worker, after fork */
size_t	server_route_index(const struct request *);
const char *const *server_route_labels(void);

#endif
