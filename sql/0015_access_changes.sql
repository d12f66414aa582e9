-- What a workspace request's forward decision reads, besides workspaces
-- and their builds (announced on warren_workspaces, 0008): changes are
-- announced at commit on warren_access, with the table's name.  warren-api's
-- workers drop the decisions they keep when either channel speaks, so
-- that a share removed, a session revoked, a user disabled or a container
-- moved to another port counts from the next request; and their lists and
-- workspace reads, which show port shares and the hosts' state.  Statement
-- triggers, on the columns that matter, so routine writes (sign-in times,
-- token use) stay quiet.
CREATE FUNCTION warren_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('warren_access', TG_TABLE_NAME);
	RETURN NULL;
END
$$;

CREATE TRIGGER port_shares_access AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON port_shares FOR EACH STATEMENT EXECUTE FUNCTION warren_access_changed();
CREATE TRIGGER deployments_access AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON deployments FOR EACH STATEMENT EXECUTE FUNCTION warren_access_changed();
CREATE TRIGGER memberships_access AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON memberships FOR EACH STATEMENT EXECUTE FUNCTION warren_access_changed();
CREATE TRIGGER host_status_access AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON docker_host_status FOR EACH STATEMENT
	EXECUTE FUNCTION warren_access_changed();
CREATE TRIGGER users_access AFTER UPDATE OF role, disabled, valid_after
	OR DELETE OR TRUNCATE ON users
	FOR EACH STATEMENT EXECUTE FUNCTION warren_access_changed();
CREATE TRIGGER sessions_access AFTER UPDATE OF revoked_at, expires_at
	OR DELETE OR TRUNCATE ON sessions
	FOR EACH STATEMENT EXECUTE FUNCTION warren_access_changed();
CREATE TRIGGER api_tokens_access AFTER UPDATE OF revoked_at, expires_at, scope
	OR DELETE OR TRUNCATE ON api_tokens
	FOR EACH STATEMENT EXECUTE FUNCTION warren_access_changed();
