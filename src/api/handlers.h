/* Handlers: one section per h_*.c file.  Each always fills the response. */
#ifndef WARREN_HANDLERS_H
#define WARREN_HANDLERS_H

#include "http.h"

/* h_system.c */
void	h_health(struct request *, struct response *);
void	h_ready(struct request *, struct response *);
void	h_metrics(struct request *, struct response *);
#ifdef WARREN_TEST_ROUTES
void	h_echo(struct request *, struct response *);
#endif

/* h_auth.c */
void	h_login(struct request *, struct response *);
void	h_refresh(struct request *, struct response *);
void	h_logout(struct request *, struct response *);
void	h_logout_all(struct request *, struct response *);

/* h_oauth.c */
void	h_providers(struct request *, struct response *);
void	h_oauth_start(struct request *, struct response *);
void	h_oauth_callback(struct request *, struct response *);
void	h_invitations_create(struct request *, struct response *);
void	h_invitations_list(struct request *, struct response *);
void	h_invitation_revoke(struct request *, struct response *);

/* h_users.c */
void	h_me(struct request *, struct response *);
void	h_my_sessions(struct request *, struct response *);
void	h_my_session_delete(struct request *, struct response *);
void	h_users_list(struct request *, struct response *);
void	h_users_create(struct request *, struct response *);
void	h_user_get(struct request *, struct response *);
void	h_user_patch(struct request *, struct response *);
void	h_user_delete(struct request *, struct response *);

/* h_orgs.c */
void	h_orgs_list(struct request *, struct response *);
void	h_orgs_create(struct request *, struct response *);
void	h_org_get(struct request *, struct response *);
void	h_org_patch(struct request *, struct response *);
void	h_org_delete(struct request *, struct response *);
void	h_org_members(struct request *, struct response *);
void	h_org_member_put(struct request *, struct response *);
void	h_org_member_delete(struct request *, struct response *);

/* h_tokens.c */
void	h_tokens_list(struct request *, struct response *);
void	h_tokens_create(struct request *, struct response *);
void	h_token_delete(struct request *, struct response *);

/* h_audit.c */
void	h_audit_list(struct request *, struct response *);

/* h_templates.c */
void	h_templates_list(struct request *, struct response *);
void	h_templates_create(struct request *, struct response *);
void	h_template_get(struct request *, struct response *);
void	h_template_patch(struct request *, struct response *);
void	h_template_archive(struct request *, struct response *);
void	h_template_versions(struct request *, struct response *);
void	h_template_version_create(struct request *, struct response *);
void	h_template_version_get(struct request *, struct response *);

/* h_workspaces.c */
void	h_workspaces_list(struct request *, struct response *);
void	h_workspaces_create(struct request *, struct response *);
void	h_workspace_get(struct request *, struct response *);
void	h_workspace_patch(struct request *, struct response *);
void	h_workspace_delete(struct request *, struct response *);
void	h_workspace_extend(struct request *, struct response *);
void	h_workspace_port_put(struct request *, struct response *);
void	h_workspace_port_delete(struct request *, struct response *);

/* h_builds.c */
void	h_builds_create(struct request *, struct response *);
void	h_builds_list(struct request *, struct response *);
void	h_build_get(struct request *, struct response *);
void	h_build_logs(struct request *, struct response *);

/* h_quotas.c */
void	h_quota_get(struct request *, struct response *);
void	h_quota_put(struct request *, struct response *);

/* h_registries.c */
void	h_registries_list(struct request *, struct response *);
void	h_registries_create(struct request *, struct response *);
void	h_registry_put(struct request *, struct response *);
void	h_registry_delete(struct request *, struct response *);

/* h_secrets.c; secrets_key_ready answers 503 (what: "secrets", ...) when
 * the server has no secrets key. */
bool	secrets_key_ready(struct request *, struct response *, const char *what);
void	h_secrets_list(struct request *, struct response *);
void	h_secrets_create(struct request *, struct response *);
void	h_secret_put(struct request *, struct response *);
void	h_secret_delete(struct request *, struct response *);

/* h_forward.c */
void	h_forward(struct request *, struct response *);
void	h_handoff(struct request *, struct response *);
void	h_handoff_redeem(struct request *, struct response *);

/* h_openapi.c */
void	h_openapi(struct request *, struct response *);

#endif
