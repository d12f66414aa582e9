-- Warm pools.  A template version may keep prebuilt workspaces: pool is
-- {"size": N, "parameters": {...}} (the values with defaults filled in).
-- warren-reconciler keeps N members of the active version of each
-- template created, started, probed and paused; a member is a workspace
-- row with pool_version_id set, owned by the pool's own user (below), and
-- no user sees it.  A create whose template version and parameters match
-- a pool claims a member in its transaction (FOR UPDATE SKIP LOCKED): the
-- row becomes the user's (pool_version_id NULL) and a start build resumes
-- it; the reconciler refills the pool.  Members of versions that are no
-- longer active, or beyond the size, are deleted.
ALTER TABLE template_versions ADD COLUMN pool jsonb;
ALTER TABLE workspaces ADD COLUMN pool_version_id uuid
	REFERENCES template_versions (id);
-- A member's start, and its deletion when its version is no longer
-- active, are builds of reason "pool".
ALTER TABLE workspace_builds DROP CONSTRAINT workspace_builds_reason_check;
ALTER TABLE workspace_builds ADD CONSTRAINT workspace_builds_reason_check
	CHECK (reason IN ('user', 'autostop', 'idle', 'lifetime', 'dormancy',
	                  'failure', 'admin', 'membership', 'pool'));
CREATE INDEX workspaces_pool ON workspaces (pool_version_id, created_at)
	WHERE pool_version_id IS NOT NULL AND deleted_at IS NULL;

-- A new version, an activation or an archive may change what the pools
-- want: warren-reconciler hears it (payload "pools") and fills or drains
-- them at once, not at its next full pass.
CREATE FUNCTION warren_pools_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('warren_reconcile', 'pools');
	RETURN NULL;
END
$$;
CREATE TRIGGER templates_pools AFTER INSERT OR UPDATE OF active_version_id,
	archived_at ON templates
	FOR EACH STATEMENT EXECUTE FUNCTION warren_pools_changed();

-- The owner of unclaimed members: disabled, without a password or an
-- identity, so nobody signs in as it; its fixed id is what Warren knows
-- it by (POOL_OWNER in src/api/workspace.h and src/recon/state.c), and its
-- name cannot be taken already.
INSERT INTO users (id, username, display_name, role, disabled)
VALUES ('00000000-0000-4000-8000-000000000001',
	'warren-pool.' || left(gen_random_uuid()::text, 8),
	'Warm pools (Warren)', 'member', true);

-- The view lists the workspace's columns: made again to show the new one.
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
