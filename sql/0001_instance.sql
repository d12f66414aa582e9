-- The deployment itself: one row naming this Warren installation.
CREATE TABLE instance (
	id          boolean PRIMARY KEY DEFAULT true CHECK (id),
	instance_id uuid NOT NULL DEFAULT gen_random_uuid(),
	created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO instance DEFAULT VALUES;
