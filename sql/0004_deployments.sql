-- What the reconciler observed and made: one deployment per workspace
-- (container, volume, published ports, image digest) and the Docker hosts.

CREATE TABLE docker_hosts (
	name       text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
	endpoint   text NOT NULL,
	tls_ca     text,
	tls_cert   text,
	tls_key    text,
	capacity   integer NOT NULL DEFAULT 100 CHECK (capacity >= 0),
	enabled    boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deployments (
	workspace_id  uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
	docker_host   text NOT NULL,
	container_id  text,
	container_name text NOT NULL,
	volume_name   text NOT NULL,
	build_number  integer,
	ports         jsonb NOT NULL DEFAULT '{}',
	image_digest  text,
	state         text NOT NULL DEFAULT 'absent'
	              CHECK (state IN ('absent', 'created', 'running', 'exited')),
	exit_code     integer,
	updated_at    timestamptz NOT NULL DEFAULT now()
);
