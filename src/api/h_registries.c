/*
 * Credentials of private registries (admins only): the reconciler sends
 * them when it pulls an image of that registry.  Passwords go in
 * encrypted with the secrets key and never come out through the API.
 */
#include "config.h"

#include <string.h>

#include "audit.h"
#include "handlers.h"
#include "input.h"
#include "json.h"
#include "problem.h"
#include "query.h"
#include "secretbox.h"
#include "server.h"

#define META "r.id, r.registry, r.username, r.created_at, r.updated_at"

static const struct db_stmt q_list = {
	"registries_list",
	"SELECT " META " FROM registry_credentials r ORDER BY r.registry"
	" LIMIT 500", 0
};

static const struct db_stmt q_create = {
	"registries_create",
	"INSERT INTO registry_credentials (registry, username, nonce,"
	" ciphertext, created_by) VALUES ($1, $2, $3, $4, $5)"
	" RETURNING id, registry, username, created_at, updated_at", 5
};

static const struct db_stmt q_update = {
	"registries_update",
	"UPDATE registry_credentials r SET username = coalesce($2, username),"
	" nonce = $3, ciphertext = $4, updated_at = now() WHERE r.id = $1"
	" RETURNING " META, 4
};

static const struct db_stmt q_delete = {
	"registries_delete",
	"DELETE FROM registry_credentials WHERE id = $1 RETURNING registry", 1
};

/*
 * A registry as image references name it: a lower-case host name or
 * address and an optional port, "docker.io" for Docker Hub.
 */
static bool
registry_valid(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t host = colon ? (size_t)(colon - s) : strlen(s), i;

	if (host == 0 || host > 253 || s[0] == '.' || s[0] == '-' ||
	    s[host - 1] == '.' || s[host - 1] == '-')
		return false;
	for (i = 0; i < host; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789.-", s[i]) ==
		    NULL)
			return false;
	if (colon == NULL)
		return true;
	return colon[1] >= '1' && colon[1] <= '9' && strlen(colon + 1) <= 5 &&
	    strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
	    strtol(colon + 1, NULL, 10) <= 65535;
}

static bool
have_key(struct request *req, struct response *resp)
{
	return secrets_key_ready(req, resp, "registry credentials");
}

static void
seal(struct request *req, const char *password, char **nonce, char **cipher)
{
	secretbox_seal(req->arena, req->srv->secret_key, password,
	    strlen(password), nonce, cipher);
}

void
h_registries_list(struct request *req, struct response *resp)
{
	enum db_status st;
	PGresult *res = NULL;

	if ((st = q_run(req, &q_list, &res)) != DB_OK)
		q_fail(req, resp, st, res);
	else
		q_items_answer(req, resp, res);
}

void
h_registries_create(struct request *req, struct response *resp)
{
	const char *registry = in_str(req, "registry");
	const char *username = in_str(req, "username");
	const char *password = in_str(req, "password");
	char *nonce, *cipher;
	enum db_status st;
	PGresult *res = NULL;

	if (!have_key(req, resp))
		return;
	if (!registry_valid(registry)) {
		problem(req, resp, PROBLEM_INVALID_INPUT, "registry must be a "
		    "lower-case host name or address, with an optional :port, "
		    "as image references name it (docker.io for Docker Hub)");
		return;
	}
	seal(req, password, &nonce, &cipher);
	if ((st = q_begin(req)) != DB_OK ||
	    (st = q_run(req, &q_create, &res, registry, username, nonce, cipher,
	    req->caller.user_id)) != DB_OK) {
		if (st == DB_ERROR && strcmp(db_sqlstate(res), "23505") == 0) {
			q_rollback(req);
			problem(req, resp, PROBLEM_CONFLICT, "this registry has "
			    "credentials: change them with PUT");
			return;
		}
		q_fail(req, resp, st, res);
		return;
	}
	audit_commit_row(req, resp, 201, res, "registry.create", "registry");
}

void
h_registry_put(struct request *req, struct response *resp)
{
	const char *username = in_str(req, "username");
	const char *password = in_str(req, "password");
	char *nonce, *cipher;
	PGresult *res = NULL;

	if (!have_key(req, resp))
		return;
	if (!in_uuid(req->params[0])) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	seal(req, password, &nonce, &cipher);
	if (!q_open(req, resp) || !q_do(req, resp, &q_update, &res,
	    req->params[0], username, nonce, cipher))
		return;
	if (!q_gone(req, resp, res))
		audit_commit_row(req, resp, 200, res, "registry.update",
		    "registry");
}

void
h_registry_delete(struct request *req, struct response *resp)
{
	PGresult *res = NULL;

	if (!in_uuid(req->params[0])) {
		problem(req, resp, PROBLEM_NOT_FOUND, NULL);
		return;
	}
	if (!q_open(req, resp) || !q_do(req, resp, &q_delete, &res,
	    req->params[0]))
		return;
	if (!q_gone(req, resp, res))
		audit_commit_204(req, resp, "registry.delete", "registry",
		    req->params[0]);
}
