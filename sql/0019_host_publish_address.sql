-- Each Docker host's publish address: where its workspaces' ports are
-- published and where the proxy reaches them (the forward endpoint's
-- upstream, the Traefik and nginx outputs).  NULL: the configuration's
-- docker_publish_address.  Never every address of the host: a port
-- published on 0.0.0.0 or :: would be open to every network the host is
-- on, not only to the proxy.
ALTER TABLE docker_hosts ADD COLUMN publish_address inet
	CHECK (host(publish_address) NOT IN ('0.0.0.0', '::')
	       AND masklen(publish_address) = CASE family(publish_address)
	           WHEN 4 THEN 32 ELSE 128 END);

-- The address as an upstream's host part: IPv6 in brackets.
CREATE FUNCTION warren_upstream_host(a inet, fallback text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN a IS NULL THEN fallback
		WHEN family(a) = 6 THEN '[' || host(a) || ']'
		ELSE host(a) END
$$;
