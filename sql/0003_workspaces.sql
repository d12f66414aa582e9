-- The control plane's model: templates with immutable versions, workspaces
-- with their desired state and schedules, append-only builds with logs,
-- port shares, quotas, encrypted secrets and idempotent requests.

CREATE TABLE templates (
	id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name              text NOT NULL UNIQUE
	                  CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$'),
	display_name      text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
	description       text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
	active_version_id uuid,
	archived_at       timestamptz,
	created_by        uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at        timestamptz NOT NULL DEFAULT now(),
	updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE template_versions (
	id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	template_id     uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
	number          integer NOT NULL CHECK (number > 0),
	image           text NOT NULL CHECK (length(image) BETWEEN 1 AND 255),
	command         jsonb NOT NULL DEFAULT '[]',
	args            jsonb NOT NULL DEFAULT '[]',
	env             jsonb NOT NULL DEFAULT '{}',
	ports           jsonb NOT NULL DEFAULT '[]',
	cpu_millis      integer NOT NULL CHECK (cpu_millis > 0),
	memory_mb       integer NOT NULL CHECK (memory_mb > 0),
	pids            integer NOT NULL CHECK (pids > 0),
	home_path       text NOT NULL CHECK (home_path ~ '^/'),
	uid             integer NOT NULL CHECK (uid > 0),
	gid             integer NOT NULL CHECK (gid > 0),
	probe           jsonb NOT NULL,
	idle_timeout    integer CHECK (idle_timeout > 0),
	max_lifetime    integer CHECK (max_lifetime > 0),
	max_share_level text NOT NULL DEFAULT 'owner'
	                CHECK (max_share_level IN ('owner', 'org', 'authenticated', 'public')),
	parameters      jsonb NOT NULL DEFAULT '[]',
	secrets         jsonb NOT NULL DEFAULT '[]',
	capabilities    jsonb NOT NULL DEFAULT '[]',
	restart_policy  text NOT NULL DEFAULT 'restart'
	                CHECK (restart_policy IN ('restart', 'fail')),
	created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	UNIQUE (template_id, number)
);

ALTER TABLE templates ADD FOREIGN KEY (active_version_id)
	REFERENCES template_versions (id) DEFERRABLE INITIALLY DEFERRED;

-- A version, once written, is what workspaces built from it were built from.
CREATE FUNCTION template_versions_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'template versions are immutable';
END $$;
CREATE TRIGGER template_versions_no_update BEFORE UPDATE
	ON template_versions FOR EACH ROW
	EXECUTE FUNCTION template_versions_immutable();

CREATE TABLE workspaces (
	id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	short_id            text NOT NULL UNIQUE CHECK (short_id ~ '^[a-z2-7]{10}$'),
	owner_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	org_id              uuid REFERENCES organizations (id) ON DELETE SET NULL,
	name                text NOT NULL
	                    CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$'),
	template_id         uuid NOT NULL REFERENCES templates (id),
	template_version_id uuid NOT NULL REFERENCES template_versions (id),
	parameters          jsonb NOT NULL DEFAULT '{}',
	secrets             jsonb NOT NULL DEFAULT '[]',
	desired_state       text NOT NULL DEFAULT 'running'
	                    CHECK (desired_state IN ('running', 'stopped', 'deleted')),
	autostop_ttl        integer CHECK (autostop_ttl > 0),
	idle_timeout        integer CHECK (idle_timeout > 0),
	-- autostop: set from autostop_ttl at each start, moved by "extend"
	deadline            timestamptz,
	-- the template's max lifetime from the start: never extended
	max_deadline        timestamptz,
	started_at          timestamptz,
	stopped_at          timestamptz,
	last_activity_at    timestamptz,
	last_activity_cause text,
	dormant_at          timestamptz,
	deleting_at         timestamptz,
	created_at          timestamptz NOT NULL DEFAULT now(),
	updated_at          timestamptz NOT NULL DEFAULT now(),
	deleted_at          timestamptz
);
CREATE UNIQUE INDEX workspaces_owner_name ON workspaces (owner_id, name)
	WHERE deleted_at IS NULL;
CREATE INDEX workspaces_owner ON workspaces (owner_id, name) WHERE deleted_at IS NULL;
CREATE INDEX workspaces_org ON workspaces (org_id) WHERE deleted_at IS NULL;
CREATE INDEX workspaces_template ON workspaces (template_id);

CREATE TABLE workspace_builds (
	id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	number              integer NOT NULL CHECK (number > 0),
	transition          text NOT NULL
	                    CHECK (transition IN ('start', 'stop', 'restart', 'update', 'delete')),
	reason              text NOT NULL DEFAULT 'user'
	                    CHECK (reason IN ('user', 'autostop', 'idle', 'lifetime',
	                                      'dormancy', 'failure', 'admin')),
	initiator_id        uuid REFERENCES users (id) ON DELETE SET NULL,
	template_version_id uuid NOT NULL REFERENCES template_versions (id),
	status              text NOT NULL DEFAULT 'pending'
	                    CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'canceled')),
	error               text,
	image_digest        text,
	created_at          timestamptz NOT NULL DEFAULT now(),
	started_at          timestamptz,
	completed_at        timestamptz,
	UNIQUE (workspace_id, number)
);
-- At most one transition in flight per workspace: the database enforces it.
CREATE UNIQUE INDEX workspace_builds_active ON workspace_builds (workspace_id)
	WHERE status IN ('pending', 'running');
CREATE INDEX workspace_builds_latest ON workspace_builds (workspace_id, number DESC);

CREATE TABLE build_logs (
	build_id uuid NOT NULL REFERENCES workspace_builds (id) ON DELETE CASCADE,
	seq      bigserial,
	at       timestamptz NOT NULL DEFAULT now(),
	stream   text NOT NULL DEFAULT 'system' CHECK (stream IN ('system', 'stdout', 'stderr')),
	line     text NOT NULL CHECK (length(line) <= 4096),
	PRIMARY KEY (build_id, seq)
);

CREATE TABLE port_shares (
	workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	port         integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
	level        text NOT NULL CHECK (level IN ('owner', 'org', 'authenticated', 'public')),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (workspace_id, port)
);

CREATE TABLE quotas (
	scope          text NOT NULL CHECK (scope IN ('user', 'org')),
	subject_id     uuid NOT NULL,
	max_workspaces integer CHECK (max_workspaces >= 0),
	max_running    integer CHECK (max_running >= 0),
	max_cpu_millis integer CHECK (max_cpu_millis >= 0),
	max_memory_mb  integer CHECK (max_memory_mb >= 0),
	updated_at     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (scope, subject_id)
);

CREATE TABLE secrets (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	scope      text NOT NULL CHECK (scope IN ('user', 'org')),
	owner_id   uuid NOT NULL,
	name       text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
	nonce      bytea NOT NULL,
	ciphertext bytea NOT NULL,
	created_by uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (scope, owner_id, name)
);

CREATE TABLE idempotency_keys (
	user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	key        text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
	route      text NOT NULL,
	request_hash bytea NOT NULL,
	status     integer NOT NULL,
	body       text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, key)
);

-- The status a user sees, derived from the latest build as Coder does.
CREATE VIEW workspace_states AS
SELECT w.*, b.id AS build_id, b.number AS build_number,
	b.transition AS build_transition, b.status AS build_status,
	CASE
	WHEN w.deleted_at IS NOT NULL THEN 'deleted'
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
