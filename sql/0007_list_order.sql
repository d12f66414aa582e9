-- A user's workspaces are listed by (name, id): the index gives that order
-- without a sort.
CREATE INDEX workspaces_owner_list ON workspaces (owner_id, name, id)
	WHERE deleted_at IS NULL;
DROP INDEX workspaces_owner;
