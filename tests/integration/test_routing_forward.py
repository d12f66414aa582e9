"""Routing to workspaces (issue 6): host names, the forward decision behind
nginx's auth_request, activity, the one-time cookie hand-off, what reaches
the container, WebSocket, and a data plane that needs no reload.

One stack for the module (PostgreSQL, warren-api behind the shipped nginx
site, a private dockerd); workspaces are converged with `warren-reconciler
--once`, so that a workspace asked to start stays "starting" until the
test runs a pass.  Requests go to nginx on 127.0.0.1 with the workspace's
host name, as `curl --resolve` would send them.
"""

import os
import re
import time
import urllib.parse

import pytest
import requests

pytest.register_assert_rewrite("routing_util", "docker_util")

from conftest import TOP, wait_for  # noqa: E402
from identity_util import jwt_decode, reload_and_wait, sha256_bytea, unique  # noqa: E402
from routing_util import (  # noqa: E402
    ALT_PORT, API_HOST, BASE_DOMAIN, CACHE_TTL, MAIN_PORT, SHORT_ID, STEERING,
    WebSocketRefused, api_cookies, check_traefik_contract, cookies_in, lint_traefik, read_traefik,
    traefik_routes, forward, forwarded_as_sent, handoff_url,
    host_of, proxied_head, redeem, served, take_code, via_nginx, websocket_echo, ws_cookie,
    RoutingStack,
)

pytest_plugins = ["docker_util", "routing_util"]

LEVELS = ("owner", "org", "authenticated", "public")
SHORT_ID_UNKNOWN = "zzzzzzzzzz"


class World:
    """The module's people and workspaces.  a owns w (running), w_org (never
    started, template capped at "org") and w_ss (for stop/start); m shares
    an organization with a; b is another member and owns w_b (running);
    the stack's admin is an admin."""


@pytest.fixture(scope="module")
def world(pg, tmp_path_factory, dockerd, echo_image):
    st = RoutingStack(pg, tmp_path_factory.mktemp("routing"), dockerd, log_statements=True)
    try:
        x = World()
        x.st = st
        x.a, x.ta = st.user("alice")
        x.m, x.tm = st.user("mallory")
        x.b, x.tb = st.user("bob")
        x.admin, x.tadmin = st.admin_user, st.token
        r = st.api("POST", "/orgs", 201, json={"name": unique("org-")})
        org = r.json()["id"]
        for u in (x.a, x.m):
            st.api("PUT", f"/orgs/{org}/members/{u.id}", 200, json={"role": "member"})
        x.tpl = st.echo_template()
        x.tpl_org = st.echo_template(max_share_level="org")
        x.w = st.as_user(x.ta, "POST", "/workspaces", 201,
                         json={"name": "alices-secret-project", "template": x.tpl["id"]}).json()
        x.w_b = st.as_user(x.tb, "POST", "/workspaces", 201,
                           json={"name": unique("ws-"), "template": x.tpl["id"]}).json()
        x.w_org = st.as_user(x.ta, "POST", "/workspaces", 201,
                             json={"name": unique("ws-"), "template": x.tpl_org["id"],
                                   "start": False}).json()
        x.w_ss = st.as_user(x.ta, "POST", "/workspaces", 201,
                            json={"name": unique("ws-"), "template": x.tpl["id"],
                                  "start": False}).json()
        st.once()
        for ws in (x.w, x.w_b):
            st.wait_build(ws["build_id"], 30, "succeeded")
        x.cookies_a = api_cookies(st, x.a)
        x.cookies_b = api_cookies(st, x.b)
        yield x
    finally:
        errors = st.close()
        if errors:
            pytest.fail("\n".join(errors))


def answer(st, host, token=None, **kw):
    return via_nginx(st, host, token=token, **kw)


def expect(st, host, token, want, path="/"):
    """Through nginx as a script: 200 (served by the container), 401 or 403."""
    r = answer(st, host, token, path=path)
    if want == 200:
        port = ALT_PORT if f"-{ALT_PORT}." in host else MAIN_PORT
        assert served(r, port), (host, r.status_code, r.text[:200])
    else:
        assert r.status_code == want, (host, want, r.status_code, r.text[:200])
    return r


def settle():
    """Past the forward endpoint's per-worker cache."""
    time.sleep(CACHE_TTL + 0.15)


# ------------------------------------------------------------- host names


def test_host_names(world):
    x, st = world, world.st
    for ws in (x.w, x.w_b, x.w_org, x.w_ss):
        assert SHORT_ID.match(ws["short_id"]), ws["short_id"]
        url = urllib.parse.urlsplit(ws["url"])
        assert url.hostname == host_of(ws), ws["url"]
        assert ws["url_pattern"].replace("{port}", "65535") == \
            f"http://{host_of(ws, 65535)}", ws["url_pattern"]
        for host in (host_of(ws), host_of(ws, 65535)):
            assert all(1 <= len(label) <= 63 for label in host.split(".")), host
            assert len(host) <= 253, host
    assert len({ws["short_id"] for ws in (x.w, x.w_b, x.w_org, x.w_ss)}) == 4
    # Nothing a user typed: not the workspace, template or user names.
    typed = [x.w["name"], x.tpl["name"], x.a.name, "alices", "secret"]
    for text in (x.w["url"], x.w["url_pattern"]):
        assert not any(t in text for t in typed), text
    # The routing answers only for names of the exact form.
    sid = x.w["short_id"]
    for host in (f"{sid.upper()}.{BASE_DOMAIN}", f"{sid}-0.{BASE_DOMAIN}",
                 f"{sid}-65536.{BASE_DOMAIN}", f"{sid}-08081.{BASE_DOMAIN}",
                 f"{sid}-8081x.{BASE_DOMAIN}", f"{sid}x.{BASE_DOMAIN}", f"{sid[:9]}.{BASE_DOMAIN}",
                 f"{sid}.{sid}.{BASE_DOMAIN}", f"{sid}.{BASE_DOMAIN}.evil.example",
                 f"{x.w['name']}.{BASE_DOMAIN}", f"{sid}--8081.{BASE_DOMAIN}", BASE_DOMAIN,
                 f"{sid}-{MAIN_PORT + 7}.{BASE_DOMAIN}"):
        r = forward(st, host, token=x.ta)
        assert r.status_code == 403 and r.headers.get("X-Warren-State") == "notfound", \
            (host, r.status_code, r.headers)
    # A port the template does not declare is no route either, and a
    # workspace that does not exist is "No such workspace" through nginx.
    r = answer(st, f"aaaaaaaaaa.{BASE_DOMAIN}", x.ta)
    assert r.status_code == 404 and "No such workspace" in r.text, (r.status_code, r.text)


# -------------------------------------------------------- forward endpoint


def test_forward_endpoint_answers(world):
    """What nginx (or Traefik) reads: the upstream for an allowed caller,
    the Cookie header without warren_ws, the sign-in hand-off for nobody,
    the state for a refusal."""
    x, st = world, world.st
    dep = st.db.one("SELECT ports FROM deployments WHERE workspace_id = %s", x.w["id"])
    r = forward(st, host_of(x.w), token=x.ta)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["X-Warren-Upstream"] == f"127.0.0.1:{dep['ports'][str(MAIN_PORT)]}"
    r = forward(st, host_of(x.w, ALT_PORT), token=x.ta)
    assert r.headers["X-Warren-Upstream"] == f"127.0.0.1:{dep['ports'][str(ALT_PORT)]}"
    # The port in the Host header is the proxy's business.
    r = forward(st, host_of(x.w) + ":8080", token=x.ta)
    assert r.status_code == 200, r.status_code
    wsc = ws_cookie(st, x.cookies_a, host_of(x.w))
    r = forward(st, host_of(x.w), cookie=f"a=1; warren_ws={wsc}; b=2")
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["X-Warren-Cookie"] == "a=1; b=2", r.headers
    r = forward(st, host_of(x.w), uri="/deep/path?q=1")
    assert r.status_code == 401 and r.headers["X-Warren-State"] == "signin", r.headers
    assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers
    u = urllib.parse.urlsplit(r.headers["X-Warren-Signin"])
    q = urllib.parse.parse_qs(u.query)
    assert (u.scheme, u.netloc, u.path) == ("http", API_HOST, "/api/v1/auth/handoff"), u
    assert q == {"host": [host_of(x.w)], "path": ["/deep/path?q=1"]}, q
    r = forward(st, host_of(x.w), token=x.tb)
    assert r.status_code == 403 and r.headers["X-Warren-State"] == "denied", r.headers
    assert "X-Warren-Upstream" not in r.headers
    # A token that is not valid is nobody, not an error.
    r = forward(st, host_of(x.w), token="not-a-token")
    assert r.status_code == 401, r.status_code


# ------------------------------------------------------- decision matrix


def test_share_levels_decide(world):
    """Owner always; org members, any signed-in user or anyone per the
    port's share level; admins like anyone else unless configured."""
    x, st = world, world.st
    alt, main = host_of(x.w, ALT_PORT), host_of(x.w)
    callers = {"owner": x.ta, "org": x.tm, "other": x.tb, "admin": x.tadmin, "nobody": None}
    allowed = {
        "owner": {"owner"},
        "org": {"owner", "org"},
        "authenticated": {"owner", "org", "other", "admin"},
        "public": {"owner", "org", "other", "admin", "nobody"},
    }
    try:
        for level in LEVELS:
            st.share(x.ta, x.w, ALT_PORT, level)
            settle()
            for who, token in callers.items():
                want = 200 if who in allowed[level] else (401 if token is None else 403)
                r = answer(st, alt, token)
                got = 200 if served(r, ALT_PORT) else r.status_code
                assert got == want, (level, who, r.status_code, r.text[:200])
            # The main port keeps its own (default: owner) level.
            expect(st, main, x.ta, 200)
            expect(st, main, x.tm, 403)
            expect(st, main, None, 401)
        # Only the owner shares.
        r = st.as_user(x.tb, "PUT", f"/workspaces/{x.w['id']}/ports/{ALT_PORT}",
                       json={"level": "public"})
        assert r.status_code in (403, 404), r.status_code
        # Unshared: back to the owner alone.
        st.unshare(x.ta, x.w, ALT_PORT)
        settle()
        expect(st, alt, x.ta, 200)
        expect(st, alt, x.tb, 403)
        expect(st, alt, None, 401)
        # Sharing the main port shares <id>.<base_domain>.
        st.share(x.ta, x.w, MAIN_PORT, "authenticated")
        settle()
        expect(st, main, x.tb, 200)
        expect(st, main, None, 401)
    finally:
        for port in (MAIN_PORT, ALT_PORT):
            st.db.exec("DELETE FROM port_shares WHERE workspace_id = %s AND port = %s",
                       x.w["id"], port)
    settle()
    expect(st, main, x.tb, 403)


def test_admins_only_where_configured(world):
    x, st = world, world.st
    main = host_of(x.w)
    expect(st, main, x.tadmin, 403)
    try:
        reload_and_wait(st.w, workspace_admin_access="yes")
        expect(st, main, x.tadmin, 200)
        expect(st, main, x.tb, 403)     # members still need a share
        expect(st, main, None, 401)
    finally:
        reload_and_wait(st.w, workspace_admin_access="no")
    expect(st, main, x.tadmin, 403)


def test_share_above_template_maximum_counts_as_maximum(world):
    """A share row above the template's cap (written before the cap was
    lowered, say) gives no more than the cap."""
    x, st = world, world.st
    # The API refuses it ...
    r = st.as_user(x.ta, "PUT", f"/workspaces/{x.w_org['id']}/ports/{MAIN_PORT}",
                   json={"level": "public"})
    assert r.status_code == 403, r.text
    # ... and a row that is there anyway counts as "org".
    st.db.exec("INSERT INTO port_shares (workspace_id, port, level) VALUES (%s, %s, 'public')",
               x.w_org["id"], MAIN_PORT)
    settle()
    host = host_of(x.w_org)
    r = forward(st, host)
    assert r.status_code == 401, (r.status_code, r.headers)
    r = forward(st, host, token=x.tb)
    assert r.status_code == 403 and r.headers["X-Warren-State"] == "denied", r.headers
    # An org mate passes the share and meets the state: never started.
    r = forward(st, host, token=x.tm)
    assert r.status_code == 403 and r.headers["X-Warren-State"] == "stopped", r.headers


def test_browser_and_script_without_session(world):
    """Nobody signed in: a browser is sent to sign in (302), a script gets
    401; signed in without access: 403, whatever the Accept header."""
    x, st = world, world.st
    host = host_of(x.w)
    r = answer(st, host, path="/some/page?x=1", accept="text/html,application/xhtml+xml")
    assert r.status_code == 302, (r.status_code, r.text[:200])
    u = urllib.parse.urlsplit(r.headers["Location"])
    assert (u.netloc, u.path) == (API_HOST, "/api/v1/auth/handoff"), r.headers["Location"]
    assert urllib.parse.parse_qs(u.query) == {"host": [host], "path": ["/some/page?x=1"]}, u
    r = answer(st, host, path="/some/page", accept="application/json")
    assert r.status_code == 401 and "Sign in" in r.text, (r.status_code, r.text)
    assert "Location" not in r.headers
    wsc_b = ws_cookie(st, x.cookies_b, host)
    r = answer(st, host, cookies={"warren_ws": wsc_b}, accept="text/html")
    assert r.status_code == 403 and "may not open" in r.text, (r.status_code, r.text)
    r = answer(st, host, token=x.tb, accept="text/html")
    assert r.status_code == 403, r.status_code
    # The decision's own headers stay between nginx and warren-api.
    for resp in (r, answer(st, host, token=x.ta)):
        leaked = [h for h in resp.headers if h.lower().startswith("x-warren")]
        assert not leaked, leaked


def test_stopped_starting_and_no_reload(world):
    """Through nginx: 503 "stopped" and "starting" (with Retry-After), the
    container once it runs, and "stopped" again with the container gone;
    nginx neither reloads nor restarts through starts, stops and shares."""
    x, st = world, world.st
    ws, host = x.w_ss, host_of(x.w_ss)
    before = st.nginx_pids()
    r = answer(st, host, x.ta)
    assert r.status_code == 503 and "stopped" in r.text, (r.status_code, r.text)
    b = st.as_user(x.ta, "POST", f"/workspaces/{ws['id']}/builds", 201,
                   json={"transition": "start"}).json()
    settle()
    r = answer(st, host, x.ta)
    assert r.status_code == 503 and "starting" in r.text, (r.status_code, r.text)
    assert r.headers.get("Retry-After") == "2", r.headers
    st.once()
    st.wait_build(b["id"], 30, "succeeded")
    wait_for(lambda: served(answer(st, host, x.ta), MAIN_PORT), 5, what="the started workspace")
    port1 = st.port_of(ws)
    st.share(x.ta, ws, ALT_PORT, "public")
    wait_for(lambda: served(answer(st, host_of(ws, ALT_PORT)), ALT_PORT), 5,
             what="the shared port for anyone")
    b = st.as_user(x.ta, "POST", f"/workspaces/{ws['id']}/builds", 201,
                   json={"transition": "stop"}).json()
    settle()
    r = answer(st, host, x.ta)
    assert r.status_code == 503 and "stopped" in r.text, (r.status_code, r.text)
    st.once()
    st.wait_build(b["id"], 30, "succeeded")
    assert st.containers_of(ws) == [], st.containers_of(ws)
    r = answer(st, host_of(ws, ALT_PORT))
    assert r.status_code == 503 and "stopped" in r.text, (r.status_code, r.text)
    b = st.as_user(x.ta, "POST", f"/workspaces/{ws['id']}/builds", 201,
                   json={"transition": "start"}).json()
    st.once()
    st.wait_build(b["id"], 30, "succeeded")
    wait_for(lambda: served(answer(st, host, x.ta), MAIN_PORT), 5, what="the restarted workspace")
    # Whatever port Docker published this time, nginx found it unaided.
    assert st.port_of(ws) is not None and port1 is not None
    st.unshare(x.ta, ws, ALT_PORT)
    assert st.nginx_pids() == before, (before, st.nginx_pids())


# ------------------------------------------------------------- activity


ACTIVITY_LOG = """
CREATE TABLE IF NOT EXISTS test_activity (ws uuid, at timestamptz, cause text);
CREATE OR REPLACE FUNCTION test_activity_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
	IF NEW.last_activity_at IS DISTINCT FROM OLD.last_activity_at
	    AND session_user <> 'postgres' THEN
		INSERT INTO test_activity VALUES (NEW.id, NEW.last_activity_at,
		    NEW.last_activity_cause);
	END IF;
	RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS test_activity ON workspaces;
CREATE TRIGGER test_activity AFTER UPDATE ON workspaces
	FOR EACH ROW EXECUTE FUNCTION test_activity_log();
"""


def burst(st, host, seconds, **kw):
    """Requests through nginx for a while (misses in every worker)."""
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r = via_nginx(st, host, **kw)
        assert served(r, MAIN_PORT), (r.status_code, r.text[:200])
        n += 1
        time.sleep(0.02)
    return n


def test_activity_at_most_once_a_minute_with_cause(world):
    x, st = world, world.st
    host, wid = host_of(x.w), x.w["id"]
    st.db.exec(ACTIVITY_LOG)
    wsc = ws_cookie(st, x.cookies_a, host)

    def rows():
        return st.db.all("SELECT at, cause FROM test_activity WHERE ws = %s ORDER BY at", wid)

    def age(seconds):
        st.db.exec("UPDATE workspaces SET last_activity_at = now() - make_interval(secs => %s),"
                   " last_activity_cause = 'start' WHERE id = %s", seconds, wid)
        st.db.exec("DELETE FROM test_activity")

    # Fresh workers remember nothing; the last activity is 10 minutes old.
    reload_and_wait(st.w)
    age(600)
    n = burst(st, host, 2.5, token=x.ta)
    got = rows()
    assert n > 20 and len(got) == 1, (n, got)
    assert got[0]["cause"] == "api", got
    row = st.db.one("SELECT last_activity_at > now() - interval '10 seconds' AS fresh,"
                    " last_activity_cause FROM workspaces WHERE id = %s", wid)
    assert row == {"fresh": True, "last_activity_cause": "api"}, row

    # A browser's requests (the workspace cookie): cause "http".
    reload_and_wait(st.w)
    age(600)
    burst(st, host, 2.5, cookies={"warren_ws": wsc})
    got = rows()
    assert len(got) == 1 and got[0]["cause"] == "http", got

    # Within the minute, no worker writes, even one that has not yet.
    reload_and_wait(st.w)
    age(30)
    burst(st, host, 1.5, token=x.ta)
    assert rows() == [], rows()

    # Refused and anonymous requests are no one's activity.
    reload_and_wait(st.w)
    age(600)
    for _ in range(5):
        assert answer(st, host, x.tb).status_code == 403
        assert answer(st, host).status_code == 401
    assert rows() == [], rows()


def decisions(statements):
    """The statements but a worker's LISTENs, which come once per database
    connection (the first request after a reload), not per decision."""
    return [(pid, what, text) for pid, what, text in statements
            if not (what == "statement" and text.startswith("LISTEN "))]


def single_miss(st, host, **kw):
    """The statements warren-api ran for one request after the cache expired."""
    settle()
    since = st.pg_log_offset()
    r = via_nginx(st, host, **kw)
    assert r.status_code in (200, 401, 403), r.status_code
    time.sleep(0.2)
    return [what for _, what, _ in decisions(st.api_statements(since))]


def test_one_statement_per_miss(world):
    """A decision costs one database statement when the per-worker cache
    misses, none when it hits (1 s)."""
    x, st = world, world.st
    alt, main = host_of(x.w, ALT_PORT), host_of(x.w)
    workers = int(st.w.conf["workers"])
    st.share(x.ta, x.w, ALT_PORT, "public")
    try:
        # Anyone on a public port, a browser of the owner, refusals.
        assert single_miss(st, alt) == ["execute forward_lookup"]
        wsc = ws_cookie(st, x.cookies_a, main)
        reload_and_wait(st.w)
        assert single_miss(st, main, cookies={"warren_ws": wsc}) == ["execute forward_lookup"]
        assert single_miss(st, main) == ["execute forward_lookup"]
        wsc_b = ws_cookie(st, x.cookies_b, main)
        assert single_miss(st, main, cookies={"warren_ws": wsc_b}) == ["execute forward_lookup"]
        # Many requests within the second: one miss per worker at most.
        settle()
        since = st.pg_log_offset()
        t0 = time.monotonic()
        for _ in range(30):
            assert served(via_nginx(st, alt), ALT_PORT)
        assert time.monotonic() - t0 < CACHE_TTL, "too slow to measure the cache"
        time.sleep(0.2)
        got = decisions(st.api_statements(since))
        assert 1 <= len(got) <= workers, got
        assert {s[1] for s in got} == {"execute forward_lookup"}, got
    finally:
        st.unshare(x.ta, x.w, ALT_PORT)


def test_one_statement_per_miss_for_a_script(world):
    x, st = world, world.st
    main = host_of(x.w)
    reload_and_wait(st.w)
    assert single_miss(st, main, token=x.ta) == ["execute forward_lookup"]


def test_one_statement_per_miss_that_records_activity(world):
    x, st = world, world.st
    main = host_of(x.w)
    wsc = ws_cookie(st, x.cookies_a, main)
    reload_and_wait(st.w)
    st.db.exec("UPDATE workspaces SET last_activity_at = now() - interval '10 minutes'"
               " WHERE id = %s", x.w["id"])
    got = single_miss(st, main, cookies={"warren_ws": wsc})
    assert st.db.value("SELECT last_activity_cause FROM workspaces WHERE id = %s",
                       x.w["id"]) == "http"
    assert got == ["execute forward_lookup"], got


# ------------------------------------------------- no stale decisions
#
# Each worker keeps its decisions until PostgreSQL announces a change
# (sql/0015_access_changes.sql): the first request after the change is
# decided afresh, however recently the same request was decided.  Every
# test asks many times just before the change, so that the worker that
# answers next holds the old decision.


def ask(st, host, times=None, **kw):
    """The same request, times over (3 per worker): the last answer."""
    for _ in range(times or 3 * int(st.w.conf["workers"])):
        r = via_nginx(st, host, **kw)
    return r


def test_ready_on_the_first_request_after_the_build(world):
    """While the reconciler starts it, the owner's requests come every few
    milliseconds; the first one after the build is recorded gets the
    container, not the starting page."""
    x, st = world, world.st
    ws = st.as_user(x.ta, "POST", "/workspaces", 201,
                    json={"name": unique("ready-"), "template": x.tpl["id"]}).json()
    host = host_of(ws)
    r = ask(st, host, token=x.ta)
    assert r.status_code == 503 and "starting" in r.text, (r.status_code, r.text)
    rec = st.reconciler()
    rec.start("--once", wait_active=False)
    starting = 0
    deadline = time.monotonic() + 60
    while True:
        done = st.db.value("SELECT status FROM workspace_builds WHERE id = %s",
                           ws["build_id"]) == "succeeded"
        r = via_nginx(st, host, token=x.ta)
        if done:
            break
        assert r.status_code in (200, 503), (r.status_code, r.text)
        starting += r.status_code == 503
        assert time.monotonic() < deadline, "the build did not succeed"
    assert served(r, MAIN_PORT), (r.status_code, r.text[:200])
    assert starting > 0
    assert rec.proc.wait(timeout=60) == 0, rec.log()[-3000:]
    gone(st, ws)


def gone(st, ws):
    """The test's own workspace, deleted: the module's others stay as the
    later tests expect them."""
    r = st.api("DELETE", f"/workspaces/{ws['id']}")
    assert r.status_code in (200, 202, 204), r.text
    st.once()


def test_unshare_counts_from_the_next_request(world):
    x, st = world, world.st
    host = host_of(x.w, ALT_PORT)
    st.share(x.ta, x.w, ALT_PORT, "public")
    try:
        assert served(ask(st, host), ALT_PORT)
    finally:
        st.unshare(x.ta, x.w, ALT_PORT)
    r = via_nginx(st, host)
    assert r.status_code == 401, (r.status_code, r.text[:200])
    # And a share, likewise.
    st.share(x.ta, x.w, ALT_PORT, "authenticated")
    try:
        assert served(via_nginx(st, host, token=x.tb), ALT_PORT)
        assert via_nginx(st, host).status_code == 401
    finally:
        st.unshare(x.ta, x.w, ALT_PORT)
    assert via_nginx(st, host, token=x.tb).status_code == 403


def test_sign_out_counts_from_the_next_request(world):
    x, st = world, world.st
    host = host_of(x.w)
    cookies = api_cookies(st, x.a)
    wsc = ws_cookie(st, cookies, host)
    assert served(ask(st, host, cookies={"warren_ws": wsc}), MAIN_PORT)
    csrf = next(v for k, v in cookies.items() if k.endswith("warren_csrf"))
    r = requests.post(st.w.url("/api/v1/auth/logout"), timeout=10,
                      headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                               "X-CSRF-Token": csrf, "Origin": st.w.conf["public_url"]})
    assert r.status_code in (200, 204), (r.status_code, r.text)
    assert via_nginx(st, host, cookies={"warren_ws": wsc}).status_code == 401


def test_stop_counts_from_the_next_request(world):
    x, st = world, world.st
    ws = st.as_user(x.ta, "POST", "/workspaces", 201,
                    json={"name": unique("stop-"), "template": x.tpl["id"]}).json()
    st.once()
    st.wait_build(ws["build_id"], 30, "succeeded")
    host = host_of(ws)
    assert served(ask(st, host, token=x.ta), MAIN_PORT)
    st.as_user(x.ta, "POST", f"/workspaces/{ws['id']}/builds", 201,
               json={"transition": "stop"})
    r = via_nginx(st, host, token=x.ta)
    assert r.status_code == 503 and "stopped" in r.text, (r.status_code, r.text[:200])
    st.once()
    gone(st, ws)


def test_disabled_user_counts_from_the_next_request(world):
    x, st = world, world.st
    u, tu = st.user("dis")
    ws = st.as_user(tu, "POST", "/workspaces", 201,
                    json={"name": unique("dis-"), "template": x.tpl["id"]}).json()
    st.once()
    st.wait_build(ws["build_id"], 30, "succeeded")
    host = host_of(ws)
    cookies = api_cookies(st, u)
    wsc = ws_cookie(st, cookies, host)
    assert served(ask(st, host, token=tu), MAIN_PORT)
    assert served(ask(st, host, cookies={"warren_ws": wsc}), MAIN_PORT)
    st.api("PATCH", f"/users/{u.id}", 200, json={"disabled": True})
    assert via_nginx(st, host, token=tu).status_code == 401
    assert via_nginx(st, host, cookies={"warren_ws": wsc}).status_code == 401
    gone(st, ws)


# -------------------------------------------------------------- hand-off


def test_handoff_gives_a_host_only_workspace_cookie(world):
    x, st = world, world.st
    host = host_of(x.w)
    code, loc = take_code(st, x.cookies_a, host, "/docs/page?x=1")
    u = urllib.parse.urlsplit(loc)
    assert (u.scheme, u.netloc, u.path) == ("http", host, "/_warren/handoff"), loc
    assert urllib.parse.parse_qs(u.query)["path"] == ["/docs/page?x=1"], loc
    assert len(code) >= 32, code
    row = st.db.one("SELECT host, user_id::text AS user_id,"
                    " extract(epoch FROM expires_at - now()) AS ttl"
                    " FROM handoff_codes WHERE code_hash = %s::bytea", sha256_bytea(code))
    assert row is not None, "the code is not stored by its hash"
    assert row["host"] == x.w["short_id"] and row["user_id"] == x.a.id, row
    assert 0 < row["ttl"] <= 60, row         # expires in seconds
    r = redeem(st, host, code, "/docs/page?x=1")
    assert r.status_code == 302 and r.headers["Location"] == "/docs/page?x=1", \
        (r.status_code, r.headers, r.text[:200])
    cookies = r.raw.headers.getlist("Set-Cookie")
    assert len(cookies) == 1, cookies
    parts = [p.strip() for p in cookies[0].split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {p.split("=")[0].lower(): (p.split("=", 1)[1] if "=" in p else True) for p in parts[1:]}
    assert name == "warren_ws", cookies
    assert "domain" not in attrs, "the workspace cookie must be host-only"
    assert attrs.get("httponly") is True and attrs.get("path") == "/", attrs
    assert attrs.get("samesite", "").lower() == "lax", attrs
    assert 0 < int(attrs["max-age"]) <= 86400, attrs
    _, claims = jwt_decode(value)
    assert claims["typ"] == "workspace" and claims["sub"] == x.a.id, claims
    assert claims["aud"] in (f"warren-ws:{x.w['short_id']}", [f"warren-ws:{x.w['short_id']}"])
    assert claims["exp"] - claims["iat"] == int(attrs["max-age"]), claims
    # It opens the workspace, and only that host.
    assert served(answer(st, host, cookies={"warren_ws": value}), MAIN_PORT)
    r = answer(st, host_of(x.w, ALT_PORT), cookies={"warren_ws": value})
    assert r.status_code == 401, r.status_code
    r = answer(st, host_of(x.w_b), cookies={"warren_ws": value})
    assert r.status_code == 401, r.status_code
    # The platform's own cookies open no workspace.
    r = answer(st, host, cookies=x.cookies_a)
    assert r.status_code == 401, r.status_code


def test_handoff_code_is_one_time(world):
    x, st = world, world.st
    host = host_of(x.w)
    code, _ = take_code(st, x.cookies_a, host)
    assert redeem(st, host, code).status_code == 302
    r = redeem(st, host, code)
    assert r.status_code == 403 and "Set-Cookie" not in r.headers, (r.status_code, r.headers)


def test_handoff_code_is_bound_to_its_host(world):
    x, st = world, world.st
    # Another workspace's host, even one its user may open.
    code, _ = take_code(st, x.cookies_b, host_of(x.w_b))
    r = redeem(st, host_of(x.w), code)
    assert r.status_code == 403 and "Set-Cookie" not in r.headers, r.status_code
    # A code shown to the wrong host is spent.
    assert redeem(st, host_of(x.w_b), code).status_code == 403
    # Another port of the same workspace is another host.
    code, _ = take_code(st, x.cookies_a, host_of(x.w))
    assert redeem(st, host_of(x.w, ALT_PORT), code).status_code == 403


def test_handoff_code_expires(world):
    x, st = world, world.st
    host = host_of(x.w)
    code, _ = take_code(st, x.cookies_a, host)
    st.db.exec("UPDATE handoff_codes SET expires_at = now() - interval '1 second'"
               " WHERE code_hash = %s::bytea", sha256_bytea(code))
    r = redeem(st, host, code)
    assert r.status_code == 403 and "Set-Cookie" not in r.headers, r.status_code
    # Fresh codes still work, and expired ones are swept.
    code2, _ = take_code(st, x.cookies_a, host)
    assert redeem(st, host, code2).status_code == 302
    assert st.db.value("SELECT count(*) FROM handoff_codes WHERE expires_at < now()") == 0


def test_handoff_needs_a_browser_session(world):
    x, st = world, world.st
    host = host_of(x.w)
    # Not signed in: to the sign-in page, which brings the browser back.
    r = requests.get(handoff_url(st, host, "/p"), allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.status_code
    u = urllib.parse.urlsplit(r.headers["Location"])
    assert (u.netloc, u.path) == (API_HOST, "/"), r.headers["Location"]
    nxt = urllib.parse.parse_qs(u.query)["next"][0]
    assert nxt.startswith("/api/v1/auth/handoff?"), nxt
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)["host"] == [host], nxt
    # A Bearer token is a script's: no cookie for a browser from it.
    r = requests.get(handoff_url(st, host), allow_redirects=False, timeout=10,
                     headers={"Authorization": f"Bearer {x.ta}"})
    assert r.status_code == 302 and "/_warren/" not in r.headers["Location"], r.headers
    # Not a workspace host.
    for bad in ("evil.example", f"{BASE_DOMAIN}", f"{x.w['short_id']}.evil.example"):
        r = requests.get(handoff_url(st, bad), allow_redirects=False, timeout=10,
                         headers={"Cookie": "; ".join(f"{k}={v}" for k, v in x.cookies_a.items())})
        assert r.status_code == 400, (bad, r.status_code)
    # The path after the hand-off stays on the workspace host.
    for path in ("//evil.example/x", "/\\evil.example", "https://evil.example/"):
        code, _ = take_code(st, x.cookies_a, host, path)
        r = redeem(st, host, code, path)
        assert r.status_code == 302 and r.headers["Location"] == "/", (path, r.headers)


def test_handoff_never_sends_the_code_elsewhere(world):
    x, st = world, world.st
    cookie = "; ".join(f"{k}={v}" for k, v in x.cookies_a.items())
    for bad in (f"{host_of(x.w)}:80@evil.example", f"{host_of(x.w)}:@evil.example",
                f"{host_of(x.w)}:80/.evil.example"):
        r = requests.get(handoff_url(st, bad), allow_redirects=False, timeout=10,
                         headers={"Cookie": cookie})
        if r.status_code == 302:
            u = urllib.parse.urlsplit(r.headers["Location"])
            assert u.hostname == host_of(x.w), (bad, r.headers["Location"])
        else:
            assert r.status_code == 400, (bad, r.status_code)


def test_signed_out_browser_loses_workspace_access(world):
    """The workspace cookie dies with the session it came from."""
    x, st = world, world.st
    host = host_of(x.w)
    cookies = api_cookies(st, x.a)
    wsc = ws_cookie(st, cookies, host)
    assert served(answer(st, host, cookies={"warren_ws": wsc}), MAIN_PORT)
    csrf = next(v for k, v in cookies.items() if k.endswith("warren_csrf"))
    r = requests.post(st.w.url("/api/v1/auth/logout"), timeout=10,
                      headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                               "X-CSRF-Token": csrf, "Origin": st.w.conf["public_url"]})
    assert r.status_code in (200, 204), (r.status_code, r.text)
    settle()
    r = answer(st, host, cookies={"warren_ws": wsc})
    assert r.status_code == 401, r.status_code


# ------------------------------------------------------ what the container sees


def test_container_never_receives_warren_credentials(world):
    """The session cookies stay on the API host, warren_ws and
    Authorization stop at nginx; the workspace host's own cookies pass."""
    x, st = world, world.st
    host = host_of(x.w)
    api = api_cookies(st, x.a)
    wsc = ws_cookie(st, api, host)
    secrets = [v for v in api.values()] + [wsc, x.ta]
    # A browser: its jar sends each host its own cookies only.
    r = answer(st, host, path="/echo", cookies={"app_pref": "blue", "warren_ws": wsc,
                                               "app_sid": "s3"})
    assert served(r, MAIN_PORT), (r.status_code, r.text[:200])
    heads, raw = proxied_head(r)
    assert cookies_in(heads) == {"app_pref": "blue", "app_sid": "s3"}, heads.get("cookie")
    assert "authorization" not in heads, heads
    assert not [s for s in secrets if s in raw], raw
    assert "warren_ws" not in raw, raw
    # The container's own Set-Cookie reaches the browser.
    assert "app_seen=8080" in r.headers.get("Set-Cookie", ""), r.headers
    # A script's Bearer token, valid on the API, stops at the proxy.
    r = answer(st, host, token=x.ta, path="/echo", cookies={"app_pref": "red"})
    heads, raw = proxied_head(r)
    assert "authorization" not in heads and x.ta not in raw, raw
    assert cookies_in(heads) == {"app_pref": "red"}, heads
    # Nor does any other form of it.
    r = answer(st, host, path="/echo", cookies={"warren_ws": wsc},
               headers={"Authorization": f"Basic {x.ta}", "Proxy-Authorization": "x"})
    heads, raw = proxied_head(r)
    assert x.ta not in raw and "authorization" not in heads, raw
    # The token is still good on the API: what the container never saw
    # would have been worth stealing.
    assert st.as_user(x.ta, "GET", "/me").status_code == 200


def test_the_workspace_gets_the_host_as_the_browser_sent_it(world):
    x, st = world, world.st
    forwarded_as_sent(lambda h, **kw: answer(st, h, token=x.ta, path="/echo", **kw),
                      host_of(x.w), st.w.http_port)


def test_container_never_receives_session_cookies_sent_to_it(world):
    x, st = world, world.st
    host = host_of(x.w)
    api = api_cookies(st, x.a)
    wsc = ws_cookie(st, api, host)
    jar = dict(api)
    jar.update({f"__Host-{k}": v for k, v in api.items()})
    jar.update({"warren_ws": wsc, "app_pref": "blue"})
    r = answer(st, host, path="/echo", cookies=jar)
    assert served(r, MAIN_PORT), r.status_code
    heads, raw = proxied_head(r)
    assert cookies_in(heads) == {"app_pref": "blue"}, heads.get("cookie")
    assert not [v for v in api.values() if v in raw], raw


def test_workspace_is_asked_to_close_unless_upgrading(world):
    """nginx tells the workspace "Connection: close" whatever the client
    sent, so the workspace closes first and nginx's port is free at once
    (WebSocket upgrades are test_websocket_echo_through_nginx)."""
    x, st = world, world.st
    host = host_of(x.w)
    wsc = ws_cookie(st, x.cookies_a, host)
    for sent in (None, "keep-alive", "Upgrade"):
        headers = {"Connection": sent} if sent else {}
        r = answer(st, host, path="/echo", cookies={"warren_ws": wsc}, headers=headers)
        assert served(r, MAIN_PORT), (sent, r.status_code)
        heads, _ = proxied_head(r)
        assert heads.get("connection") == ["close"], (sent, heads)
        assert "upgrade" not in heads, (sent, heads)


# -------------------------------------------------------------- WebSocket


def test_websocket_echo_through_nginx(world):
    x, st = world, world.st
    host = host_of(x.w)
    msgs = ["hello", "x" * 1000, "ünïcödé"]
    assert websocket_echo(st, host, msgs, headers={"Authorization": f"Bearer {x.ta}"}) == msgs
    wsc = ws_cookie(st, x.cookies_a, host)
    assert websocket_echo(st, host, ["via cookie"],
                          headers={"Cookie": f"warren_ws={wsc}"}) == ["via cookie"]
    for headers, want in (({}, 401), ({"Authorization": f"Bearer {x.tb}"}, 403)):
        with pytest.raises(WebSocketRefused) as e:
            websocket_echo(st, host, ["no"], headers=headers)
        assert e.value.status == want, e.value.head


# ------------------------------------------------------------- Traefik


def traefik_asks(host, uri, **more):
    """The X-Forwarded-* headers Traefik's forwardAuth adds to a copy of
    the client's headers (pkg/middlewares/auth/forward.go)."""
    h = {"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http", "X-Forwarded-Host": host,
         "X-Forwarded-Uri": uri, "X-Forwarded-For": "127.0.0.1"}
    h.update(more)
    return h


def test_forward_answer_has_the_headers_traefik_copies(world):
    x, st = world, world.st
    doc = lint_traefik((TOP / "tests/unit/golden/traefik-one.yml").read_text(), 3)
    names = doc["http"]["middlewares"]["warren-auth"]["forwardAuth"]["authResponseHeaders"]
    host = host_of(x.w)
    wsc = ws_cookie(st, x.cookies_a, host)
    r = forward(st, host, uri=None, cookie=f"app=1; warren_ws={wsc}",
                headers=traefik_asks(host, "/"))
    assert r.status_code == 200, r.status_code
    assert {n: r.headers.get(n) for n in names} == {n: "app=1" for n in names}, r.headers


def test_forward_reads_the_uri_traefik_sends(world):
    x, st = world, world.st
    host = host_of(x.w)
    r = forward(st, host, uri=None, headers=traefik_asks(host, "/deep/page?q=1"))
    assert r.status_code == 401, r.status_code
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["X-Warren-Signin"]).query)
    assert q["path"] == ["/deep/page?q=1"], q


def traefik_pending(st, host, token=None, **more):
    """What router warren-any-host's forwardAuth (warren-pending) asks."""
    h = traefik_asks(host, "/", **more)
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return requests.get(st.w.url("/api/v1/auth/forward?pending=1"), headers=h,
                        timeout=10, allow_redirects=False)


def test_hosts_without_a_router_get_warrens_pages_behind_traefik(world):
    """Traefik hands the forward endpoint's refusal to the browser as it
    is: a stopped, starting or unknown host, or one whose router is not
    written yet, gets Warren's page and status, never Traefik's 404."""
    x, st = world, world.st
    doc = lint_traefik((TOP / "tests/unit/golden/traefik-one.yml").read_text(), 3)
    address = doc["http"]["middlewares"]["warren-pending"]["forwardAuth"]["address"]
    assert address.endswith("/api/v1/auth/forward?pending=1"), address
    stopped = host_of(st.as_user(x.ta, "POST", "/workspaces", 201, json={
        "name": unique("never-"), "template": x.tpl["id"], "start": False}).json())
    r = traefik_pending(st, stopped, x.ta)
    assert (r.status_code, r.text) == (503, "This workspace is stopped.\n"), r.text
    # Running, and its owner may open it, but no router of its own yet.
    r = traefik_pending(st, host_of(x.w), x.ta)
    assert (r.status_code, r.text) == (503, "This workspace is starting.\n"), r.text
    assert r.headers["Retry-After"] == "2", r.headers
    r = traefik_pending(st, f"{SHORT_ID_UNKNOWN}.{BASE_DOMAIN}", x.ta)
    assert (r.status_code, r.text) == (404, "No such workspace.\n"), r.text
    r = traefik_pending(st, host_of(x.w), x.tb)
    assert (r.status_code, r.text) == (403, "You may not open this workspace.\n"), r.text
    r = traefik_pending(st, host_of(x.w), Accept="text/html")
    assert r.status_code == 302 and "/api/v1/auth/handoff" in r.headers["Location"], r.headers
    # The stopped page on a workspace's own router too (stopped since the
    # file was written).
    r = forward(st, stopped, x.ta, uri=None, headers=traefik_asks(stopped, "/"))
    assert (r.status_code, r.text) == (503, "This workspace is stopped.\n"), r.text
    # nginx's auth_request still gets the 403 it turns into its own page.
    assert forward(st, stopped, x.ta).status_code == 403


def test_handoff_behind_traefik_reaches_the_api_through_nginx(world):
    """Router warren-any-host-handoff: Traefik replaces the path and, as
    service warren-api does not pass the Host on, sends nginx the API's
    own Host, the workspace's in X-Forwarded-Host: nginx answers as the
    API (not as the workspace host, which looped), and the code is
    redeemed for the workspace host."""
    x, st = world, world.st
    doc = lint_traefik((TOP / "tests/unit/golden/traefik-one.yml").read_text(), 3)
    assert doc["http"]["services"]["warren-api"]["loadBalancer"]["passHostHeader"] is False
    host = host_of(x.w)
    code, _ = take_code(st, x.cookies_a, host, "/deep?x=1")
    api_host = urllib.parse.urlsplit(st.w.url("/")).netloc
    r = via_nginx(st, api_host, "/api/v1/auth/handoff/redeem?" + urllib.parse.urlencode(
        {"code": code, "path": "/deep?x=1"}), headers={
        "X-Forwarded-Host": host, "X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1"})
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert r.headers["Location"].endswith("/deep?x=1"), r.headers
    wsc = re.match(r"warren_ws=([^;]+)", r.headers.get("Set-Cookie", ""))
    assert wsc, r.headers
    # The cookie opens the workspace (through nginx, as a browser would).
    assert served(answer(st, host, cookies={"warren_ws": wsc.group(1)}), MAIN_PORT)


def test_forward_redirects_a_browser_behind_traefik(world):
    x, st = world, world.st
    host = host_of(x.w)
    r = forward(st, host, uri=None, headers=traefik_asks(
        host, "/", Accept="text/html,application/xhtml+xml"))
    assert r.status_code == 302, r.status_code
    u = urllib.parse.urlsplit(r.headers["Location"])
    assert (u.netloc, u.path) == (API_HOST, "/api/v1/auth/handoff"), r.headers["Location"]
    # nginx passes no Accept header to the endpoint: auth_request still
    # gets the 401 it turns into a redirect itself.
    assert forward(st, host).status_code == 401


def test_traefik_file_from_the_reconciler_v2(world, tmp_path):
    """traefik_version = 2: the snapshot a reconciler pass writes lints
    against the v2 schema, routes every running workspace and each of its
    declared ports to what Docker published, names nothing a user typed, replaces a stale
    temporary file, and is left alone by a pass that changes nothing."""
    x, st = world, world.st
    t_file = tmp_path / "dynamic.yml"
    stale = tmp_path / ".warren-dynamic.yml.tmp999"
    stale.write_text("half")
    forward_url = f"http://127.0.0.1:{st.port}/api/v1/auth/forward"
    conf = {"traefik_file": str(t_file), "traefik_version": 2,
            "traefik_forward_url": forward_url}
    st.share(x.ta, x.w, ALT_PORT, "org")
    try:
        st.once(**conf)
        text = t_file.read_text()
        assert text.startswith("# Written by warren-reconciler for Traefik v2;"), text[:80]
        doc = read_traefik(t_file, 2)
        check_traefik_contract(doc, forward_url)
        assert not stale.exists()
        want = {}
        for ws in (x.w, x.w_b, x.w_ss, x.w_org):
            c = st.docker.inspect(st.cname(ws))
            if c is not None and c["State"]["Running"]:
                want[f"warren-{ws['short_id']}"] = (
                    host_of(ws), 100, f"http://127.0.0.1:{st.port_of(ws)}")
                # Every declared port, shared or not: the forward
                # endpoint decides who may open it.
                for p in (MAIN_PORT, ALT_PORT):
                    want[f"warren-{ws['short_id']}-{p}"] = (
                        host_of(ws, p), 200, f"http://127.0.0.1:{st.port_of(ws, p)}")
        assert f"warren-{x.w['short_id']}-{ALT_PORT}" in want, want
        assert f"warren-{x.w['short_id']}" in want and f"warren-{x.w_org['short_id']}" not in want
        assert traefik_routes(doc) == want, (traefik_routes(doc), want)
        for typed in (x.w["name"], x.tpl["name"], x.a.name, x.b.name, "secret"):
            assert typed not in text, typed
        before = os.stat(t_file)
        st.once(**conf)
        after = os.stat(t_file)
        assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    finally:
        st.unshare(x.ta, x.w, ALT_PORT)


# A page of the workspace cannot steer nginx (issue 15 point 6).
@pytest.mark.parametrize("header", STEERING)
def test_workspace_answers_cannot_steer_nginx(world, header):
    x, st = world, world.st
    r = answer(st, host_of(x.w), x.ta, headers={"X-Echo-Reply": header})
    # The workspace's own answer, not an internal redirect's.
    assert served(r, MAIN_PORT), (header, r.status_code, r.text[:300])
    name = header.split(":")[0].lower()
    assert name not in {k.lower() for k in r.headers}, (header, dict(r.headers))
    assert not [k for k in r.headers if k.lower().startswith(("x-warren-", "x-accel-"))], \
        dict(r.headers)
    # Any other header of the workspace's reaches the client: the image
    # does send what it is asked to.
    r = answer(st, host_of(x.w), x.ta, headers={"X-Echo-Reply": "X-Demo-Reply: yes"})
    assert r.headers.get("X-Demo-Reply") == "yes", dict(r.headers)
