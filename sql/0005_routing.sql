-- Routing to workspaces: one-time codes that hand a signed-in browser over
-- from the API host to a workspace host.
CREATE TABLE handoff_codes (
	code_hash  bytea PRIMARY KEY,
	user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	host       text NOT NULL,
	expires_at timestamptz NOT NULL
);
