-- One vocabulary of workspace status.  The view's status is a value of
-- this type, whose labels are the names of enum ws_status in
-- src/lib/wstatus.h, in its order: a derivation that named anything else
-- would not be created.  The API, the reconciler (which reads the status
-- here instead of deriving its own) and the pages use these names.
CREATE TYPE workspace_status AS ENUM ('starting', 'running', 'stopping',
	'stopped', 'restarting', 'updating', 'deleting', 'deleted', 'failed',
	'canceled', 'dormant', 'unknown');

DROP VIEW workspace_states;
CREATE VIEW workspace_states AS
SELECT w.*, b.id AS build_id, b.number AS build_number,
	b.transition AS build_transition, b.status AS build_status,
	(CASE
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
	ELSE 'canceled' END)::workspace_status AS status,
	CASE WHEN hs.reachable = false AND w.deleted_at IS NULL
		THEN format('the Docker host %s does not answer', hs.name)
	END AS status_reason
FROM workspaces w
LEFT JOIN LATERAL (SELECT id, number, transition, status
	FROM workspace_builds WHERE workspace_id = w.id
	ORDER BY number DESC LIMIT 1) b ON true
LEFT JOIN deployments d ON d.workspace_id = w.id
LEFT JOIN docker_host_status hs ON hs.name = d.docker_host;
