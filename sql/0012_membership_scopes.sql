-- A workspace of an organization stops when its owner leaves it: a build
-- with reason "membership".  API tokens of scope "workspace" open
-- workspaces and nothing else; "read" tokens never open one.
ALTER TABLE workspace_builds DROP CONSTRAINT workspace_builds_reason_check;
ALTER TABLE workspace_builds ADD CONSTRAINT workspace_builds_reason_check
	CHECK (reason IN ('user', 'autostop', 'idle', 'lifetime', 'dormancy',
	                  'failure', 'admin', 'membership'));
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scope_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scope_check
	CHECK (scope IN ('read', 'full', 'workspace'));
