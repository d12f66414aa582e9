/*
 * The one route table.  Every endpoint is a row, with the policy that the
 * central dispatcher enforces before the handler runs.
 *
 * "warrenctl routes" prints the rows only: it compiles this file again
 * with ROUTES_WITHOUT_HANDLERS, so as not to link the handlers and, through
 * them, the whole API.
 */
#include "config.h"

#include "router.h"

#define J	ROUTE_JSON_BODY
#define O	ROUTE_OPT_BODY
#ifdef ROUTES_WITHOUT_HANDLERS
#define H(fn)	NULL
#else
#include "handlers.h"
#define H(fn)	fn
#endif

const struct route routes[] = {
	{ HTTP_GET, "/api/v1/health", "health", POLICY_PUBLIC, 0, H(h_health) },
	{ HTTP_GET, "/api/v1/ready", "ready", POLICY_PUBLIC, 0, H(h_ready) },
#ifdef WARREN_TEST_ROUTES
	/* Test builds only (--enable-test-routes): reflects its body. */
	{ HTTP_POST, "/api/v1/echo", "echo", POLICY_PUBLIC, J, H(h_echo) },
#endif
	{ HTTP_GET, "/metrics", "metrics", POLICY_PUBLIC, 0, H(h_metrics) },

	{ HTTP_POST, "/api/v1/auth/login", "auth_login", POLICY_PUBLIC, J,
	    H(h_login) },
	{ HTTP_POST, "/api/v1/auth/refresh", "auth_refresh", POLICY_PUBLIC, O,
	    H(h_refresh) },
	{ HTTP_POST, "/api/v1/auth/logout", "auth_logout", POLICY_USER, O,
	    H(h_logout) },
	{ HTTP_POST, "/api/v1/auth/logout-all", "auth_logout_all", POLICY_USER,
	    O, H(h_logout_all) },
	{ HTTP_GET, "/api/v1/auth/providers", "auth_providers", POLICY_PUBLIC,
	    0, H(h_providers) },
	{ HTTP_GET, "/api/v1/auth/oauth/{provider}/start", "auth_oauth_start",
	    POLICY_PUBLIC, 0, H(h_oauth_start) },
	{ HTTP_GET, "/api/v1/auth/oauth/{provider}/callback",
	    "auth_oauth_callback", POLICY_PUBLIC, 0, H(h_oauth_callback) },
	{ HTTP_GET, "/api/v1/auth/forward", "auth_forward", POLICY_PUBLIC, 0,
	    H(h_forward) },
	{ HTTP_GET, "/api/v1/auth/handoff", "auth_handoff", POLICY_PUBLIC, 0,
	    H(h_handoff) },
	{ HTTP_GET, "/api/v1/auth/handoff/redeem", "auth_handoff_redeem",
	    POLICY_PUBLIC, 0, H(h_handoff_redeem) },
	{ HTTP_GET, "/api/v1/invitations", "invitations_list", POLICY_ADMIN,
	    0, H(h_invitations_list) },
	{ HTTP_POST, "/api/v1/invitations", "invitations_create", POLICY_ADMIN,
	    J, H(h_invitations_create) },
	{ HTTP_DELETE, "/api/v1/invitations/{id}", "invitations_revoke",
	    POLICY_ADMIN, 0, H(h_invitation_revoke) },

	{ HTTP_GET, "/api/v1/me", "me", POLICY_USER, 0, H(h_me) },
	{ HTTP_GET, "/api/v1/me/sessions", "me_sessions", POLICY_USER, 0,
	    H(h_my_sessions) },
	{ HTTP_DELETE, "/api/v1/me/sessions/{id}", "me_session_delete",
	    POLICY_USER, 0, H(h_my_session_delete) },

	{ HTTP_GET, "/api/v1/users", "users_list", POLICY_ADMIN, 0,
	    H(h_users_list) },
	{ HTTP_POST, "/api/v1/users", "users_create", POLICY_ADMIN, J,
	    H(h_users_create) },
	{ HTTP_GET, "/api/v1/users/{id}", "users_get", POLICY_USER, 0,
	    H(h_user_get) },
	{ HTTP_PATCH, "/api/v1/users/{id}", "users_update", POLICY_USER, J,
	    H(h_user_patch) },
	{ HTTP_DELETE, "/api/v1/users/{id}", "users_delete", POLICY_ADMIN, 0,
	    H(h_user_delete) },

	{ HTTP_GET, "/api/v1/orgs", "orgs_list", POLICY_USER, 0,
	    H(h_orgs_list) },
	{ HTTP_POST, "/api/v1/orgs", "orgs_create", POLICY_ADMIN, J,
	    H(h_orgs_create) },
	{ HTTP_GET, "/api/v1/orgs/{id}", "orgs_get", POLICY_USER, 0,
	    H(h_org_get) },
	{ HTTP_PATCH, "/api/v1/orgs/{id}", "orgs_update", POLICY_USER, J,
	    H(h_org_patch) },
	{ HTTP_DELETE, "/api/v1/orgs/{id}", "orgs_delete", POLICY_USER, 0,
	    H(h_org_delete) },
	{ HTTP_GET, "/api/v1/orgs/{id}/members", "orgs_members", POLICY_USER,
	    0, H(h_org_members) },
	{ HTTP_PUT, "/api/v1/orgs/{id}/members/{user}", "orgs_member_set",
	    POLICY_USER, J, H(h_org_member_put) },
	{ HTTP_DELETE, "/api/v1/orgs/{id}/members/{user}",
	    "orgs_member_remove", POLICY_USER, 0, H(h_org_member_delete) },

	{ HTTP_GET, "/api/v1/tokens", "tokens_list", POLICY_USER, 0,
	    H(h_tokens_list) },
	{ HTTP_POST, "/api/v1/tokens", "tokens_create", POLICY_USER, J,
	    H(h_tokens_create) },
	{ HTTP_DELETE, "/api/v1/tokens/{id}", "tokens_revoke", POLICY_USER, 0,
	    H(h_token_delete) },

	{ HTTP_GET, "/api/v1/audit", "audit_list", POLICY_AUDITOR, 0,
	    H(h_audit_list) },

	{ HTTP_GET, "/api/v1/templates", "templates_list", POLICY_USER, 0,
	    H(h_templates_list) },
	{ HTTP_POST, "/api/v1/templates", "templates_create",
	    POLICY_TEMPLATE_ADMIN, J, H(h_templates_create) },
	{ HTTP_GET, "/api/v1/templates/{id}", "templates_get", POLICY_USER, 0,
	    H(h_template_get) },
	{ HTTP_PATCH, "/api/v1/templates/{id}", "templates_update",
	    POLICY_TEMPLATE_ADMIN, J, H(h_template_patch) },
	{ HTTP_DELETE, "/api/v1/templates/{id}", "templates_archive",
	    POLICY_TEMPLATE_ADMIN, 0, H(h_template_archive) },
	{ HTTP_GET, "/api/v1/templates/{id}/versions", "templates_versions",
	    POLICY_USER, 0, H(h_template_versions) },
	{ HTTP_POST, "/api/v1/templates/{id}/versions",
	    "templates_version_create", POLICY_TEMPLATE_ADMIN, J,
	    H(h_template_version_create) },
	{ HTTP_GET, "/api/v1/templates/{id}/versions/{number}",
	    "templates_version_get", POLICY_USER, 0,
	    H(h_template_version_get) },

	{ HTTP_GET, "/api/v1/workspaces", "workspaces_list", POLICY_USER, 0,
	    H(h_workspaces_list) },
	{ HTTP_POST, "/api/v1/workspaces", "workspaces_create", POLICY_USER, J,
	    H(h_workspaces_create) },
	{ HTTP_GET, "/api/v1/workspaces/{id}", "workspaces_get", POLICY_USER,
	    0, H(h_workspace_get) },
	{ HTTP_PATCH, "/api/v1/workspaces/{id}", "workspaces_update",
	    POLICY_USER, J, H(h_workspace_patch) },
	{ HTTP_DELETE, "/api/v1/workspaces/{id}", "workspaces_delete",
	    POLICY_USER, 0, H(h_workspace_delete) },
	{ HTTP_POST, "/api/v1/workspaces/{id}/extend", "workspaces_extend",
	    POLICY_USER, O, H(h_workspace_extend) },
	{ HTTP_PUT, "/api/v1/workspaces/{id}/ports/{port}",
	    "workspaces_port_share", POLICY_USER, J, H(h_workspace_port_put) },
	{ HTTP_DELETE, "/api/v1/workspaces/{id}/ports/{port}",
	    "workspaces_port_unshare", POLICY_USER, 0,
	    H(h_workspace_port_delete) },
	{ HTTP_POST, "/api/v1/workspaces/{id}/builds", "builds_create",
	    POLICY_USER, J, H(h_builds_create) },
	{ HTTP_GET, "/api/v1/workspaces/{id}/builds", "builds_list",
	    POLICY_USER, 0, H(h_builds_list) },
	{ HTTP_GET, "/api/v1/builds/{id}", "builds_get", POLICY_USER, 0,
	    H(h_build_get) },
	{ HTTP_GET, "/api/v1/builds/{id}/logs", "builds_logs", POLICY_USER, 0,
	    H(h_build_logs) },

	{ HTTP_GET, "/api/v1/quotas/{scope}/{id}", "quotas_get", POLICY_ADMIN,
	    0, H(h_quota_get) },
	{ HTTP_PUT, "/api/v1/quotas/{scope}/{id}", "quotas_set", POLICY_ADMIN,
	    J, H(h_quota_put) },

	{ HTTP_GET, "/api/v1/secrets", "secrets_list", POLICY_USER, 0,
	    H(h_secrets_list) },
	{ HTTP_POST, "/api/v1/secrets", "secrets_create", POLICY_USER, J,
	    H(h_secrets_create) },
	{ HTTP_PUT, "/api/v1/secrets/{id}", "secrets_update", POLICY_USER, J,
	    H(h_secret_put) },
	{ HTTP_DELETE, "/api/v1/secrets/{id}", "secrets_delete", POLICY_USER,
	    0, H(h_secret_delete) },

	{ HTTP_GET, "/api/v1/registries", "registries_list", POLICY_ADMIN, 0,
	    H(h_registries_list) },
	{ HTTP_POST, "/api/v1/registries", "registries_create", POLICY_ADMIN,
	    J, H(h_registries_create) },
	{ HTTP_PUT, "/api/v1/registries/{id}", "registries_update",
	    POLICY_ADMIN, J, H(h_registry_put) },
	{ HTTP_DELETE, "/api/v1/registries/{id}", "registries_delete",
	    POLICY_ADMIN, 0, H(h_registry_delete) },

	{ HTTP_GET, "/api/v1/openapi.json", "openapi", POLICY_PUBLIC, 0,
	    H(h_openapi) },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
