-- A workspace created without a start has no build: it is stopped, not
-- "canceled".
CREATE OR REPLACE VIEW workspace_states AS
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
		WHEN 'delete' THEN 'deleted' ELSE 'running' END
	WHEN b.status = 'failed' THEN 'failed'
	ELSE 'canceled' END AS status
FROM workspaces w
LEFT JOIN LATERAL (SELECT id, number, transition, status
	FROM workspace_builds WHERE workspace_id = w.id
	ORDER BY number DESC LIMIT 1) b ON true;
