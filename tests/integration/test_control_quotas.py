"""Issue 4, quotas: per user and per organization, set by admins, checked
at create, start and update in the same transaction as the change, so
that concurrent requests cannot exceed them."""

import pytest

from control_util import (
    Sessions, World, add_version, assert_audit, build, call, close_stack, finish_latest,
    invalid, make_template, make_ws, new_request_id, not_found, ok, open_stack, problem,
    psql, q, req, running_ws, together, unique,
)

LIMITS = ("max_workspaces", "max_running", "max_cpu_millis", "max_memory_mb")


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    # More workers than elsewhere: the races below want real parallelism.
    stack = open_stack(pg, tmp_path_factory.mktemp("ctl-quotas"), workers=8)
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def world(w):
    return World(w)


@pytest.fixture(scope="module")
def tpl(w, world):
    """Version 1 (active): 1000 mCPU, 1024 MiB; version 2: 2000, 4096."""
    t = make_template(w, world.tokens["tadmin"], cpu_millis=1000, memory_mb=1024)
    add_version(w, world.tokens["tadmin"], t["id"], cpu_millis=2000, memory_mb=4096)
    return t


def set_quota(w, admin, scope, subject, rid=None, **limits):
    return ok(req(w, "PUT", f"/quotas/{scope}/{subject}", admin, rid=rid, json=limits))


def refused(resp, limit, quota, usage, scope="user"):
    """403 /problems/quota-exceeded naming the limit and the usage."""
    p = problem(resp, 403, "quota-exceeded", extra={"limit", "scope", "quota", "usage"})
    assert (p["limit"], p["quota"], p["usage"]) == (limit, quota, usage), p
    assert p["scope"] == scope, p
    assert limit in p["detail"] and f"{usage} of {quota}" in p["detail"], p
    return p


def fresh_user(world):
    return world.new_member("q")


# -------------------------------------------------------------- the API


def test_admins_set_and_read_quotas(w, world):
    u, _ = fresh_user(world)
    empty = ok(call(w, "GET", f"/quotas/users/{u.id}", world.admin))
    assert empty == {"scope": "user", "subject_id": u.id, "max_workspaces": None,
                     "max_running": None, "max_cpu_millis": None, "max_memory_mb": None}
    rid = new_request_id()
    got = set_quota(w, world.admin, "users", u.id, rid=rid, max_workspaces=5, max_running=2,
                    max_cpu_millis=3000, max_memory_mb=4096)
    assert {k: got[k] for k in LIMITS} == {"max_workspaces": 5, "max_running": 2,
                                           "max_cpu_millis": 3000, "max_memory_mb": 4096}
    assert got["scope"] == "user" and got["subject_id"] == u.id
    e = assert_audit(w, world.admin, rid, "quota.set", actor=world.users["admin"],
                     target_id=u.id)
    assert e["details"]["max_running"] == 2, e
    again = ok(call(w, "GET", f"/quotas/users/{u.id}", world.admin))
    assert {k: again[k] for k in LIMITS} == {k: got[k] for k in LIMITS}
    # PUT replaces: a limit left out (or null) is no limit.
    got = set_quota(w, world.admin, "users", u.id, max_running=1, max_memory_mb=None)
    assert {k: got[k] for k in LIMITS} == {"max_workspaces": None, "max_running": 1,
                                           "max_cpu_millis": None, "max_memory_mb": None}
    # Organizations.
    rid = new_request_id()
    got = set_quota(w, world.admin, "orgs", world.org_b, rid=rid, max_workspaces=10)
    assert got["scope"] == "org" and got["max_workspaces"] == 10
    assert_audit(w, world.admin, rid, "quota.set", target_id=world.org_b)
    assert ok(call(w, "GET", f"/quotas/orgs/{world.org_b}", world.admin))["max_workspaces"] == 10


def test_only_admins_see_or_set_quotas(w, world):
    target = world.id("bob")
    org = world.make_org({"alice": "owner"})
    for who in ("alice", "bob", "tadmin", "auditor"):
        tok = world.tokens[who]
        not_found(call(w, "GET", f"/quotas/users/{target}", tok))
        not_found(call(w, "PUT", f"/quotas/users/{target}", tok, json={"max_running": 100}))
        not_found(call(w, "PUT", f"/quotas/orgs/{org}", tok, json={"max_running": 100}))
        not_found(call(w, "GET", f"/quotas/orgs/{org}", tok))
    # alice owns the org and still may not set its quota.
    not_found(call(w, "PUT", f"/quotas/orgs/{org}", world.tokens["alice"],
                   json={"max_running": 100}))
    assert psql(w, f"SELECT count(*) FROM quotas WHERE subject_id IN ({q(target)},"
                   f" {q(org)})") == "0"
    problem(call(w, "GET", f"/quotas/users/{target}"), 401)


def test_bad_quota_requests(w, world):
    admin = world.admin
    uid = world.id("bob")
    missing = "00000000-0000-4000-8000-000000000000"
    not_found(call(w, "GET", f"/quotas/teams/{uid}", admin))
    not_found(call(w, "PUT", f"/quotas/teams/{uid}", admin, json={"max_running": 1}))
    not_found(call(w, "GET", f"/quotas/users/{missing}", admin))
    not_found(call(w, "PUT", f"/quotas/users/{missing}", admin, json={"max_running": 1}))
    not_found(call(w, "PUT", f"/quotas/orgs/{uid}", admin, json={"max_running": 1}))  # a user id
    not_found(call(w, "PUT", f"/quotas/users/{world.org_a}", admin, json={"max_running": 1}))
    not_found(call(w, "GET", "/quotas/users/not-an-id", admin))
    for body, word in (({"max_running": -1}, "max_running"), ({"max_running": "3"}, "max_running"),
                       ({"max_running": 1.5}, "max_running"),
                       ({"max_workspaces": 10 ** 12}, "max_workspaces"),
                       ({"max_gpus": 1}, "max_gpus")):
        invalid(call(w, "PUT", f"/quotas/users/{uid}", admin, json=body), word)
    assert psql(w, f"SELECT count(*) FROM quotas WHERE subject_id = {q(uid)}") == "0"


# ------------------------------------------------------------ enforcement


def test_max_workspaces_at_create(w, world, tpl):
    u, tok = fresh_user(world)
    set_quota(w, world.admin, "users", u.id, max_workspaces=2)
    a = make_ws(w, tok, tpl["id"], start=False)
    make_ws(w, tok, tpl["id"])
    name = unique("over-")
    r = call(w, "POST", "/workspaces", tok, json={"name": name, "template": tpl["id"]})
    refused(r, "max_workspaces", 2, 2)
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE name = {q(name)}") == "0"
    # A delete frees the slot at once (the desired state counts).
    ok(call(w, "DELETE", f"/workspaces/{a['id']}", tok), 202)
    make_ws(w, tok, tpl["id"], start=False)


def test_max_running_at_create_and_start(w, world, tpl):
    u, tok = fresh_user(world)
    set_quota(w, world.admin, "users", u.id, max_running=1)
    first = running_ws(w, tok, tpl["id"])
    refused(call(w, "POST", "/workspaces", tok, json={"name": unique("r-"), "template": tpl["id"]}),
            "max_running", 1, 1)
    # Made stopped, it does not count; starting it does.
    second = make_ws(w, tok, tpl["id"], start=False)
    for transition in ("start", "restart", "update"):
        refused(build(w, tok, second["id"], transition), "max_running", 1, 1)
    assert psql(w, f"SELECT count(*) FROM workspace_builds WHERE workspace_id ="
                   f" {q(second['id'])}") == "0"
    # Restarting the running one does not need another slot.
    ok(build(w, tok, first["id"], "restart"), 201)
    finish_latest(w, first["id"])
    # Once the first is asked to stop, the second may start.
    ok(build(w, tok, first["id"], "stop"), 201)
    ok(build(w, tok, second["id"], "start"), 201)
    finish_latest(w, first["id"])
    refused(build(w, tok, first["id"], "start"), "max_running", 1, 1)


def test_cpu_and_memory_at_start_and_update(w, world, tpl):
    u, tok = fresh_user(world)
    set_quota(w, world.admin, "users", u.id, max_cpu_millis=2500, max_memory_mb=8192)
    a = running_ws(w, tok, tpl["id"])                    # 1000 mCPU
    b = running_ws(w, tok, tpl["id"])                    # 2000 mCPU in use
    c = make_ws(w, tok, tpl["id"], start=False)
    refused(build(w, tok, c["id"], "start"), "max_cpu_millis", 2500, 2000)
    refused(call(w, "POST", "/workspaces", tok, json={"name": unique("c-"), "template": tpl["id"]}),
            "max_cpu_millis", 2500, 2000)
    # Updating a running workspace to version 2 adds 1000 mCPU: refused.
    refused(build(w, tok, a["id"], "update", template_version=2), "max_cpu_millis", 2500, 2000)
    assert psql(w, f"SELECT template_version_id FROM workspaces WHERE id = {q(a['id'])}") == \
        tpl["active"]["id"]
    # With b stopped there is room for it.
    ok(build(w, tok, b["id"], "stop"), 201)
    ok(build(w, tok, a["id"], "update", template_version=2), 201)
    finish_latest(w, a["id"])

    # Memory: 4096 in use (a on version 2), 8192 allowed.
    set_quota(w, world.admin, "users", u.id, max_memory_mb=5000)
    refused(build(w, tok, c["id"], "start"), "max_memory_mb", 5000, 4096)
    refused(call(w, "POST", "/workspaces", tok, json={"name": unique("m-"), "template": tpl["id"],
                                                      "template_version": 2}),
            "max_memory_mb", 5000, 4096)
    set_quota(w, world.admin, "users", u.id, max_memory_mb=5120)
    ok(build(w, tok, c["id"], "start"), 201)


def test_org_quota(w, world, tpl):
    """Org A's quota counts its workspaces, whoever in it owns them."""
    set_quota(w, world.admin, "orgs", world.org_a, max_running=2, max_workspaces=3)
    try:
        a = make_ws(w, world.tokens["alice"], tpl["id"], org_id=world.org_a)
        make_ws(w, world.tokens["bob"], tpl["id"], org_id=world.org_a)
        p = refused(call(w, "POST", "/workspaces", world.tokens["dave"],
                         json={"name": unique("o-"), "template": tpl["id"],
                               "org_id": world.org_a}),
                    "max_running", 2, 2, scope="organization")
        assert "organization" in p["detail"]
        d = make_ws(w, world.tokens["dave"], tpl["id"], org_id=world.org_a, start=False)
        refused(build(w, world.tokens["dave"], d["id"], "start"), "max_running", 2, 2,
                scope="organization")
        refused(call(w, "POST", "/workspaces", world.tokens["dave"],
                     json={"name": unique("o-"), "template": tpl["id"], "org_id": world.org_a,
                           "start": False}),
                "max_workspaces", 3, 3, scope="organization")
        # Outside the org the same users are not limited by it.
        make_ws(w, world.tokens["dave"], tpl["id"])
        finish_latest(w, a["id"])
        ok(build(w, world.tokens["alice"], a["id"], "stop"), 201)
        ok(build(w, world.tokens["dave"], d["id"], "start"), 201)
    finally:
        set_quota(w, world.admin, "orgs", world.org_a)


def test_default_quotas_from_the_config(pg, tmp_path_factory):
    """default_max_workspaces and default_max_running apply to users
    without a quota of their own; a quota replaces them."""
    from control_util import World as W
    s = open_stack(pg, tmp_path_factory.mktemp("ctl-defaultq"), workers=2,
                   default_max_workspaces=3, default_max_running=1)
    try:
        world = W(s, members=("alice",))
        t = make_template(s, world.tokens["tadmin"])
        tok = world.tokens["alice"]
        make_ws(s, tok, t["id"])
        refused(call(s, "POST", "/workspaces", tok, json={"name": unique("d-"), "template": t["id"]}),
                "max_running", 1, 1)
        make_ws(s, tok, t["id"], start=False)
        make_ws(s, tok, t["id"], start=False)
        refused(call(s, "POST", "/workspaces", tok,
                     json={"name": unique("d-"), "template": t["id"], "start": False}),
                "max_workspaces", 3, 3)
        set_quota(s, world.admin, "users", world.id("alice"), max_workspaces=4, max_running=2)
        make_ws(s, tok, t["id"])
    finally:
        close_stack(s)


# ------------------------------------------------------------ concurrency


def test_concurrent_starts_never_exceed_max_running(w, world, tpl):
    """The key race: 20 stopped workspaces, max_running 3, 20 start
    requests at once from 20 clients: exactly 3 succeed and exactly 3
    workspaces want to run."""
    u, tok = fresh_user(world)
    wss = [make_ws(w, tok, tpl["id"], name=f"race-{i:02d}", start=False) for i in range(20)]
    set_quota(w, world.admin, "users", u.id, max_running=3)
    sessions = Sessions()

    def start(i):
        return sessions.get().post(
            w.url(f"/api/v1/workspaces/{wss[i]['id']}/builds"), json={"transition": "start"},
            headers={"Authorization": f"Bearer {tok}"}, timeout=30)

    res = together(20, start)
    codes = sorted(r.status_code for r in res)
    assert codes == [201] * 3 + [403] * 17, codes
    for r in res:
        if r.status_code == 403:
            refused(r, "max_running", 3, 3)
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE owner_id = {q(u.id)}"
                   f" AND desired_state = 'running'") == "3"
    assert psql(w, f"SELECT count(*) FROM workspace_builds b JOIN workspaces x ON"
                   f" x.id = b.workspace_id WHERE x.owner_id = {q(u.id)}") == "3"
    # The builds done, the 17 others try again, all at once: still full.
    won = {r.json()["workspace_id"] for r in res if r.status_code == 201}
    for wid in won:
        finish_latest(w, wid)
    rest = [i for i in range(20) if wss[i]["id"] not in won]
    res = together(17, lambda j: start(rest[j]))
    assert [r.status_code for r in res] == [403] * 17, [r.status_code for r in res]
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE owner_id = {q(u.id)}"
                   f" AND desired_state = 'running'") == "3"


def test_concurrent_creates_never_exceed_max_workspaces(w, world, tpl):
    u, tok = fresh_user(world)
    set_quota(w, world.admin, "users", u.id, max_workspaces=5, max_running=2)
    sessions = Sessions()
    res = together(20, lambda i: sessions.get().post(
        w.url("/api/v1/workspaces"), json={"name": f"c{i:02d}", "template": tpl["id"]},
        headers={"Authorization": f"Bearer {tok}"}, timeout=30))
    codes = sorted(r.status_code for r in res)
    assert codes == [201] * 2 + [403] * 18, codes
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE owner_id = {q(u.id)}") == "2"
    res = together(20, lambda i: sessions.get().post(
        w.url("/api/v1/workspaces"), json={"name": f"s{i:02d}", "template": tpl["id"],
                                           "start": False},
        headers={"Authorization": f"Bearer {tok}"}, timeout=30))
    codes = sorted(r.status_code for r in res)
    assert codes == [201] * 3 + [403] * 17, codes
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE owner_id = {q(u.id)}") == "5"
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE owner_id = {q(u.id)}"
                   f" AND desired_state = 'running'") == "2"


def test_concurrent_starts_across_an_org(w, world, tpl):
    """Org quota under a race between different owners."""
    org = world.make_org({"alice": "member", "bob": "member", "carol": "member", "dave": "member"})
    owners = ["alice", "bob", "carol", "dave"]
    wss = [make_ws(w, world.tokens[owners[i % 4]], tpl["id"], org_id=org, start=False)
           for i in range(12)]
    set_quota(w, world.admin, "orgs", org, max_running=4, max_cpu_millis=100000)
    sessions = Sessions()
    res = together(12, lambda i: sessions.get().post(
        w.url(f"/api/v1/workspaces/{wss[i]['id']}/builds"), json={"transition": "start"},
        headers={"Authorization": f"Bearer {world.tokens[owners[i % 4]]}"}, timeout=30))
    codes = sorted(r.status_code for r in res)
    assert codes == [201] * 4 + [403] * 8, codes
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE org_id = {q(org)}"
                   f" AND desired_state = 'running'") == "4"
