"""Issue 4, workspace lists kept by the workers: a list is answered again
from a worker's memory until PostgreSQL announces (NOTIFY, from triggers
on workspaces and builds) that the owner's workspaces changed.  Whatever
changes them (the API, the reconciler's own connection, a statement typed
in psql, a restart of PostgreSQL) the next list shows it."""

import threading
import time

import psycopg2
import pytest

from conftest import metric
from control_util import (
    World, call, close_stack, finish_latest, make_template, make_ws, ok, open_stack,
    req, running_ws,
)


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    # One worker: every request meets the same cache.
    stack = open_stack(pg, tmp_path_factory.mktemp("ctl-listcache"), workers=1)
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def world(w):
    return World(w)


@pytest.fixture(scope="module")
def tpl(w, world):
    return make_template(w, world.tokens["tadmin"])


@pytest.fixture()
def db(w):
    """A connection of its own, as the reconciler has."""
    conn = psycopg2.connect(host=f"{w.pg.root}/sock", port=w.pg.port, user="postgres",
                            dbname=w.db, connect_timeout=5)
    conn.autocommit = True
    yield conn
    conn.close()


def listing(w, token, owner, query=""):
    r = call(w, "GET", f"/workspaces?owner={owner}&limit=100{query}", token)
    ok(r)
    return {ws["id"]: ws for ws in r.json()["items"]}


def cache(w, event):
    return metric(w.metrics(), "warren_list_cache_total", event=event)


def test_a_repeated_list_is_kept_and_equal(w, world, tpl):
    user, tok = world.new_member("keep")
    for i in range(3):
        make_ws(w, tok, tpl["id"], name=f"keep-{i}")
    first = call(w, "GET", f"/workspaces?owner={user.id}&limit=100", tok)
    ok(first)
    hits = cache(w, "hit")
    again = call(w, "GET", f"/workspaces?owner={user.id}&limit=100", tok)
    ok(again)
    assert again.content == first.content
    assert cache(w, "hit") == hits + 1
    # Another query string is another answer.
    stopped = listing(w, tok, user.id, "&status=running")
    assert stopped == {}


def test_changes_from_another_connection_show_at_once(w, world, tpl, db):
    """The reconciler writes on its own connection: each of its changes is
    in the very next list, many times over."""
    user, tok = world.new_member("recon")
    ws = running_ws(w, tok, tpl["id"], name="recon-1")
    cur = db.cursor()
    assert listing(w, tok, user.id)[ws["id"]]["status"] == "running"
    for i in range(40):
        cur.execute("UPDATE workspaces SET last_activity_at = now(),"
                    " last_activity_cause = %s WHERE id = %s", (f"probe-{i}", ws["id"]))
        got = listing(w, tok, user.id)[ws["id"]]
        assert got["last_activity_cause"] == f"probe-{i}", (i, got)
    # A build ending (a change to workspace_builds only) shows too.
    ok(req(w, "POST", f"/workspaces/{ws['id']}/builds", tok, json={"transition": "stop"}), 201)
    assert listing(w, tok, user.id)[ws["id"]]["status"] == "stopping"
    cur.execute("UPDATE workspace_builds SET status = 'succeeded', started_at = now(),"
                " completed_at = now() WHERE workspace_id = %s AND status = 'pending'",
                (ws["id"],))
    assert listing(w, tok, user.id)[ws["id"]]["status"] == "stopped"
    assert cache(w, "invalidated") > 0


def test_api_writes_are_read_back(w, world, tpl):
    user, tok = world.new_member("rw")
    ws = make_ws(w, tok, tpl["id"], name="rw-1")
    finish_latest(w, ws["id"])
    assert listing(w, tok, user.id)[ws["id"]]["name"] == "rw-1"
    for i in range(10):
        ok(req(w, "PATCH", f"/workspaces/{ws['id']}", tok, json={"name": f"rw-{i + 2}"}))
        assert listing(w, tok, user.id)[ws["id"]]["name"] == f"rw-{i + 2}"
    extra = make_ws(w, tok, tpl["id"], name="rw-extra")
    assert extra["id"] in listing(w, tok, user.id)
    finish_latest(w, extra["id"])
    ok(req(w, "DELETE", f"/workspaces/{extra['id']}", tok), 202)
    finish_latest(w, extra["id"])
    w.pg.psql(w.db, f"UPDATE workspaces SET deleted_at = now() WHERE id = '{extra['id']}'")
    assert extra["id"] not in listing(w, tok, user.id)


def test_other_owners_changes_keep_the_list(w, world, tpl, db):
    """Only the owner's own changes drop their list."""
    a, atok = world.new_member("own-a")
    b, btok = world.new_member("own-b")
    make_ws(w, atok, tpl["id"], name="a-1")
    wb = make_ws(w, btok, tpl["id"], name="b-1")
    listing(w, atok, a.id)
    db.cursor().execute("UPDATE workspaces SET last_activity_at = now() WHERE id = %s",
                        (wb["id"],))
    hits = cache(w, "hit")
    listing(w, atok, a.id)
    assert cache(w, "hit") == hits + 1


def test_concurrent_writers_never_leave_a_stale_list(w, world, tpl, db):
    """Writers on other connections while lists are read: once the writers
    stop, the list shows the last write."""
    user, tok = world.new_member("race")
    ids = [make_ws(w, tok, tpl["id"], name=f"race-{i}")["id"] for i in range(5)]
    stop = threading.Event()
    errors = []

    def writer(n):
        conn = psycopg2.connect(host=f"{w.pg.root}/sock", port=w.pg.port, user="postgres",
                                dbname=w.db, connect_timeout=5)
        conn.autocommit = True
        cur = conn.cursor()
        i = 0
        try:
            while not stop.is_set():
                cur.execute("UPDATE workspaces SET last_activity_cause = %s WHERE id = %s",
                            (f"w{n}-{i}", ids[n]))
                i += 1
            cur.execute("UPDATE workspaces SET last_activity_cause = %s WHERE id = %s",
                        (f"w{n}-last", ids[n]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(len(ids))]
    for t in threads:
        t.start()
    for _ in range(60):
        listing(w, tok, user.id)
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    got = listing(w, tok, user.id)
    assert [got[i]["last_activity_cause"] for i in ids] == [f"w{n}-last" for n in range(5)]


def test_a_restart_of_postgresql_drops_what_was_kept(w, world, tpl):
    """Notifications sent while the worker was not connected are lost: a
    new connection starts with nothing kept."""
    user, tok = world.new_member("restart")
    ws = make_ws(w, tok, tpl["id"], name="restart-1")
    finish_latest(w, ws["id"])
    assert listing(w, tok, user.id)[ws["id"]]["status"] == "running"
    w.pg.stop()
    w.pg.start()
    w.pg.psql(w.db, "UPDATE workspaces SET last_activity_cause = 'after-restart'"
                    f" WHERE id = '{ws['id']}'")
    for _ in range(50):
        r = call(w, "GET", f"/workspaces?owner={user.id}&limit=100", tok)
        if r.status_code == 200:
            break
    ok(r)
    assert r.json()["items"][0]["last_activity_cause"] == "after-restart"


def test_an_owner_id_in_capitals_is_the_same_owner(w, world, tpl, db):
    """PostgreSQL names owners in lower case; an id typed in capitals is
    the same owner and the same list."""
    user, tok = world.new_member("caps")
    ws = make_ws(w, tok, tpl["id"], name="caps-1")
    upper = user.id.upper()
    assert listing(w, world.admin, upper)[ws["id"]]["last_activity_cause"] is None
    db.cursor().execute("UPDATE workspaces SET last_activity_cause = 'typed' WHERE id = %s",
                        (ws["id"],))
    assert listing(w, world.admin, upper)[ws["id"]]["last_activity_cause"] == "typed"


def test_an_idle_worker_reads_its_notifications(w, world, tpl, db):
    """A worker that LISTENs and then serves nothing still reads what
    PostgreSQL sends it, so the server's notification queue moves on."""
    user, tok = world.new_member("idle")
    listing(w, tok, user.id)  # the worker LISTENs from here on
    cur = db.cursor()
    cur.execute("SELECT count(pg_notify('warren_workspaces', 'n' || g))"
                " FROM generate_series(1, 20000) g")
    deadline = time.monotonic() + 30
    while True:
        cur.execute("SELECT pg_notification_queue_usage()")
        if cur.fetchone()[0] == 0:
            break
        assert time.monotonic() < deadline, "the notification queue did not move on"
        time.sleep(0.2)


def test_odd_stored_json_is_answered(w, world, tpl, db):
    """Values no API request could store (written by hand or a restore)
    still give answers, in a list and alone."""
    user, tok = world.new_member("odd")
    ws = make_ws(w, tok, tpl["id"], name="odd-1")
    deep = "[" * 32 + "]" * 32
    db.cursor().execute("UPDATE workspaces SET parameters = %s::jsonb WHERE id = %s",
                        ('{"deep": %s, "big": 1e400}' % deep, ws["id"]))
    assert ws["id"] in listing(w, tok, user.id)
    r = call(w, "GET", f"/workspaces/{ws['id']}", tok)
    ok(r)
    assert r.json()["id"] == ws["id"]


def test_a_truncate_drops_every_list(w, world, tpl, db):
    """Last: empties the builds of this module's database."""
    user, tok = world.new_member("trunc")
    ws = running_ws(w, tok, tpl["id"], name="trunc-1")
    assert listing(w, tok, user.id)[ws["id"]]["status"] == "running"
    db.cursor().execute("TRUNCATE workspace_builds CASCADE")
    assert listing(w, tok, user.id)[ws["id"]]["status"] == "stopped"


# ------------------------------------------------ an owner's workspace read
#
# GET /api/v1/workspaces/{id} by its owner is kept with their lists (issue
# 17 point 6): the same invalidations hold, and a port share or a Docker
# host's state (warren_access) drops it too.


def reading(w, token, ws_id):
    r = call(w, "GET", f"/workspaces/{ws_id}", token)
    ok(r)
    return r.json()


def test_an_owners_read_is_kept_until_it_changes(w, world, tpl, db):
    user, tok = world.new_member("get")
    ws = running_ws(w, tok, tpl["id"], name="get-1")
    first = call(w, "GET", f"/workspaces/{ws['id']}", tok)
    ok(first)
    hits = cache(w, "hit")
    again = call(w, "GET", f"/workspaces/{ws['id']}", tok)
    assert again.content == first.content and cache(w, "hit") == hits + 1
    cur = db.cursor()
    # The reconciler's writes, on its own connection.
    for i in range(20):
        cur.execute("UPDATE workspaces SET last_activity_at = now(),"
                    " last_activity_cause = %s WHERE id = %s", (f"probe-{i}", ws["id"]))
        assert reading(w, tok, ws["id"])["last_activity_cause"] == f"probe-{i}"
    ok(req(w, "POST", f"/workspaces/{ws['id']}/builds", tok, json={"transition": "stop"}), 201)
    assert reading(w, tok, ws["id"])["status"] == "stopping"
    cur.execute("UPDATE workspace_builds SET status = 'succeeded', started_at = now(),"
                " completed_at = now() WHERE workspace_id = %s AND status = 'pending'",
                (ws["id"],))
    assert reading(w, tok, ws["id"])["status"] == "stopped"


def test_a_share_and_a_host_state_show_at_once(w, world, tpl, db):
    user, tok = world.new_member("getshare")
    ws = running_ws(w, tok, tpl["id"], name="getshare-1")
    assert reading(w, tok, ws["id"])["shared_ports"] == []
    cur = db.cursor()
    cur.execute("INSERT INTO port_shares (workspace_id, port, level) VALUES (%s, 8080, 'org')",
                (ws["id"],))
    assert [p["port"] for p in reading(w, tok, ws["id"])["shared_ports"]] == [8080]
    cur.execute("DELETE FROM port_shares WHERE workspace_id = %s", (ws["id"],))
    assert reading(w, tok, ws["id"])["shared_ports"] == []
    # Its Docker host stops answering: "unknown", from the next read on.
    cur.execute("INSERT INTO deployments (workspace_id, docker_host, container_name,"
                " volume_name, state) VALUES (%s, 'far', 'c', 'v', 'running')", (ws["id"],))
    assert reading(w, tok, ws["id"])["status"] == "running"
    cur.execute("INSERT INTO docker_host_status (name, reachable) VALUES ('far', false)")
    got = reading(w, tok, ws["id"])
    assert got["status"] == "unknown" and "far" in got["status_reason"], got
    cur.execute("DELETE FROM docker_host_status WHERE name = 'far'")
    assert reading(w, tok, ws["id"])["status"] == "running"


def test_what_an_owner_read_is_not_answered_to_others(w, world, tpl):
    """The owner's read is kept under the owner's id: another member asking
    for the same workspace on the same worker is still told 404."""
    user, tok = world.new_member("getown")
    ws = running_ws(w, tok, tpl["id"], name="getown-1")
    other, otok = world.new_member("getother")
    for _ in range(3):
        reading(w, tok, ws["id"])
        r = call(w, "GET", f"/workspaces/{ws['id']}", otok)
        assert r.status_code == 404, r.text
