"""Issue 4, builds: every transition, append-only history, 409 with the
build in flight, concurrent transitions, Idempotency-Key, NOTIFY in the
same transaction, and build logs (paged, and followed by long poll)."""

import threading
import time

import pytest

from control_util import (
    UUID_RE, Listener, Sessions, World, add_version, assert_audit, build, call, close_stack,
    finish_build, finish_latest, get_ws, invalid, make_template, make_ws, new_request_id,
    not_found, ok, open_stack, problem, psql, q, req, running_ws, together, ts, unique,
)

BUILD_FIELDS = {
    "id", "workspace_id", "number", "transition", "reason", "initiator_id",
    "template_version_id", "template_version", "status", "error", "image_digest",
    "created_at", "started_at", "completed_at",
}


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("ctl-builds"))
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def world(w):
    return World(w)


@pytest.fixture(scope="module")
def tpl(w, world):
    params = [{"name": "TAG", "type": "string", "default": "a", "mutable": True}]
    t = make_template(w, world.tokens["tadmin"], parameters=params)
    add_version(w, world.tokens["tadmin"], t["id"], image="debian:13", cpu_millis=1500,
                parameters=params)
    return t


@pytest.fixture
def listener(w):
    lst = Listener(w)
    yield lst
    lst.close()


# ------------------------------------------------------------- transitions


def test_every_transition(w, world, tpl):
    tok = world.tokens["alice"]
    alice = world.users["alice"]
    ws = make_ws(w, tok, tpl["id"])
    wid = ws["id"]
    first = ok(call(w, "GET", f"/builds/{ws['build_id']}", tok))
    assert set(first) == BUILD_FIELDS, set(first) ^ BUILD_FIELDS
    assert first["transition"] == "start" and first["number"] == 1
    finish_build(w, first["id"])

    steps = [
        ("stop", {}, "stopped", "stopping", "stopped"),
        ("start", {}, "running", "starting", "running"),
        ("restart", {}, "running", "restarting", "running"),
        ("update", {"template_version": 2}, "running", "updating", "running"),
        ("delete", {}, "deleted", "deleting", "deleted"),
    ]
    for n, (transition, extra, desired, during, after) in enumerate(steps, start=2):
        rid = new_request_id()
        r = build(w, tok, wid, transition, rid=rid, **extra)
        b = ok(r, 201)
        assert set(b) == BUILD_FIELDS, set(b) ^ BUILD_FIELDS
        assert UUID_RE.match(b["id"]) and b["workspace_id"] == wid
        assert b["number"] == n and b["transition"] == transition
        assert b["reason"] == "user" and b["initiator_id"] == alice.id
        assert b["status"] == "pending" and b["error"] is None
        assert b["started_at"] is None and b["completed_at"] is None
        ts(b["created_at"])
        version = 2 if transition in ("update", "delete") else 1
        assert b["template_version"] == version, (transition, b)
        got = get_ws(w, tok, wid)
        assert got["desired_state"] == desired and got["status"] == during, (transition, got)
        assert got["build_id"] == b["id"] and got["build_number"] == n
        e = assert_audit(w, world.admin, rid, f"workspace.{transition}", actor=alice,
                         target_id=wid, target_type="workspace")
        assert e["details"]["build_id"] == b["id"], e
        finish_build(w, b["id"])
        done = ok(call(w, "GET", f"/builds/{b['id']}", tok))
        assert done["status"] == "succeeded" and done["completed_at"] is not None
        assert get_ws(w, tok, wid)["status"] == after

    # The workspace follows the update to version 2.
    assert get_ws(w, tok, wid)["template_version"] == 2
    # Append-only history, newest first.
    items = ok(call(w, "GET", f"/workspaces/{wid}/builds", tok))["items"]
    assert [b["number"] for b in items] == [6, 5, 4, 3, 2, 1]
    assert [b["transition"] for b in items] == ["delete", "update", "restart", "start", "stop",
                                                "start"]
    assert all(b["status"] == "succeeded" for b in items)


def test_bad_build_requests_400(w, world, tpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    wid = ws["id"]
    for body, word in (
        ({"transition": "pause"}, "transition"),
        ({"transition": "START"}, "transition"),
        ({"transition": ""}, "transition"),
        ({}, "transition"),
        ({"transition": 1}, "transition"),
        ({"transition": "start", "template_version": 2}, "update"),
        ({"transition": "stop", "parameters": {"TAG": "b"}}, "update"),
        ({"transition": "update", "template_version": 99}, "template_version"),
        ({"transition": "update", "template_version": "2"}, "template_version"),
        ({"transition": "update", "parameters": {"NOPE": "x"}}, "NOPE"),
        ({"transition": "update", "parameters": {"TAG": 5}}, "TAG"),
        ({"transition": "stop", "reason": "admin"}, "reason"),
    ):
        invalid(call(w, "POST", f"/workspaces/{wid}/builds", tok, json=body), word)
    items = ok(call(w, "GET", f"/workspaces/{wid}/builds", tok))["items"]
    assert [b["number"] for b in items] == [1]
    not_found(call(w, "POST", "/workspaces/00000000-0000-4000-8000-000000000000/builds", tok,
                   json={"transition": "stop"}))


def test_update_with_parameters(w, world, tpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    assert ws["parameters"] == {"TAG": "a"}
    b = ok(build(w, tok, ws["id"], "update", template_version=2, parameters={"TAG": "b"}), 201)
    assert b["template_version"] == 2
    got = get_ws(w, tok, ws["id"])
    assert got["parameters"] == {"TAG": "b"} and got["template_version"] == 2


def test_transition_while_one_is_in_flight_409(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    wid = ws["id"]
    for transition in ("start", "stop", "restart", "update", "delete"):
        p = problem(build(w, tok, wid, transition), 409, "conflict", extra={"build"})
        cur = p["build"]
        assert cur["id"] == ws["build_id"] and cur["number"] == 1
        assert cur["transition"] == "start" and cur["status"] == "pending"
        ts(cur["created_at"])
    # Running (picked up by the reconciler) is in flight too.
    psql(w, f"UPDATE workspace_builds SET status = 'running', started_at = now()"
            f" WHERE id = {q(ws['build_id'])}")
    p = problem(build(w, tok, wid, "stop"), 409, "conflict", extra={"build"})
    assert p["build"]["status"] == "running"
    # Failed or canceled builds are over: the next transition goes ahead.
    finish_build(w, ws["build_id"], "failed", error="image pull failed")
    failed = ok(call(w, "GET", f"/builds/{ws['build_id']}", tok))
    assert failed["status"] == "failed" and failed["error"] == "image pull failed"
    assert get_ws(w, tok, wid)["status"] == "failed"
    b = ok(build(w, tok, wid, "start"), 201)
    finish_build(w, b["id"], "canceled")
    ok(build(w, tok, wid, "stop"), 201)
    assert psql(w, f"SELECT count(*) FROM workspace_builds WHERE workspace_id = {q(wid)}") == "3"


def test_concurrent_transitions_one_wins(w, world, tpl):
    """24 clients ask for transitions of one workspace at once: exactly one
    201, the others 409 naming that build; then again with mixed
    transitions."""
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    sessions = Sessions()

    def ask(transition):
        return lambda i: sessions.get().post(
            w.url(f"/api/v1/workspaces/{ws['id']}/builds"),
            json={"transition": transition if transition else
                  ("stop", "restart", "delete", "update")[i % 4]},
            headers={"Authorization": f"Bearer {tok}"}, timeout=30)

    for transition in ("stop", None):
        res = together(24, ask(transition), threads=24)
        codes = sorted(r.status_code for r in res)
        assert codes == [201] + [409] * 23, codes
        won = next(r.json() for r in res if r.status_code == 201)
        for r in res:
            if r.status_code == 409:
                assert r.json()["build"]["id"] == won["id"], r.text
        assert psql(w, f"SELECT count(*) FROM workspace_builds WHERE workspace_id = {q(ws['id'])}"
                       f" AND status = 'pending'") == "1"
        finish_build(w, won["id"])
        if won["transition"] in ("stop", "delete"):
            ok(build(w, tok, ws["id"], "start"), 201)
            finish_latest(w, ws["id"])
    numbers = [b["number"] for b in ok(call(w, "GET", f"/workspaces/{ws['id']}/builds",
                                            tok))["items"]]
    assert numbers == sorted(numbers, reverse=True) == list(range(len(numbers), 0, -1))


def test_builds_list_pagination_and_get(w, world, tpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    for t in ("stop", "start", "stop", "start"):
        b = ok(build(w, tok, ws["id"], t), 201)
        finish_build(w, b["id"])
    numbers, cursor = [], None
    for _ in range(10):
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = ok(call(w, "GET", f"/workspaces/{ws['id']}/builds", tok, params=params))
        numbers += [b["number"] for b in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert numbers == [5, 4, 3, 2, 1]
    for cursor in ("abc", "-1", "1.5"):
        invalid(call(w, "GET", f"/workspaces/{ws['id']}/builds", tok, params={"cursor": cursor}),
                "cursor")
    invalid(call(w, "GET", f"/workspaces/{ws['id']}/builds", tok, params={"limit": 500}), "limit")
    not_found(call(w, "GET", "/builds/00000000-0000-4000-8000-000000000000", tok))
    not_found(call(w, "GET", "/builds/nope", tok))
    not_found(call(w, "GET", "/builds/00000000-0000-4000-8000-000000000000/logs", tok))


# ------------------------------------------------------------- idempotency


def test_idempotent_create(w, world, tpl):
    tok = world.tokens["alice"]
    key = unique("create-key-")
    body = {"name": unique("idem-"), "template": tpl["id"]}
    r1 = req(w, "POST", "/workspaces", tok, key=key, json=body)
    first = ok(r1, 201)
    assert "Idempotent-Replayed" not in r1.headers
    r2 = req(w, "POST", "/workspaces", tok, key=key, json=body)
    assert r2.status_code == 201 and r2.headers.get("Idempotent-Replayed") == "true"
    assert r2.json() == first
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE name = {q(body['name'])}") == "1"
    assert psql(w, f"SELECT count(*) FROM workspace_builds WHERE workspace_id = {q(first['id'])}"
                   ) == "1"
    # Another body under the same key: 422, nothing made.
    other = dict(body, name=unique("idem-"))
    problem(req(w, "POST", "/workspaces", tok, key=key, json=other), 422,
            "idempotency-key-reused")
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE name = {q(other['name'])}") == "0"
    # The same key on another route is another request: 422 as well.
    problem(req(w, "POST", f"/workspaces/{first['id']}/builds", tok, key=key,
                json={"transition": "stop"}), 422, "idempotency-key-reused")
    # Keys are per user: bob's request with alice's key is his own.
    mine = ok(req(w, "POST", "/workspaces", world.tokens["bob"], key=key, json=body), 201)
    assert mine["owner_id"] == world.id("bob") and mine["id"] != first["id"]
    # Without a key, the same body is a new request (and a duplicate name).
    problem(req(w, "POST", "/workspaces", tok, json=body), 409, "conflict")


def test_idempotent_build(w, world, tpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    key = unique("build-key-")
    r1 = build(w, tok, ws["id"], "stop", key=key)
    b = ok(r1, 201)
    r2 = build(w, tok, ws["id"], "stop", key=key)
    assert r2.status_code == 201 and r2.headers.get("Idempotent-Replayed") == "true"
    assert r2.json() == b
    # A replay is not a 409 even though the build is still pending.
    assert psql(w, f"SELECT count(*) FROM workspace_builds WHERE workspace_id = {q(ws['id'])}"
                ) == "2"
    problem(build(w, tok, ws["id"], "restart", key=key), 422, "idempotency-key-reused")
    # A request that failed stored nothing: its key can be retried.
    key2 = unique("retry-key-")
    problem(build(w, tok, ws["id"], "start", key=key2), 409, "conflict", extra={"build"})
    finish_build(w, b["id"])
    b2 = ok(build(w, tok, ws["id"], "start", key=key2), 201)
    r = build(w, tok, ws["id"], "start", key=key2)
    assert r.headers.get("Idempotent-Replayed") == "true" and r.json() == b2


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\tkey", "ключ"])
def test_bad_idempotency_keys_400(w, world, tpl, key):
    tok = world.tokens["alice"]
    name = unique("bk-")
    r = req(w, "POST", "/workspaces", tok, headers={"Idempotency-Key": key.encode("utf-8")},
            json={"name": name, "template": tpl["id"]})
    invalid(r, "Idempotency-Key")
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE name = {q(name)}") == "0"


def test_concurrent_retries_with_one_key_create_one_workspace(w, world, tpl):
    tok = world.tokens["carol"]
    key = unique("storm-")
    body = {"name": unique("storm-"), "template": tpl["id"]}
    sessions = Sessions()
    res = together(16, lambda i: sessions.get().post(
        w.url("/api/v1/workspaces"), json=body,
        headers={"Authorization": f"Bearer {tok}", "Idempotency-Key": key}, timeout=30))
    assert [r.status_code for r in res] == [201] * 16, [(r.status_code, r.text[:200]) for r in res]
    assert len({r.json()["id"] for r in res}) == 1
    replayed = [r.headers.get("Idempotent-Replayed") for r in res]
    assert replayed.count("true") == 15, replayed
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE name = {q(body['name'])}") == "1"
    wid = res[0].json()["id"]
    assert psql(w, f"SELECT count(*) FROM workspace_builds WHERE workspace_id = {q(wid)}") == "1"
    # And for a build request.
    finish_latest(w, wid)
    key = unique("storm-build-")
    res = together(16, lambda i: sessions.get().post(
        w.url(f"/api/v1/workspaces/{wid}/builds"), json={"transition": "stop"},
        headers={"Authorization": f"Bearer {tok}", "Idempotency-Key": key}, timeout=30))
    assert [r.status_code for r in res] == [201] * 16, [(r.status_code, r.text[:200]) for r in res]
    assert len({r.json()["id"] for r in res}) == 1
    assert psql(w, f"SELECT count(*) FROM workspace_builds WHERE workspace_id = {q(wid)}") == "2"


# ------------------------------------------------------------------ NOTIFY


def test_changes_of_desired_state_notify_the_reconciler(w, world, tpl, listener):
    tok = world.tokens["alice"]
    assert listener.poll() == []
    ws = make_ws(w, tok, tpl["id"])
    assert listener.wait_for(ws["id"]) == [ws["id"]]
    # A refused transition changes nothing and wakes nobody: the NOTIFY is
    # in the transaction that rolled back.
    problem(build(w, tok, ws["id"], "stop"), 409, "conflict", extra={"build"})
    finish_latest(w, ws["id"])
    time.sleep(0.3)
    assert listener.poll() == []
    for transition in ("stop", "start", "restart", "update"):
        b = ok(build(w, tok, ws["id"], transition), 201)
        assert listener.wait_for(ws["id"]) == [ws["id"]], transition
        finish_build(w, b["id"])
    ok(call(w, "PUT", f"/workspaces/{ws['id']}/ports/8080", tok, json={"level": "owner"}))
    assert listener.wait_for(ws["id"]) == [ws["id"]]
    ok(call(w, "DELETE", f"/workspaces/{ws['id']}/ports/8080", tok), 204)
    assert listener.wait_for(ws["id"]) == [ws["id"]]
    ok(call(w, "DELETE", f"/workspaces/{ws['id']}", tok), 202)
    assert listener.wait_for(ws["id"]) == [ws["id"]]
    # A refused create (bad parameters) notifies nothing.
    invalid(call(w, "POST", "/workspaces", tok, json={"name": unique("n-"), "template": tpl["id"],
                                                      "parameters": {"NOPE": 1}}))
    time.sleep(0.3)
    assert listener.poll() == []


def test_notify_is_sent_at_commit(w, world, tpl, listener):
    """A replayed idempotent request does not notify again."""
    tok = world.tokens["alice"]
    key = unique("nk-")
    body = {"name": unique("nk-"), "template": tpl["id"]}
    ws = ok(req(w, "POST", "/workspaces", tok, key=key, json=body), 201)
    listener.wait_for(ws["id"])
    r = req(w, "POST", "/workspaces", tok, key=key, json=body)
    assert r.headers.get("Idempotent-Replayed") == "true"
    time.sleep(0.3)
    assert listener.poll() == []


# -------------------------------------------------------------------- logs


def add_logs(w, bid, lines, stream="stdout"):
    values = ", ".join(f"({q(bid)}, {q(stream)}, {q(line)})" for line in lines)
    psql(w, f"INSERT INTO build_logs (build_id, stream, line) VALUES {values}")


def logs(w, tok, bid, **params):
    return ok(call(w, "GET", f"/builds/{bid}/logs", tok, params=params,
                   timeout=40))


def test_logs_paged(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    bid = ws["build_id"]
    empty = logs(w, tok, bid)
    assert empty["items"] == [] and empty["done"] is False and empty["next_after"] == 0
    add_logs(w, bid, [f"line {i}" for i in range(7)])
    add_logs(w, bid, ["warning: x"], stream="stderr")
    page = logs(w, tok, bid)
    items = page["items"]
    assert [x["line"] for x in items] == [f"line {i}" for i in range(7)] + ["warning: x"]
    assert [x["stream"] for x in items] == ["stdout"] * 7 + ["stderr"]
    assert set(items[0]) == {"seq", "at", "stream", "line"}
    seqs = [x["seq"] for x in items]
    assert seqs == sorted(seqs) and len(set(seqs)) == 8
    assert page["next_after"] == seqs[-1] and page["done"] is False
    for x in items:
        ts(x["at"])
    # Paging with after and limit.
    got, after = [], 0
    for _ in range(10):
        p = logs(w, tok, bid, after=after, limit=3)
        assert len(p["items"]) <= 3
        got += [x["line"] for x in p["items"]]
        if not p["items"]:
            break
        after = p["next_after"]
    assert got == [x["line"] for x in items]
    assert logs(w, tok, bid, after=seqs[3])["items"] == items[4:]
    # Done once the build is over and every line is read.
    finish_build(w, bid)
    assert logs(w, tok, bid, limit=3)["done"] is False
    end = logs(w, tok, bid, after=seqs[-2])
    assert end["done"] is True and [x["line"] for x in end["items"]] == ["warning: x"]
    for params, word in (({"after": "abc"}, "after"), ({"after": "-1"}, "after"),
                         ({"after": ""}, "after"), ({"timeout": "0"}, "timeout"),
                         ({"timeout": "26"}, "timeout"), ({"timeout": "x"}, "timeout"),
                         ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit")):
        invalid(call(w, "GET", f"/builds/{bid}/logs", tok, params=params), word)


def follow_in_thread(w, tok, bid, **params):
    out = {}

    def run():
        t0 = time.monotonic()
        r = call(w, "GET", f"/builds/{bid}/logs", tok, timeout=40,
                 params=dict(params, follow="true"))
        out["elapsed"] = time.monotonic() - t0
        out["at"] = time.monotonic()
        out["resp"] = r

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_follow_returns_when_a_line_arrives(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    bid = ws["build_id"]
    add_logs(w, bid, ["first"])
    first = logs(w, tok, bid)
    t, out = follow_in_thread(w, tok, bid, after=first["next_after"], timeout=20)
    time.sleep(1.0)
    assert "resp" not in out, "follow returned before any line was written"
    inserted = time.monotonic()
    add_logs(w, bid, ["second"])
    t.join(timeout=30)
    body = ok(out["resp"])
    assert [x["line"] for x in body["items"]] == ["second"]
    assert body["done"] is False
    # Promptly: well before the 20 s timeout.
    assert out["at"] - inserted < 3.0, out["at"] - inserted

    # The build ends while a client follows: done, no more lines.
    t, out = follow_in_thread(w, tok, bid, after=body["next_after"], timeout=20)
    time.sleep(1.0)
    assert "resp" not in out
    ended = time.monotonic()
    finish_build(w, bid)
    t.join(timeout=30)
    body = ok(out["resp"])
    assert body["items"] == [] and body["done"] is True
    assert out["at"] - ended < 3.0


def test_follow_times_out_empty(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    t0 = time.monotonic()
    body = logs(w, tok, ws["build_id"], follow="true", timeout=1)
    elapsed = time.monotonic() - t0
    assert body["items"] == [] and body["done"] is False
    assert 0.9 <= elapsed < 5, elapsed


def test_follow_on_a_finished_build_returns_at_once(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    add_logs(w, ws["build_id"], ["only"])
    finish_build(w, ws["build_id"])
    t0 = time.monotonic()
    body = logs(w, tok, ws["build_id"], follow="true", timeout=20, after=0)
    assert [x["line"] for x in body["items"]] == ["only"] and body["done"] is True
    body = logs(w, tok, ws["build_id"], follow="true", timeout=20, after=body["next_after"])
    assert body["items"] == [] and body["done"] is True
    assert time.monotonic() - t0 < 3


def test_log_followers_do_not_starve_the_api(w, world, tpl):
    """As many clients as warren-api has workers follow a build's log: the
    rest of the API must still answer promptly (a long poll must not be
    able to take every worker; excess followers may be told to retry)."""
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    followers = [follow_in_thread(w, tok, ws["build_id"], timeout=6)
                 for _ in range(int(w.conf["workers"]))]
    time.sleep(0.7)
    t0 = time.monotonic()
    r = w.get("/api/v1/health", timeout=30)
    elapsed = time.monotonic() - t0
    for t, _ in followers:
        t.join(timeout=30)
    assert r.status_code == 200, r.text
    for _, out in followers:
        assert out["resp"].status_code in (200, 429, 503), out["resp"].text
    assert elapsed < 2.0, f"/api/v1/health took {elapsed:.1f} s while logs were followed"


# ------------------------------------------------------------------- access


def test_builds_of_other_users_404(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    add_logs(w, ws["build_id"], ["private"])
    for who in ("bob", "carol", "tadmin"):
        t = world.tokens[who]
        for r in (call(w, "GET", f"/builds/{ws['build_id']}", t),
                  call(w, "GET", f"/builds/{ws['build_id']}/logs", t),
                  call(w, "GET", f"/builds/{ws['build_id']}/logs", t,
                       params={"follow": "true", "timeout": 1}),
                  call(w, "GET", f"/workspaces/{ws['id']}/builds", t),
                  call(w, "POST", f"/workspaces/{ws['id']}/builds", t,
                       json={"transition": "stop"})):
            not_found(r)
            assert "private" not in r.text
    assert [x["line"] for x in logs(w, world.tokens["auditor"], ws["build_id"])["items"]] == \
        ["private"]
    assert [x["line"] for x in logs(w, world.admin, ws["build_id"])["items"]] == ["private"]
    problem(call(w, "GET", f"/builds/{ws['build_id']}"), 401)
