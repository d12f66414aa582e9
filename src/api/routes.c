/*
 * The one route table.  Every endpoint is a row, with the policy that the
 * central dispatcher enforces before the handler runs.
 *
 * "warrenctl routes" prints the rows only: it compiles this file again
 * with ROUTES_WITHOUT_HANDLERS, so as not to link the handlers and, through
 * them, the whole API.
 */
#include "config.h"

#include <limits.h>
#include <stddef.h>

#include "router.h"
#include "wstatus.h"

#define J	ROUTE_JSON_BODY
#define O	ROUTE_OPT_BODY
#ifdef ROUTES_WITHOUT_HANDLERS
#define H(fn)	NULL
#else
#include "handlers.h"
#define H(fn)	fn
#endif

/*
 * What each route takes, checked by the pipeline before the handler runs
 * (input.h) and described by the OpenAPI document: body members, then
 * query parameters.  The handlers read the values checked here.
 */
#define F_END		{ NULL, IN_STRING, false, 0, 0, NULL, NULL }
#define F_STR(n, r, lo, hi, d)	{ n, IN_STRING, r, lo, hi, NULL, d }
#define F_NAME(n, r, hi, d)	{ n, IN_NAME, r, 1, hi, NULL, d }
#define F_INT(n, r, lo, hi, d)	{ n, IN_INT, r, lo, hi, NULL, d }
#define F_BOOL(n, r, d)		{ n, IN_BOOL, r, 0, 0, NULL, d }
#define F_ENUM(n, r, c, d)	{ n, IN_ENUM, r, 0, 0, c, d }
#define F_UUID(n, r, d)		{ n, IN_UUID, r, 0, 0, NULL, d }
#define F_OBJ(n, r, d)		{ n, IN_OBJECT, r, 0, 0, NULL, d }
#define F_ARR(n, r, d)		{ n, IN_ARRAY, r, 0, 0, NULL, d }
#define F_PAGE \
	F_INT("limit", false, 1, 200, "items on a page (50 when absent)"), \
	F_STR("cursor", false, 1, 200, "next_cursor of the page before")
#define SECONDS_A_YEAR	31536000L
#define SECRET_MAX	(64 * 1024)
#define PASSWORD_MAX	4096

static const char *const roles[] = { "admin", "template-admin", "auditor",
	"member", NULL };
static const char *const org_roles[] = { "owner", "admin", "member", NULL };
static const char *const token_scopes[] = { "read", "full", "workspace",
	NULL };
static const char *const share_levels[] = { "owner", "org",
	"authenticated", "public", NULL };
static const char *const transitions[] = { "start", "stop", "restart",
	"update", "delete", NULL };
static const char *const invitation_states[] = { "pending", "used",
	"expired", "revoked", NULL };

static const struct in_field no_fields[] = { F_END };

static const struct in_field login_body[] = {
	F_STR("username", true, 1, 254, "user name or e-mail address"),
	F_STR("password", true, 1, 1024, NULL),
	F_END
};
static const struct in_field refresh_body[] = {
	F_STR("refresh_token", false, 16, 256, "when not in the cookie"),
	F_END
};
static const struct in_field oauth_start_query[] = {
	F_STR("invite", false, 0, 0, "an invitation code to redeem"),
	F_STR("return_to", false, 0, 0, "a page of Warren to end on"),
	F_END
};
static const struct in_field oauth_callback_query[] = {
	F_STR("state", false, 0, 0, NULL),
	F_STR("code", false, 0, 0, NULL),
	F_STR("error", false, 0, 0, NULL),
	F_END
};
static const struct in_field forward_query[] = {
	F_STR("pending", false, 0, 0, "answer 200 only once reachable"),
	F_END
};
static const struct in_field handoff_query[] = {
	F_STR("host", false, 0, 0, "the workspace's host name"),
	F_STR("path", false, 0, 0, "the path to go back to"),
	F_END
};
static const struct in_field redeem_query[] = {
	F_STR("code", false, 0, 0, "the handoff code"),
	F_STR("path", false, 0, 0, "the path to go back to"),
	F_END
};
static const struct in_field invitations_query[] = {
	F_ENUM("status", false, invitation_states, NULL),
	F_INT("limit", false, 1, 200, "items on a page (50 when absent)"),
	F_UUID("cursor", false, "next_cursor of the page before"),
	F_END
};
static const struct in_field invitation_body[] = {
	F_STR("email", false, 3, 254, "only this address may redeem it"),
	F_ENUM("role", false, roles, "the new user's role"),
	F_INT("expires_in_hours", false, 1, 720, "168 when absent"),
	F_END
};
static const struct in_field page_query[] = { F_PAGE, F_END };
static const struct in_field user_create_body[] = {
	F_STR("username", true, 1, 63, NULL),
	F_STR("email", false, 3, 254, NULL),
	F_STR("display_name", false, 0, 200, NULL),
	F_STR("password", false, 8, 1024, NULL),
	F_ENUM("role", false, roles, "member when absent"),
	F_END
};
static const struct in_field user_update_body[] = {
	F_STR("email", false, 3, 254, "admins only"),
	F_STR("display_name", false, 0, 200, NULL),
	F_STR("password", false, 8, 1024, NULL),
	F_STR("current_password", false, 1, 1024,
	    "needed to change one's own password"),
	F_ENUM("role", false, roles, "admins only"),
	F_BOOL("disabled", false, "admins only"),
	F_END
};
static const struct in_field org_create_body[] = {
	F_NAME("name", true, 32, NULL),
	F_STR("display_name", false, 0, 200, NULL),
	F_END
};
static const struct in_field org_update_body[] = {
	F_NAME("name", false, 32, NULL),
	F_STR("display_name", false, 0, 200, NULL),
	F_END
};
static const struct in_field member_body[] = {
	F_ENUM("role", true, org_roles, NULL),
	F_END
};
static const struct in_field token_body[] = {
	F_STR("name", true, 1, 100, NULL),
	F_ENUM("scope", true, token_scopes, NULL),
	F_INT("expires_in_days", false, 1, 3650, "never expires when absent"),
	F_END
};
static const struct in_field audit_query[] = {
	F_UUID("actor", false, "the acting user"),
	F_STR("action", false, 1, 100, "e.g. workspace.create"),
	F_STR("target", false, 1, 200, "the target's id"),
	F_STR("since", false, 1, 64, "an RFC 3339 time"),
	F_STR("until", false, 1, 64, "an RFC 3339 time"),
	F_PAGE,
	F_END
};
static const struct in_field templates_query[] = {
	F_BOOL("archived", false, "list archived templates instead"),
	F_PAGE,
	F_END
};
static const struct in_field template_create_body[] = {
	F_NAME("name", true, 32, NULL),
	F_STR("display_name", false, 0, 200, NULL),
	F_STR("description", false, 0, 2000, NULL),
	F_OBJ("version", true, "the first version: a template version"),
	F_END
};
static const struct in_field template_update_body[] = {
	F_STR("display_name", false, 0, 200, NULL),
	F_STR("description", false, 0, 2000, NULL),
	F_INT("active_version", false, 1, 1000000, "a version's number"),
	F_BOOL("archived", false, NULL),
	F_END
};
static const struct in_field workspaces_query[] = {
	F_UUID("owner", false, "admins: another user's workspaces"),
	F_ENUM("status", false, ws_status_names, "any but deleted"),
	F_UUID("template", false, NULL),
	F_PAGE,
	F_END
};
static const struct in_field workspace_create_body[] = {
	F_NAME("name", true, 32, NULL),
	F_STR("template", true, 1, 64, "a template's id or name"),
	F_INT("template_version", false, 1, 1000000,
	    "the active version when absent"),
	F_OBJ("parameters", false, "parameter name -> value"),
	F_UUID("org_id", false, "an organization the owner belongs to"),
	F_INT("autostop_ttl", false, 0, SECONDS_A_YEAR, "seconds"),
	F_INT("idle_timeout", false, 0, SECONDS_A_YEAR, "seconds"),
	F_ARR("secrets", false, "names of the caller's secrets"),
	F_BOOL("start", false, "true when absent"),
	F_STR("starter", false, 1, 32, "one of the version's starters"),
	F_OBJ("repository", false,
	    "{url (https), branch, secret, directory} cloned at first start"),
	F_END
};
static const struct in_field workspace_update_body[] = {
	F_NAME("name", false, 32, NULL),
	F_INT("autostop_ttl", false, 0, SECONDS_A_YEAR, "seconds"),
	F_INT("idle_timeout", false, 0, SECONDS_A_YEAR, "seconds"),
	F_END
};
static const struct in_field extend_body[] = {
	F_INT("hours", false, 1, 168, "1 when absent"),
	F_END
};
static const struct in_field share_body[] = {
	F_ENUM("level", true, share_levels, NULL),
	F_END
};
static const struct in_field build_body[] = {
	F_ENUM("transition", true, transitions, NULL),
	F_INT("template_version", false, 1, 1000000, "update only"),
	F_OBJ("parameters", false, "update only"),
	F_END
};
static const struct in_field logs_query[] = {
	F_INT("after", false, 0, LONG_MAX, "next_after of the answer before"),
	F_BOOL("follow", false, "wait for lines while the build runs"),
	F_INT("timeout", false, 1, 25, "seconds to wait when following"),
	F_INT("limit", false, 1, LONG_MAX, "lines (at most 1000)"),
	F_END
};
static const struct in_field quota_body[] = {
	F_INT("max_workspaces", false, 0, 100000000L, NULL),
	F_INT("max_running", false, 0, 100000000L, NULL),
	F_INT("max_cpu_millis", false, 0, 100000000L, NULL),
	F_INT("max_memory_mb", false, 0, 100000000L, NULL),
	F_END
};
static const struct in_field secret_create_body[] = {
	F_STR("name", true, 1, 64, "an environment variable name"),
	F_STR("value", true, 0, SECRET_MAX, NULL),
	F_UUID("org_id", false, "an organization's secret"),
	F_END
};
static const struct in_field secret_update_body[] = {
	F_STR("value", true, 0, SECRET_MAX, NULL),
	F_END
};
static const struct in_field registry_create_body[] = {
	F_STR("registry", true, 1, 259, "host[:port]"),
	F_STR("username", true, 1, 256, NULL),
	F_STR("password", true, 1, PASSWORD_MAX, NULL),
	F_END
};
static const struct in_field registry_update_body[] = {
	F_STR("username", false, 1, 256, NULL),
	F_STR("password", true, 1, PASSWORD_MAX, NULL),
	F_END
};

const struct route routes[] = {
	{ HTTP_GET, "/api/v1/health", "health", POLICY_PUBLIC, 0, H(h_health),
	    NULL, NULL },
	{ HTTP_GET, "/api/v1/ready", "ready", POLICY_PUBLIC, 0, H(h_ready),
	    NULL, NULL },
#ifdef WARREN_TEST_ROUTES
	/* Test builds only (--enable-test-routes): reflects its body. */
	{ HTTP_POST, "/api/v1/echo", "echo", POLICY_PUBLIC, J, H(h_echo),
	    NULL, NULL },
#endif
	{ HTTP_GET, "/metrics", "metrics", POLICY_PUBLIC, 0, H(h_metrics),
	    NULL, NULL },

	{ HTTP_POST, "/api/v1/auth/login", "auth_login", POLICY_PUBLIC, J,
	    H(h_login), login_body, NULL },
	{ HTTP_POST, "/api/v1/auth/refresh", "auth_refresh", POLICY_PUBLIC, O,
	    H(h_refresh), refresh_body, NULL },
	{ HTTP_POST, "/api/v1/auth/logout", "auth_logout", POLICY_USER, O,
	    H(h_logout), no_fields, NULL },
	{ HTTP_POST, "/api/v1/auth/logout-all", "auth_logout_all", POLICY_USER,
	    O, H(h_logout_all), no_fields, NULL },
	{ HTTP_GET, "/api/v1/auth/providers", "auth_providers", POLICY_PUBLIC,
	    0, H(h_providers), NULL, NULL },
	{ HTTP_GET, "/api/v1/auth/oauth/{provider}/start", "auth_oauth_start",
	    POLICY_PUBLIC, 0, H(h_oauth_start), NULL, oauth_start_query },
	{ HTTP_GET, "/api/v1/auth/oauth/{provider}/callback",
	    "auth_oauth_callback", POLICY_PUBLIC, 0, H(h_oauth_callback),
	    NULL, oauth_callback_query },
	{ HTTP_GET, "/api/v1/auth/forward", "auth_forward", POLICY_PUBLIC, 0,
	    H(h_forward), NULL, forward_query },
	{ HTTP_GET, "/api/v1/auth/handoff", "auth_handoff", POLICY_PUBLIC, 0,
	    H(h_handoff), NULL, handoff_query },
	{ HTTP_GET, "/api/v1/auth/handoff/redeem", "auth_handoff_redeem",
	    POLICY_PUBLIC, 0, H(h_handoff_redeem), NULL, redeem_query },
	{ HTTP_GET, "/api/v1/invitations", "invitations_list", POLICY_ADMIN,
	    0, H(h_invitations_list), NULL, invitations_query },
	{ HTTP_POST, "/api/v1/invitations", "invitations_create", POLICY_ADMIN,
	    J, H(h_invitations_create), invitation_body, NULL },
	{ HTTP_DELETE, "/api/v1/invitations/{id}", "invitations_revoke",
	    POLICY_ADMIN, 0, H(h_invitation_revoke), NULL, NULL },

	{ HTTP_GET, "/api/v1/me", "me", POLICY_USER, 0, H(h_me), NULL, NULL },
	{ HTTP_GET, "/api/v1/me/sessions", "me_sessions", POLICY_USER, 0,
	    H(h_my_sessions), NULL, NULL },
	{ HTTP_DELETE, "/api/v1/me/sessions/{id}", "me_session_delete",
	    POLICY_USER, 0, H(h_my_session_delete), NULL, NULL },

	{ HTTP_GET, "/api/v1/users", "users_list", POLICY_ADMIN, 0,
	    H(h_users_list), NULL, page_query },
	{ HTTP_POST, "/api/v1/users", "users_create", POLICY_ADMIN, J,
	    H(h_users_create), user_create_body, NULL },
	{ HTTP_GET, "/api/v1/users/{id}", "users_get", POLICY_USER, 0,
	    H(h_user_get), NULL, NULL },
	{ HTTP_PATCH, "/api/v1/users/{id}", "users_update", POLICY_USER, J,
	    H(h_user_patch), user_update_body, NULL },
	{ HTTP_DELETE, "/api/v1/users/{id}", "users_delete", POLICY_ADMIN, 0,
	    H(h_user_delete), NULL, NULL },

	{ HTTP_GET, "/api/v1/orgs", "orgs_list", POLICY_USER, 0,
	    H(h_orgs_list), NULL, page_query },
	{ HTTP_POST, "/api/v1/orgs", "orgs_create", POLICY_ADMIN, J,
	    H(h_orgs_create), org_create_body, NULL },
	{ HTTP_GET, "/api/v1/orgs/{id}", "orgs_get", POLICY_USER, 0,
	    H(h_org_get), NULL, NULL },
	{ HTTP_PATCH, "/api/v1/orgs/{id}", "orgs_update", POLICY_USER, J,
	    H(h_org_patch), org_update_body, NULL },
	{ HTTP_DELETE, "/api/v1/orgs/{id}", "orgs_delete", POLICY_USER, 0,
	    H(h_org_delete), NULL, NULL },
	{ HTTP_GET, "/api/v1/orgs/{id}/members", "orgs_members", POLICY_USER,
	    0, H(h_org_members), NULL, NULL },
	{ HTTP_PUT, "/api/v1/orgs/{id}/members/{user}", "orgs_member_set",
	    POLICY_USER, J, H(h_org_member_put), member_body, NULL },
	{ HTTP_DELETE, "/api/v1/orgs/{id}/members/{user}",
	    "orgs_member_remove", POLICY_USER, 0, H(h_org_member_delete),
	    NULL, NULL },

	{ HTTP_GET, "/api/v1/tokens", "tokens_list", POLICY_USER, 0,
	    H(h_tokens_list), NULL, NULL },
	{ HTTP_POST, "/api/v1/tokens", "tokens_create", POLICY_USER, J,
	    H(h_tokens_create), token_body, NULL },
	{ HTTP_DELETE, "/api/v1/tokens/{id}", "tokens_revoke", POLICY_USER, 0,
	    H(h_token_delete), NULL, NULL },

	{ HTTP_GET, "/api/v1/audit", "audit_list", POLICY_AUDITOR, 0,
	    H(h_audit_list), NULL, audit_query },

	{ HTTP_GET, "/api/v1/templates", "templates_list", POLICY_USER, 0,
	    H(h_templates_list), NULL, templates_query },
	{ HTTP_POST, "/api/v1/templates", "templates_create",
	    POLICY_TEMPLATE_ADMIN, J, H(h_templates_create),
	    template_create_body, NULL },
	{ HTTP_GET, "/api/v1/templates/{id}", "templates_get", POLICY_USER, 0,
	    H(h_template_get), NULL, NULL },
	{ HTTP_PATCH, "/api/v1/templates/{id}", "templates_update",
	    POLICY_TEMPLATE_ADMIN, J, H(h_template_patch),
	    template_update_body, NULL },
	{ HTTP_DELETE, "/api/v1/templates/{id}", "templates_archive",
	    POLICY_TEMPLATE_ADMIN, 0, H(h_template_archive), NULL, NULL },
	{ HTTP_GET, "/api/v1/templates/{id}/versions", "templates_versions",
	    POLICY_USER, 0, H(h_template_versions), NULL, NULL },
	{ HTTP_POST, "/api/v1/templates/{id}/versions",
	    "templates_version_create", POLICY_TEMPLATE_ADMIN, J,
	    H(h_template_version_create), NULL, NULL },
	{ HTTP_GET, "/api/v1/templates/{id}/versions/{number}",
	    "templates_version_get", POLICY_USER, 0,
	    H(h_template_version_get), NULL, NULL },

	{ HTTP_GET, "/api/v1/workspaces", "workspaces_list", POLICY_USER, 0,
	    H(h_workspaces_list), NULL, workspaces_query },
	{ HTTP_POST, "/api/v1/workspaces", "workspaces_create", POLICY_USER, J,
	    H(h_workspaces_create), workspace_create_body, NULL },
	{ HTTP_GET, "/api/v1/workspaces/{id}", "workspaces_get", POLICY_USER,
	    0, H(h_workspace_get), NULL, NULL },
	{ HTTP_PATCH, "/api/v1/workspaces/{id}", "workspaces_update",
	    POLICY_USER, J, H(h_workspace_patch), workspace_update_body, NULL },
	{ HTTP_DELETE, "/api/v1/workspaces/{id}", "workspaces_delete",
	    POLICY_USER, 0, H(h_workspace_delete), NULL, NULL },
	{ HTTP_POST, "/api/v1/workspaces/{id}/extend", "workspaces_extend",
	    POLICY_USER, O, H(h_workspace_extend), extend_body, NULL },
	{ HTTP_PUT, "/api/v1/workspaces/{id}/ports/{port}",
	    "workspaces_port_share", POLICY_USER, J, H(h_workspace_port_put),
	    share_body, NULL },
	{ HTTP_DELETE, "/api/v1/workspaces/{id}/ports/{port}",
	    "workspaces_port_unshare", POLICY_USER, 0,
	    H(h_workspace_port_delete), NULL, NULL },
	{ HTTP_POST, "/api/v1/workspaces/{id}/builds", "builds_create",
	    POLICY_USER, J, H(h_builds_create), build_body, NULL },
	{ HTTP_GET, "/api/v1/workspaces/{id}/builds", "builds_list",
	    POLICY_USER, 0, H(h_builds_list), NULL, page_query },
	{ HTTP_GET, "/api/v1/builds/{id}", "builds_get", POLICY_USER, 0,
	    H(h_build_get), NULL, NULL },
	{ HTTP_GET, "/api/v1/builds/{id}/logs", "builds_logs", POLICY_USER, 0,
	    H(h_build_logs), NULL, logs_query },

	{ HTTP_GET, "/api/v1/quotas/{scope}/{id}", "quotas_get", POLICY_ADMIN,
	    0, H(h_quota_get), NULL, NULL },
	{ HTTP_PUT, "/api/v1/quotas/{scope}/{id}", "quotas_set", POLICY_ADMIN,
	    J, H(h_quota_put), quota_body, NULL },

	{ HTTP_GET, "/api/v1/secrets", "secrets_list", POLICY_USER, 0,
	    H(h_secrets_list), NULL, NULL },
	{ HTTP_POST, "/api/v1/secrets", "secrets_create", POLICY_USER, J,
	    H(h_secrets_create), secret_create_body, NULL },
	{ HTTP_PUT, "/api/v1/secrets/{id}", "secrets_update", POLICY_USER, J,
	    H(h_secret_put), secret_update_body, NULL },
	{ HTTP_DELETE, "/api/v1/secrets/{id}", "secrets_delete", POLICY_USER,
	    0, H(h_secret_delete), NULL, NULL },

	{ HTTP_GET, "/api/v1/registries", "registries_list", POLICY_ADMIN, 0,
	    H(h_registries_list), NULL, NULL },
	{ HTTP_POST, "/api/v1/registries", "registries_create", POLICY_ADMIN,
	    J, H(h_registries_create), registry_create_body, NULL },
	{ HTTP_PUT, "/api/v1/registries/{id}", "registries_update",
	    POLICY_ADMIN, J, H(h_registry_put), registry_update_body, NULL },
	{ HTTP_DELETE, "/api/v1/registries/{id}", "registries_delete",
	    POLICY_ADMIN, 0, H(h_registry_delete), NULL, NULL },

	{ HTTP_GET, "/api/v1/openapi.json", "openapi", POLICY_PUBLIC, 0,
	    H(h_openapi), NULL, NULL },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
