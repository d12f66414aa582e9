-- Credentials of private registries, which the reconciler sends when it
-- pulls a template's image: one per registry host (as image references
-- name it: "registry.example.com", "127.0.0.1:5000"; "docker.io" for Docker
-- Hub).  The password is encrypted with the secrets key, like secrets, and
-- never returned by the API.
CREATE TABLE registry_credentials (
	id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	registry   text NOT NULL UNIQUE CHECK (registry ~
	           '^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[1-9][0-9]{0,4})?$'),
	username   text NOT NULL CHECK (length(username) BETWEEN 1 AND 256),
	nonce      bytea NOT NULL,
	ciphertext bytea NOT NULL,
	created_by uuid REFERENCES users (id) ON DELETE SET NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
