/*
 * The one route table.  Every endpoint is a row, with the policy that the
 * central dispatcher enforces before the handler runs.
 */
#include "config.h"

#include "handlers.h"
#include "router.h"

#define J	ROUTE_JSON_BODY
#define O	ROUTE_OPT_BODY

const struct route routes[] = {
	{ HTTP_GET, "/api/v1/health", "health", POLICY_PUBLIC, 0, h_health },
	{ HTTP_GET, "/api/v1/ready", "ready", POLICY_PUBLIC, 0, h_ready },
	{ HTTP_POST, "/api/v1/echo", "echo", POLICY_PUBLIC, J, h_echo },
	{ HTTP_GET, "/metrics", "metrics", POLICY_PUBLIC, 0, h_metrics },

	{ HTTP_POST, "/api/v1/auth/login", "auth_login", POLICY_PUBLIC, J,
	    h_login },
	{ HTTP_POST, "/api/v1/auth/refresh", "auth_refresh", POLICY_PUBLIC, O,
	    h_refresh },
	{ HTTP_POST, "/api/v1/auth/logout", "auth_logout", POLICY_USER, O,
	    h_logout },
	{ HTTP_POST, "/api/v1/auth/logout-all", "auth_logout_all", POLICY_USER,
	    O, h_logout_all },
	{ HTTP_GET, "/api/v1/auth/providers", "auth_providers", POLICY_PUBLIC,
	    0, h_providers },
	{ HTTP_GET, "/api/v1/auth/oauth/{provider}/start", "auth_oauth_start",
	    POLICY_PUBLIC, 0, h_oauth_start },
	{ HTTP_GET, "/api/v1/auth/oauth/{provider}/callback",
	    "auth_oauth_callback", POLICY_PUBLIC, 0, h_oauth_callback },
	{ HTTP_POST, "/api/v1/invitations", "invitations_create", POLICY_ADMIN,
	    J, h_invitations_create },

	{ HTTP_GET, "/api/v1/me", "me", POLICY_USER, 0, h_me },
	{ HTTP_GET, "/api/v1/me/sessions", "me_sessions", POLICY_USER, 0,
	    h_my_sessions },
	{ HTTP_DELETE, "/api/v1/me/sessions/{id}", "me_session_delete",
	    POLICY_USER, 0, h_my_session_delete },

	{ HTTP_GET, "/api/v1/users", "users_list", POLICY_ADMIN, 0,
	    h_users_list },
	{ HTTP_POST, "/api/v1/users", "users_create", POLICY_ADMIN, J,
	    h_users_create },
	{ HTTP_GET, "/api/v1/users/{id}", "users_get", POLICY_USER, 0,
	    h_user_get },
	{ HTTP_PATCH, "/api/v1/users/{id}", "users_update", POLICY_USER, J,
	    h_user_patch },
	{ HTTP_DELETE, "/api/v1/users/{id}", "users_delete", POLICY_ADMIN, 0,
	    h_user_delete },

	{ HTTP_GET, "/api/v1/orgs", "orgs_list", POLICY_USER, 0, h_orgs_list },
	{ HTTP_POST, "/api/v1/orgs", "orgs_create", POLICY_ADMIN, J,
	    h_orgs_create },
	{ HTTP_GET, "/api/v1/orgs/{id}", "orgs_get", POLICY_USER, 0,
	    h_org_get },
	{ HTTP_PATCH, "/api/v1/orgs/{id}", "orgs_update", POLICY_USER, J,
	    h_org_patch },
	{ HTTP_DELETE, "/api/v1/orgs/{id}", "orgs_delete", POLICY_USER, 0,
	    h_org_delete },
	{ HTTP_GET, "/api/v1/orgs/{id}/members", "orgs_members", POLICY_USER,
	    0, h_org_members },
	{ HTTP_PUT, "/api/v1/orgs/{id}/members/{user}", "orgs_member_set",
	    POLICY_USER, J, h_org_member_put },
	{ HTTP_DELETE, "/api/v1/orgs/{id}/members/{user}",
	    "orgs_member_remove", POLICY_USER, 0, h_org_member_delete },

	{ HTTP_GET, "/api/v1/tokens", "tokens_list", POLICY_USER, 0,
	    h_tokens_list },
	{ HTTP_POST, "/api/v1/tokens", "tokens_create", POLICY_USER, J,
	    h_tokens_create },
	{ HTTP_DELETE, "/api/v1/tokens/{id}", "tokens_revoke", POLICY_USER, 0,
	    h_token_delete },

	{ HTTP_GET, "/api/v1/audit", "audit_list", POLICY_AUDITOR, 0,
	    h_audit_list },
};

const size_t nroutes = sizeof(routes) / sizeof(routes[0]);
