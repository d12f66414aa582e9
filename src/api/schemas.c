/*
 * The schemas of the OpenAPI document (schemas.h), as tables: a resource
 * is a list of its members, "name type", the way its handler builds it
 * (mostly the columns it selects); a route's answers are rows by status.
 *
 * A member's type is one of uuid, time (RFC 3339), string, integer,
 * boolean, object and any; =a|b|c for one of these strings; @Name for a
 * component; []type for an array of type.  A final '?' admits null.  A
 * name that starts with '~' is a member that is not always there.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "schemas.h"
#include "wstatus.h"

#define ROLE		"=admin|template-admin|auditor|member"
#define ORG_ROLE	"=owner|admin|member"
#define SHARE_LEVEL	"=owner|org|authenticated|public"
#define TRANSITION	"=start|stop|restart|update|delete"
#define BUILD_STATUS	"=pending|running|succeeded|failed|canceled"
#define TOKEN_SCOPE	"=read|full|workspace"

static const char *const problem_m[] = { "type string", "title string",
	"status integer", "~detail string", "~request_id string", NULL };

static const char *const health_m[] = { "status =ok", NULL };
static const char *const ready_m[] = { "status =ready",
	"schema_version integer", NULL };
static const char *const echo_m[] = { "received any", NULL };
static const char *const openapi_m[] = { "openapi string", "info object",
	"paths object", NULL };

static const char *const signin_m[] = { "user_id uuid", "session_id uuid",
	"csrf_token string", "token_type =Bearer", "expires_in integer",
	"~access_token string", "~refresh_token string", NULL };
static const char *const login_m[] = { "username string", "role " ROLE,
	NULL };
static const char *const provider_m[] = { "name string",
	"display_name string", "start_url string", NULL };
static const char *const providers_m[] = { "providers []@Provider",
	"password boolean", NULL };

static const char *const invitation_m[] = { "id uuid", "email string?",
	"role " ROLE, "status =pending|used|expired|revoked", "created_at time",
	"expires_at time", "created_by uuid?", "created_by_name string?",
	"used_at time?", "used_by uuid?", "used_by_name string?",
	"revoked_at time?", NULL };
static const char *const invitation_new_m[] = { "id uuid", "email string?",
	"role " ROLE, "expires_at time", "code string", NULL };

static const char *const me_m[] = { "id uuid", "username string",
	"email string?", "display_name string", "role " ROLE,
	"auth =api_token|cookie|bearer", "~token_scope " TOKEN_SCOPE,
	"~session_id string", NULL };
static const char *const session_m[] = { "id uuid", "created_at time",
	"last_seen_at time", "expires_at time", "source_addr string?",
	"user_agent string?", "current boolean?", NULL };

static const char *const user_m[] = { "id uuid", "username string",
	"email string?", "display_name string", "role " ROLE,
	"disabled boolean", "has_password boolean", "created_at time",
	"updated_at time", "~organizations []@UserOrg", NULL };
static const char *const user_org_m[] = { "id uuid", "name string",
	"display_name string", "role " ORG_ROLE, NULL };

static const char *const org_m[] = { "id uuid", "name string",
	"display_name string", "created_at time", "~my_role =|owner|admin|member",
	NULL };
static const char *const member_m[] = { "user_id uuid", "username string",
	"display_name string", "role " ORG_ROLE, "created_at time", NULL };
static const char *const membership_m[] = { "org_id uuid", "user_id uuid",
	"role " ORG_ROLE, "created_at time", NULL };

static const char *const token_m[] = { "id uuid", "name string",
	"scope " TOKEN_SCOPE, "created_at time", "expires_at time?",
	"last_used_at time?", "revoked_at time?", NULL };
static const char *const token_new_m[] = { "token string", NULL };

static const char *const audit_m[] = { "id integer", "at time",
	"actor_id uuid?", "actor_name string?", "action string",
	"target_type string?", "target_id string?", "source_addr string?",
	"result =success|failure|denied", "details object",
	"request_id string?", NULL };

static const char *const template_m[] = { "id uuid", "name string",
	"display_name string", "description string", "archived_at time?",
	"created_at time", "updated_at time", "active_version integer?",
	"~active @TemplateVersion", NULL };
static const char *const version_m[] = { "id uuid", "number integer",
	"image string", "command []string", "args []string", "env object",
	"ports []object", "cpu_millis integer", "memory_mb integer",
	"pids integer", "home_path string", "uid integer", "gid integer",
	"probe object", "idle_timeout integer?", "max_lifetime integer?",
	"max_share_level " SHARE_LEVEL, "parameters []object",
	"secrets []string", "capabilities []string",
	"restart_policy =restart|fail", "starters []object", "pool object?",
	"created_at time", "active boolean", NULL };

static const char *const workspace_m[] = { "id uuid", "short_id string",
	"name string", "owner_id uuid", "org_id uuid?", "template_id uuid",
	"template_version_id uuid", "template_version integer",
	"parameters object", "secrets []string",
	"desired_state =running|stopped|deleted", "status @WorkspaceStatus",
	"autostop_ttl integer?", "idle_timeout integer?", "deadline time?",
	"max_deadline time?", "started_at time?", "stopped_at time?",
	"last_activity_at time?", "last_activity_cause string?",
	"dormant_at time?", "deleting_at time?", "created_at time",
	"updated_at time", "build_id uuid?", "build_number integer?",
	"build_transition " TRANSITION "?", "build_status " BUILD_STATUS "?",
	"status_reason string?", "starter string?", "repository @Repository?",
	"initialized_at time?", "url string", "url_pattern string",
	"~dormant_at_after time?", "~delete_at_after time?",
	"~shared_ports []@PortShare", NULL };
static const char *const repository_m[] = { "url string", "~branch string",
	"~secret string", "directory string", NULL };
static const char *const port_share_m[] = { "port integer",
	"level " SHARE_LEVEL, "updated_at time", "~url string", NULL };
static const char *const ws_deletion_m[] = { "build_id uuid", NULL };
static const char *const ws_deadline_m[] = { "deadline time", NULL };

static const char *const build_m[] = { "id uuid", "workspace_id uuid",
	"number integer", "transition " TRANSITION,
	"reason =user|autostop|idle|lifetime|dormancy|failure|admin|membership"
	"|pool", "initiator_id uuid?", "template_version_id uuid",
	"template_version integer", "status " BUILD_STATUS, "error string?",
	"image_digest string?", "created_at time", "started_at time?",
	"completed_at time?", NULL };
static const char *const log_line_m[] = { "seq integer", "at time",
	"stream =system|stdout|stderr", "line string", NULL };
static const char *const build_logs_m[] = { "items []@BuildLogLine",
	"next_after integer", "done boolean", NULL };

static const char *const quota_m[] = { "scope =user|org", "subject_id uuid",
	"max_workspaces integer?", "max_running integer?",
	"max_cpu_millis integer?", "max_memory_mb integer?",
	"~updated_at time", NULL };
static const char *const secret_m[] = { "id uuid", "scope =user|org",
	"owner_id uuid", "name string", "created_at time", "updated_at time",
	NULL };
static const char *const registry_m[] = { "id uuid", "registry string",
	"username string", "created_at time", "updated_at time", NULL };

/* Lists: items, and a page's next_cursor (null on the last page). */
#define ITEMS(name, type) \
	static const char *const name[] = { "items []@" type, NULL }
#define PAGE(name, type) \
	static const char *const name[] = { "items []@" type, \
	    "next_cursor string?", NULL }

PAGE(invitation_list_m, "Invitation");
ITEMS(session_list_m, "Session");
PAGE(user_list_m, "User");
PAGE(org_list_m, "Org");
ITEMS(member_list_m, "Member");
ITEMS(token_list_m, "Token");
PAGE(audit_list_m, "AuditEntry");
PAGE(template_list_m, "Template");
ITEMS(version_list_m, "TemplateVersion");
PAGE(workspace_list_m, "Workspace");
PAGE(build_list_m, "Build");
ITEMS(secret_list_m, "Secret");
ITEMS(registry_list_m, "Registry");

static const struct component {
	const char		*name;
	const char		*base;	/* all of this component, and more */
	const char *const	*members;
	const char		*description;
} components[] = {
	{ "Problem", NULL, problem_m, "RFC 9457 problem details; a problem "
	    "may carry extension members" },
	{ "Health", NULL, health_m, NULL },
	{ "Ready", NULL, ready_m, NULL },
	{ "Echo", NULL, echo_m, "test builds only: the body received" },
	{ "OpenAPI", NULL, openapi_m, "this document" },
	{ "SignIn", NULL, signin_m, "a session's tokens; access_token and "
	    "refresh_token only for a request without an Origin (scripts), "
	    "browsers get cookies" },
	{ "Login", "SignIn", login_m, NULL },
	{ "Provider", NULL, provider_m, NULL },
	{ "Providers", NULL, providers_m, NULL },
	{ "Invitation", NULL, invitation_m, NULL },
	{ "InvitationCreated", NULL, invitation_new_m, "the code is shown "
	    "once" },
	{ "InvitationList", NULL, invitation_list_m, NULL },
	{ "Me", NULL, me_m, NULL },
	{ "Session", NULL, session_m, NULL },
	{ "SessionList", NULL, session_list_m, NULL },
	{ "User", NULL, user_m, "organizations on reads and updates, not on "
	    "lists" },
	{ "UserOrg", NULL, user_org_m, NULL },
	{ "UserList", NULL, user_list_m, NULL },
	{ "Org", NULL, org_m, "my_role on reads and lists: the caller's "
	    "role, empty when not a member" },
	{ "OrgList", NULL, org_list_m, NULL },
	{ "Member", NULL, member_m, NULL },
	{ "MemberList", NULL, member_list_m, NULL },
	{ "Membership", NULL, membership_m, NULL },
	{ "Token", NULL, token_m, NULL },
	{ "TokenCreated", "Token", token_new_m, "the secret is shown once" },
	{ "TokenList", NULL, token_list_m, NULL },
	{ "AuditEntry", NULL, audit_m, NULL },
	{ "AuditList", NULL, audit_list_m, NULL },
	{ "Template", NULL, template_m, "active: the active version, on "
	    "reads" },
	{ "TemplateList", NULL, template_list_m, NULL },
	{ "TemplateVersion", NULL, version_m, NULL },
	{ "TemplateVersionList", NULL, version_list_m, NULL },
	{ "Workspace", NULL, workspace_m, "shared_ports on reads and "
	    "changes of one workspace, not in lists" },
	{ "WorkspaceList", NULL, workspace_list_m, NULL },
	{ "Repository", NULL, repository_m, NULL },
	{ "PortShare", NULL, port_share_m, NULL },
	{ "WorkspaceDeletion", NULL, ws_deletion_m, "the delete build" },
	{ "WorkspaceDeadline", NULL, ws_deadline_m, NULL },
	{ "Build", NULL, build_m, NULL },
	{ "BuildList", NULL, build_list_m, NULL },
	{ "BuildLogLine", NULL, log_line_m, NULL },
	{ "BuildLogs", NULL, build_logs_m, NULL },
	{ "Quota", NULL, quota_m, "a null limit is none" },
	{ "Secret", NULL, secret_m, "values never come out" },
	{ "SecretList", NULL, secret_list_m, NULL },
	{ "Registry", NULL, registry_m, "passwords never come out" },
	{ "RegistryList", NULL, registry_list_m, NULL },
};

/* What the API answers with besides JSON (in a row's schema column). */
#define TEXT	"text/plain"
#define EMPTY	NULL

static const char ws_example[] =
    "{\"id\":\"0b7d5c1e-3f0a-4c59-9a51-2d7e8f6a4b10\","
    "\"short_id\":\"k3pzq7vb2m\",\"name\":\"dev\","
    "\"owner_id\":\"6f1c2a9e-8b3d-4e57-a0c4-1d2e3f4a5b6c\",\"org_id\":null,"
    "\"template_id\":\"2c4e6a8b-0d1f-4a3c-9e5b-7d9f1b3d5f70\","
    "\"template_version_id\":\"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d\","
    "\"template_version\":1,\"parameters\":{},\"secrets\":[],"
    "\"desired_state\":\"running\",\"status\":\"running\","
    "\"autostop_ttl\":null,\"idle_timeout\":null,\"deadline\":null,"
    "\"max_deadline\":\"2026-01-03T09:00:00.123456Z\","
    "\"started_at\":\"2026-01-02T09:00:05.5Z\",\"stopped_at\":null,"
    "\"last_activity_at\":null,\"last_activity_cause\":null,"
    "\"dormant_at\":null,\"deleting_at\":null,"
    "\"created_at\":\"2026-01-02T09:00:00.123456Z\","
    "\"updated_at\":\"2026-01-02T09:00:00.123456Z\","
    "\"build_id\":\"4d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a\","
    "\"build_number\":1,\"build_transition\":\"start\","
    "\"build_status\":\"succeeded\",\"status_reason\":null,"
    "\"starter\":null,\"repository\":null,\"initialized_at\":null,"
    "\"url\":\"https://k3pzq7vb2m.ws.example.org\","
    "\"url_pattern\":\"https://k3pzq7vb2m-{port}.ws.example.org\","
    "\"shared_ports\":[{\"port\":8080,\"level\":\"authenticated\","
    "\"updated_at\":\"2026-01-02T09:10:00Z\","
    "\"url\":\"https://k3pzq7vb2m-8080.ws.example.org\"}]}";

/*
 * Each route's answers, by route name: its success statuses with their
 * schema, and the statuses of its own that are not problems.  Every
 * route also answers problems, 4XX and 5XX.
 */
static const struct answer {
	const char	*route;
	int		 status;
	const char	*schema;	/* a component, TEXT or EMPTY */
	const char	*example;	/* JSON text */
} answers[] = {
	{ "health", 200, "Health", "{\"status\":\"ok\"}" },
	{ "ready", 200, "Ready", "{\"status\":\"ready\",\"schema_version\":17}" },
	{ "echo", 200, "Echo", NULL },
	{ "metrics", 200, TEXT, NULL },
	{ "auth_login", 200, "Login", NULL },
	{ "auth_refresh", 200, "SignIn", NULL },
	{ "auth_logout", 204, EMPTY, NULL },
	{ "auth_logout_all", 204, EMPTY, NULL },
	{ "auth_providers", 200, "Providers", NULL },
	{ "auth_oauth_start", 302, EMPTY, NULL },
	{ "auth_oauth_callback", 302, EMPTY, NULL },
	/* A FastCGI Authorizer's answers, which the web server passes on. */
	{ "auth_forward", 200, TEXT, NULL },
	{ "auth_forward", 302, EMPTY, NULL },
	{ "auth_forward", 401, TEXT, NULL },
	{ "auth_forward", 403, TEXT, NULL },
	{ "auth_forward", 404, TEXT, NULL },
	{ "auth_forward", 503, TEXT, NULL },
	{ "auth_handoff", 302, EMPTY, NULL },
	{ "auth_handoff_redeem", 302, EMPTY, NULL },
	{ "invitations_list", 200, "InvitationList", NULL },
	{ "invitations_create", 201, "InvitationCreated", NULL },
	{ "invitations_revoke", 204, EMPTY, NULL },
	{ "me", 200, "Me", NULL },
	{ "me_sessions", 200, "SessionList", NULL },
	{ "me_session_delete", 204, EMPTY, NULL },
	{ "users_list", 200, "UserList", NULL },
	{ "users_create", 201, "User", NULL },
	{ "users_get", 200, "User", NULL },
	{ "users_update", 200, "User", NULL },
	{ "users_delete", 204, EMPTY, NULL },
	{ "orgs_list", 200, "OrgList", NULL },
	{ "orgs_create", 201, "Org", NULL },
	{ "orgs_get", 200, "Org", NULL },
	{ "orgs_update", 200, "Org", NULL },
	{ "orgs_delete", 204, EMPTY, NULL },
	{ "orgs_members", 200, "MemberList", NULL },
	{ "orgs_member_set", 200, "Membership", NULL },
	{ "orgs_member_remove", 204, EMPTY, NULL },
	{ "tokens_list", 200, "TokenList", NULL },
	{ "tokens_create", 201, "TokenCreated", NULL },
	{ "tokens_revoke", 204, EMPTY, NULL },
	{ "audit_list", 200, "AuditList", NULL },
	{ "templates_list", 200, "TemplateList", NULL },
	{ "templates_create", 201, "Template", NULL },
	{ "templates_get", 200, "Template", NULL },
	{ "templates_update", 200, "Template", NULL },
	{ "templates_archive", 204, EMPTY, NULL },
	{ "templates_versions", 200, "TemplateVersionList", NULL },
	{ "templates_version_create", 201, "TemplateVersion", NULL },
	{ "templates_version_get", 200, "TemplateVersion", NULL },
	{ "workspaces_list", 200, "WorkspaceList", NULL },
	{ "workspaces_create", 201, "Workspace", NULL },
	{ "workspaces_get", 200, "Workspace", ws_example },
	{ "workspaces_update", 200, "Workspace", NULL },
	{ "workspaces_delete", 202, "WorkspaceDeletion", NULL },
	{ "workspaces_extend", 200, "WorkspaceDeadline", NULL },
	{ "workspaces_port_share", 200, "PortShare", NULL },
	{ "workspaces_port_unshare", 204, EMPTY, NULL },
	{ "builds_create", 201, "Build", NULL },
	{ "builds_list", 200, "BuildList", NULL },
	{ "builds_get", 200, "Build", NULL },
	{ "builds_logs", 200, "BuildLogs", NULL },
	{ "quotas_get", 200, "Quota", NULL },
	{ "quotas_set", 200, "Quota", NULL },
	{ "secrets_list", 200, "SecretList", NULL },
	{ "secrets_create", 201, "Secret", NULL },
	{ "secrets_update", 200, "Secret", NULL },
	{ "secrets_delete", 204, EMPTY, NULL },
	{ "registries_list", 200, "RegistryList", NULL },
	{ "registries_create", 201, "Registry", NULL },
	{ "registries_update", 200, "Registry", NULL },
	{ "registries_delete", 204, EMPTY, NULL },
	{ "openapi", 200, "OpenAPI", NULL },
};

static const struct {
	const char	*name, *type, *format;
} basic_types[] = {
	{ "uuid", "string", "uuid" },
	{ "time", "string", "date-time" },
	{ "string", "string", NULL },
	{ "integer", "integer", NULL },
	{ "boolean", "boolean", NULL },
	{ "object", "object", NULL },
	{ "any", NULL, NULL },
};

static struct json_object *
str(const char *s)
{
	return json_object_new_string(s);
}

static struct json_object *
type_name(const char *type, bool nullable)
{
	struct json_object *a;

	if (!nullable)
		return str(type);
	a = json_object_new_array();
	json_object_array_add(a, str(type));
	json_object_array_add(a, str("null"));
	return a;
}

static struct json_object *
ref(const char *name, size_t n)
{
	struct json_object *o = json_object_new_object();
	char buf[128];

	snprintf(buf, sizeof(buf), "#/components/schemas/%.*s", (int)n, name);
	json_object_object_add(o, "$ref", str(buf));
	return o;
}

/* "=a|b|c": one of these strings. */
static struct json_object *
choice(const char *t, size_t n, bool nullable)
{
	struct json_object *o = json_object_new_object(), *e;
	const char *end = t + n, *bar;

	e = json_object_new_array();
	for (t++; ; t = bar + 1) {
		if ((bar = memchr(t, '|', (size_t)(end - t))) == NULL)
			bar = end;
		json_object_array_add(e, json_object_new_string_len(t,
		    (int)(bar - t)));
		if (bar == end)
			break;
	}
	if (nullable)
		json_object_array_add(e, NULL);
	json_object_object_add(o, "type", type_name("string", nullable));
	json_object_object_add(o, "enum", e);
	return o;
}

static struct json_object *
basic(const char *t, size_t n, bool nullable)
{
	struct json_object *o;
	size_t i;

	for (i = 0; i < sizeof(basic_types) / sizeof(basic_types[0]); i++)
		if (strlen(basic_types[i].name) == n &&
		    strncmp(basic_types[i].name, t, n) == 0)
			break;
	if (i == sizeof(basic_types) / sizeof(basic_types[0]))
		fatalx("schemas: no type %.*s", (int)n, t);
	o = json_object_new_object();
	if (basic_types[i].type != NULL)
		json_object_object_add(o, "type",
		    type_name(basic_types[i].type, nullable));
	if (basic_types[i].format != NULL)
		json_object_object_add(o, "format",
		    str(basic_types[i].format));
	return o;
}

/* The schema of a member's type, t[0..n). */
static struct json_object *
type_schema(const char *t, size_t n)
{
	struct json_object *o, *any;
	bool nullable = n > 0 && t[n - 1] == '?';

	if (nullable)
		n--;
	if (n > 2 && strncmp(t, "[]", 2) == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "type", type_name("array", nullable));
		json_object_object_add(o, "items", type_schema(t + 2, n - 2));
		return o;
	}
	if (n > 1 && t[0] == '=')
		return choice(t, n, nullable);
	if (n > 1 && t[0] == '@') {
		if (!nullable)
			return ref(t + 1, n - 1);
		o = json_object_new_object();
		any = json_object_new_array();
		json_object_array_add(any, ref(t + 1, n - 1));
		json_object_array_add(any, json_tokener_parse(
		    "{\"type\":\"null\"}"));
		json_object_object_add(o, "anyOf", any);
		return o;
	}
	return basic(t, n, nullable);
}

/* An object of these members; others may come, as the API grows. */
static struct json_object *
members_schema(const char *const *m)
{
	struct json_object *o = json_object_new_object(), *props, *req;
	const char *name, *sp;
	char key[64];

	props = json_object_new_object();
	req = json_object_new_array();
	for (; *m != NULL; m++) {
		if ((sp = strchr(*m, ' ')) == NULL)
			fatalx("schemas: no type for %s", *m);
		name = **m == '~' ? *m + 1 : *m;
		snprintf(key, sizeof(key), "%.*s", (int)(sp - name), name);
		json_object_object_add(props, key, type_schema(sp + 1,
		    strlen(sp + 1)));
		if (**m != '~')
			json_object_array_add(req, str(key));
	}
	json_object_object_add(o, "type", str("object"));
	json_object_object_add(o, "properties", props);
	if (json_object_array_length(req) > 0)
		json_object_object_add(o, "required", req);
	else
		json_object_put(req);
	return o;
}

static struct json_object *
component_schema(const struct component *c)
{
	struct json_object *o = members_schema(c->members), *all;

	if (c->base != NULL) {
		all = json_object_new_array();
		json_object_array_add(all, ref(c->base, strlen(c->base)));
		json_object_array_add(all, o);
		o = json_object_new_object();
		json_object_object_add(o, "allOf", all);
	}
	if (c->description != NULL)
		json_object_object_add(o, "description", str(c->description));
	return o;
}

/* The one vocabulary of workspace status (wstatus.h). */
static struct json_object *
status_schema(void)
{
	struct json_object *o = json_object_new_object(), *e;
	int i;

	json_object_object_add(o, "type", str("string"));
	e = json_object_new_array();
	for (i = 0; i < WS_STATUS_COUNT; i++)
		json_object_array_add(e, str(ws_status_name(i)));
	json_object_object_add(o, "enum", e);
	return o;
}

struct json_object *
openapi_schemas(void)
{
	struct json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < sizeof(components) / sizeof(components[0]); i++)
		json_object_object_add(o, components[i].name,
		    component_schema(&components[i]));
	json_object_object_add(o, "WorkspaceStatus", status_schema());
	return o;
}

/* {"schema": s} as the media type of a content object, added to r. */
static void
content(struct json_object *r, const char *type, struct json_object *s)
{
	struct json_object *c, *m;

	if (!json_object_object_get_ex(r, "content", &c)) {
		c = json_object_new_object();
		json_object_object_add(r, "content", c);
	}
	m = json_object_new_object();
	json_object_object_add(m, "schema", s);
	json_object_object_add(c, type, m);
}

static struct json_object *
problem_response(const char *what)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "description", str(what));
	content(r, "application/problem+json", ref("Problem", 7));
	return r;
}

/* One answer of a route; a HEAD request's has no body. */
static struct json_object *
answer_response(const struct answer *a, unsigned method)
{
	struct json_object *r = json_object_new_object(), *m;
	char what[64];

	snprintf(what, sizeof(what), "%s%s", a->status >= 400 ?
	    "refused: " : "", a->schema == EMPTY ? "no content" : a->schema);
	json_object_object_add(r, "description", str(what));
	if (a->status == 302)
		json_object_object_add(r, "headers", json_tokener_parse(
		    "{\"Location\":{\"description\":\"where to go next\","
		    "\"schema\":{\"type\":\"string\"}}}"));
	if (a->schema == EMPTY || method == HTTP_HEAD)
		return r;
	if (strcmp(a->schema, TEXT) == 0)
		content(r, "text/plain", json_tokener_parse(
		    "{\"type\":\"string\"}"));
	else
		content(r, "application/json", ref(a->schema,
		    strlen(a->schema)));
	if (a->example != NULL) {
		json_object_object_get_ex(json_object_object_get(r, "content"),
		    "application/json", &m);
		json_object_object_add(m, "example",
		    json_tokener_parse(a->example));
	}
	/* The same status may be a problem too (the database is down). */
	if (a->status >= 400)
		content(r, "application/problem+json", ref("Problem", 7));
	return r;
}

struct json_object *
openapi_responses(const struct route *rt, unsigned method)
{
	struct json_object *rs = json_object_new_object(), *ok;
	char code[8];
	size_t i;

	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		if (strcmp(answers[i].route, rt->name) == 0) {
			snprintf(code, sizeof(code), "%d", answers[i].status);
			json_object_object_add(rs, code,
			    answer_response(&answers[i], method));
		}
	if (json_object_object_length(rs) == 0) {
		ok = json_object_new_object();
		json_object_object_add(ok, "description", str("success"));
		if (method != HTTP_HEAD)
			content(ok, "application/json", json_tokener_parse(
			    "{\"type\":\"object\"}"));
		json_object_object_add(rs, "2XX", ok);
	}
	json_object_object_add(rs, "4XX", problem_response("client error"));
	json_object_object_add(rs, "5XX", problem_response("server error"));
	return rs;
}
