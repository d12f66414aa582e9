-- A change to a user's workspaces or their builds is announced at commit
-- on the channel warren_workspaces with the owner's id: warren-api's
-- workers keep each owner's list until then.  Statement triggers, so a
-- change of many rows sends one notification per owner.
CREATE FUNCTION warren_workspaces_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'workspaces' THEN
		IF TG_OP IN ('UPDATE', 'DELETE') THEN
			PERFORM pg_notify('warren_workspaces', o.owner_id::text)
			FROM (SELECT DISTINCT owner_id FROM old_rows) o;
		END IF;
		IF TG_OP IN ('INSERT', 'UPDATE') THEN
			PERFORM pg_notify('warren_workspaces', n.owner_id::text)
			FROM (SELECT DISTINCT owner_id FROM new_rows) n;
		END IF;
	ELSIF TG_OP = 'DELETE' THEN
		PERFORM pg_notify('warren_workspaces', w.owner_id::text)
		FROM (SELECT DISTINCT ws.owner_id FROM old_rows b
		      JOIN workspaces ws ON ws.id = b.workspace_id) w;
	ELSE
		PERFORM pg_notify('warren_workspaces', w.owner_id::text)
		FROM (SELECT DISTINCT ws.owner_id FROM new_rows b
		      JOIN workspaces ws ON ws.id = b.workspace_id) w;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER workspaces_changed_insert AFTER INSERT ON workspaces
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION warren_workspaces_changed();
CREATE TRIGGER workspaces_changed_update AFTER UPDATE ON workspaces
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION warren_workspaces_changed();
CREATE TRIGGER workspaces_changed_delete AFTER DELETE ON workspaces
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION warren_workspaces_changed();
CREATE TRIGGER builds_changed_insert AFTER INSERT ON workspace_builds
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION warren_workspaces_changed();
CREATE TRIGGER builds_changed_update AFTER UPDATE ON workspace_builds
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION warren_workspaces_changed();
CREATE TRIGGER builds_changed_delete AFTER DELETE ON workspace_builds
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION warren_workspaces_changed();

-- A TRUNCATE names no owner: an empty payload means everyone's lists.
CREATE FUNCTION warren_workspaces_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('warren_workspaces', '');
	RETURN NULL;
END
$$;

CREATE TRIGGER workspaces_truncated AFTER TRUNCATE ON workspaces
	FOR EACH STATEMENT EXECUTE FUNCTION warren_workspaces_truncated();
CREATE TRIGGER builds_truncated AFTER TRUNCATE ON workspace_builds
	FOR EACH STATEMENT EXECUTE FUNCTION warren_workspaces_truncated();
