-- What a reconciler leaves to the operator.  Home volumes of this
-- installation whose workspace this database does not know are kept, never
-- removed as orphans: listed here (warrenctl volumes) until they are gone or
-- an operator asks for their removal.
CREATE TABLE orphan_volumes (
	docker_host         text NOT NULL,
	name                text NOT NULL,
	workspace_id        text,
	first_seen          timestamptz NOT NULL DEFAULT now(),
	remove_requested_at timestamptz,
	remove_requested_by text,
	PRIMARY KEY (docker_host, name)
);

-- A pass that would remove more of this installation's containers than
-- the fuse allows removes none: the hold says what it would have removed,
-- until the pass no longer wants to or an operator confirms (warrenctl
-- removals confirm).
CREATE TABLE removal_holds (
	docker_host  text PRIMARY KEY,
	held_at      timestamptz NOT NULL DEFAULT now(),
	containers   integer NOT NULL CHECK (containers >= 0),
	total        integer NOT NULL CHECK (total >= 0),
	reason       text NOT NULL,
	confirmed_at timestamptz,
	confirmed_by text
);
