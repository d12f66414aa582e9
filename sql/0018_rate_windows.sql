-- Rate-limit windows, shared by every warren-api host of an installation
-- (sign-in failures per address and per account, each API token's request
-- budget): a budget of N is at most N across all hosts, whichever answers.
-- A window starts at its first event and lasts its length; an event at the
-- limit is refused and writes nothing.  A token's budget is taken by each
-- host in leases of a sixteenth of what is left (at least one), kept in
-- the host's memory: "granted" is the last lease taken.  The key is the
-- md5 of the counter's name (which holds addresses and user names).
-- Unlogged: a crash of PostgreSQL forgets the windows, which only gives
-- their budgets back early.  warren-reconciler removes windows over a day
-- old.
CREATE UNLOGGED TABLE rate_windows (
	key text PRIMARY KEY,
	started_at timestamptz NOT NULL,
	count integer NOT NULL,
	granted integer NOT NULL DEFAULT 1
);
