-- First-start initialization.  A template version may offer starters: sets
-- of files put into a new workspace's home on its first start.  A workspace
-- may name one, and a git repository to clone into its home: {"url",
-- "branch", "secret", "directory"}, the secret (a name, resolved like the
-- workspace's other secrets) holding "username:password" or a token.  Both
-- run inside the workspace, as its user, once: initialized_at is set when
-- they succeeded, and the reconciler never runs them again.
ALTER TABLE template_versions ADD COLUMN starters jsonb NOT NULL DEFAULT '[]';
ALTER TABLE workspaces ADD COLUMN starter text
	CHECK (starter ~ '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$');
ALTER TABLE workspaces ADD COLUMN repository jsonb;
ALTER TABLE workspaces ADD COLUMN initialized_at timestamptz;

-- The view lists the workspace's columns: made again to show the new ones.
DROP VIEW workspace_states;
CREATE VIEW workspace_states AS
SELECT w.*, b.id AS build_id, b.number AS build_number,
	b.transition AS build_transition, b.status AS build_status,
	CASE
	WHEN w.deleted_at IS NOT NULL THEN 'deleted'
	WHEN b.id IS NULL THEN 'stopped'
	WHEN b.status IN ('pending', 'running') THEN
		CASE b.transition WHEN 'start' THEN 'starting'
		WHEN 'stop' THEN 'stopping' WHEN 'restart' THEN 'restarting'
		WHEN 'update' THEN 'updating' ELSE 'deleting' END
	WHEN b.status = 'succeeded' THEN
		CASE b.transition
		WHEN 'stop' THEN CASE WHEN w.dormant_at IS NOT NULL
			THEN 'dormant' ELSE 'stopped' END
		WHEN 'delete' THEN 'deleted'
		ELSE CASE WHEN hs.reachable = false THEN 'unknown'
			ELSE 'running' END END
	WHEN b.status = 'failed' THEN 'failed'
	ELSE 'canceled' END AS status,
	CASE WHEN hs.reachable = false AND w.deleted_at IS NULL
		THEN format('the Docker host %s does not answer', hs.name)
	END AS status_reason
FROM workspaces w
LEFT JOIN LATERAL (SELECT id, number, transition, status
	FROM workspace_builds WHERE workspace_id = w.id
	ORDER BY number DESC LIMIT 1) b ON true
LEFT JOIN deployments d ON d.workspace_id = w.id
LEFT JOIN docker_host_status hs ON hs.name = d.docker_host;
