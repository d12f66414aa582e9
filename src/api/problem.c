#include "config.h"

#include "json.h"
#include "problem.h"

const struct problem_def problem_defs[PROBLEM_COUNT] = {
	[PROBLEM_BAD_REQUEST] = { 400, "bad-request", "Bad request" },
	[PROBLEM_BAD_PATH] = { 400, "bad-path",
	    "The request path is not valid" },
	[PROBLEM_MALFORMED_JSON] = { 400, "malformed-json",
	    "The request body is not acceptable JSON" },
	[PROBLEM_NOT_FOUND] = { 404, "not-found", "Not found" },
	[PROBLEM_METHOD_NOT_ALLOWED] = { 405, "method-not-allowed",
	    "Method not allowed" },
	[PROBLEM_BODY_TOO_LARGE] = { 413, "body-too-large",
	    "The request body is too large" },
	[PROBLEM_URI_TOO_LONG] = { 414, "uri-too-long",
	    "The request URI is too long" },
	[PROBLEM_UNSUPPORTED_MEDIA_TYPE] = { 415, "unsupported-media-type",
	    "Unsupported media type" },
	[PROBLEM_INVALID_INPUT] = { 400, "invalid-input",
	    "The request has an invalid field" },
	[PROBLEM_UNAUTHORIZED] = { 401, "unauthorized",
	    "Authentication is required" },
	[PROBLEM_INVALID_CREDENTIALS] = { 401, "invalid-credentials",
	    "The username or password is wrong" },
	[PROBLEM_FORBIDDEN] = { 403, "forbidden",
	    "This action is not allowed" },
	[PROBLEM_CSRF] = { 403, "csrf",
	    "The request failed the cross-site request check" },
	[PROBLEM_CONFLICT] = { 409, "conflict",
	    "The request conflicts with the current state" },
	[PROBLEM_TOO_MANY_REQUESTS] = { 429, "too-many-requests",
	    "Too many requests" },
	[PROBLEM_SIGNIN_FAILED] = { 403, "signin-failed",
	    "Sign-in with the provider failed" },
	[PROBLEM_PROVIDER_ERROR] = { 502, "provider-error",
	    "The sign-in provider did not answer as expected" },
	[PROBLEM_BUSY] = { 503, "busy", "The server is busy" },
	[PROBLEM_QUOTA] = { 403, "quota-exceeded", "A quota would be exceeded" },
	[PROBLEM_IDEMPOTENCY] = { 422, "idempotency-key-reused",
	    "The Idempotency-Key was used for a different request" },
	[PROBLEM_INTERNAL] = { 500, "internal", "Internal error" },
	[PROBLEM_DB_UNAVAILABLE] = { 503, "database-unavailable",
	    "The database is unavailable" },
	[PROBLEM_NOT_READY] = { 503, "not-ready",
	    "The service is not ready" },
};

void
problem(struct request *req, struct response *resp, enum problem p,
    const char *detail)
{
	problem_ext(req, resp, p, detail, NULL);
}

void
problem_ext(struct request *req, struct response *resp, enum problem p,
    const char *detail, struct json_object *extra)
{
	const struct problem_def *d = &problem_defs[p];
	struct json_object *o = json_own(req->arena, json_object_new_object());

	json_object_object_add(o, "type", json_object_new_string(
	    arena_printf(req->arena, "/problems/%s", d->slug)));
	json_object_object_add(o, "title", json_object_new_string(d->title));
	json_object_object_add(o, "status", json_object_new_int(d->status));
	if (detail != NULL)
		json_object_object_add(o, "detail",
		    json_object_new_string(detail));
	json_object_object_add(o, "request_id",
	    json_object_new_string(req->request_id));
	if (extra != NULL) {
		json_object_object_foreach(extra, k, v)
			json_object_object_add(o, k, json_object_get(v));
	}
	resp_json(req, resp, d->status, o);
	resp->content_type = "application/problem+json";
}
