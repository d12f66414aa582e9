-- Identity and access: users, sign-in identities, organizations, sessions,
-- API tokens, OAuth flows and the append-only audit log.

CREATE TABLE users (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	username      text NOT NULL UNIQUE
	              CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
	email         text UNIQUE CHECK (length(email) <= 254),
	display_name  text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
	password_hash text,
	role          text NOT NULL DEFAULT 'member'
	              CHECK (role IN ('admin', 'template-admin', 'auditor', 'member')),
	disabled      boolean NOT NULL DEFAULT false,
	-- Tokens issued before this instant are refused (disable, sign out everywhere).
	valid_after   timestamptz NOT NULL DEFAULT 'epoch',
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A provider's stable subject id, never the e-mail address.
CREATE TABLE identities (
	provider   text NOT NULL,
	subject    text NOT NULL,
	user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	email      text,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_user ON identities (user_id);

CREATE TABLE organizations (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	name         text NOT NULL UNIQUE
	             CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$'),
	display_name text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
	created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
	org_id     uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
	user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- A session is one refresh-token family.
CREATE TABLE sessions (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	revoked_at   timestamptz,
	revoke_reason text,
	source_addr  text,
	user_agent   text CHECK (length(user_agent) <= 512)
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
	hash       bytea PRIMARY KEY,
	session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now(),
	used_at    timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE api_tokens (
	id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	hash         bytea NOT NULL UNIQUE,
	scope        text NOT NULL CHECK (scope IN ('read', 'full')),
	created_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz,
	last_used_at timestamptz,
	revoked_at   timestamptz,
	UNIQUE (user_id, name)
);

-- One row per sign-in attempt through a provider; used once.
CREATE TABLE oauth_flows (
	state_hash    bytea PRIMARY KEY,
	provider      text NOT NULL,
	verifier      text NOT NULL,
	nonce         text NOT NULL,
	binding_hash  bytea NOT NULL,
	invite_code   text,
	return_to     text NOT NULL DEFAULT '/',
	created_at    timestamptz NOT NULL DEFAULT now(),
	expires_at    timestamptz NOT NULL
);

CREATE TABLE oauth_codes_used (
	provider   text NOT NULL,
	code_hash  bytea NOT NULL,
	used_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (provider, code_hash)
);

CREATE TABLE invitations (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	code_hash  bytea NOT NULL UNIQUE,
	email      text,
	role       text NOT NULL DEFAULT 'member'
	           CHECK (role IN ('admin', 'template-admin', 'auditor', 'member')),
	created_by uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at    timestamptz,
	used_by    uuid REFERENCES users (id) ON DELETE SET NULL
);

CREATE TABLE audit_log (
	id          bigserial PRIMARY KEY,
	at          timestamptz NOT NULL DEFAULT now(),
	actor_id    uuid,
	actor_name  text,
	action      text NOT NULL,
	target_type text,
	target_id   text,
	source_addr text,
	result      text NOT NULL CHECK (result IN ('success', 'failure', 'denied')),
	details     jsonb NOT NULL DEFAULT '{}'::jsonb,
	request_id  text
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, id DESC);

-- The audit log is append-only for everyone, the application included.
CREATE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE OR TRUNCATE
	ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable();
