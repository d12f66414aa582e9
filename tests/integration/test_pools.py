"""Warm pools (issue 17 point 3): a template version keeps prebuilt
workspaces created, started, probed and paused; a create that matches
claims one in its transaction and the reconciler resumes it and refills the
pool; an update drains the old version's pool; members belong to nobody a
user can see.

The Docker Engine runs in a network namespace of its own (as on a
production host, its packet filter on), the reconciler beside it; the API
behind nginx on this machine.
"""

import concurrent.futures
import json
import signal
import time

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import metric, wait_for  # noqa: E402

from identity_util import api_user, call, sign_in, unique  # noqa: E402

pytest_plugins = ["docker_util"]

POOL_OWNER = "00000000-0000-4000-8000-000000000001"
PARAMS = [{"name": "GREETING", "type": "string", "default": "hello"}]


@pytest.fixture
def st(netns_stack):
    return netns_stack


def member(st, tpl_id=None):
    """The pool's members: workspace rows of the pool's owner."""
    return st.db.all(
        "SELECT w.id, w.short_id, w.pool_version_id, s.status FROM workspaces w"
        " JOIN workspace_states s ON s.id = w.id WHERE w.owner_id = %s"
        " AND w.deleted_at IS NULL AND w.desired_state = 'running'"
        " AND (%s::uuid IS NULL OR w.template_id = %s::uuid) ORDER BY w.created_at, w.id",
        POOL_OWNER, tpl_id, tpl_id)


def paused(st, ws):
    c = st.docker.inspect(f"warren-{ws['short_id']}")
    return bool(c and c["State"]["Running"] and c["State"]["Paused"])


def ready_members(st, tpl_id, n, timeout=60):
    """Waits until the pool has n members, each running and paused."""
    def ready():
        ms = member(st, tpl_id)
        return ms if len(ms) == n and all(
            m["status"] == "running" and paused(st, m) for m in ms) else None
    return wait_for(ready, timeout, interval=0.1, what=f"{n} ready members of the pool")


def person(st, prefix):
    u = api_user(st.w, st.token, unique(prefix), password="pool-password-123")
    return u, sign_in(st.w, u)["access_token"]


def pooled_template(st, size=2, **version):
    return st.template(parameters=PARAMS, pool={"size": size}, **version)


def create(st, token, tpl, **body):
    body.setdefault("name", unique("ws-"))
    return call(st.w, "POST", "/workspaces", token,
                json={"template": tpl["id"], **body})


def test_pool_fills_pauses_and_stays_hidden(st):
    rec = st.reconciler(reconciler_resync=1)
    rec.start()
    tpl = pooled_template(st)
    v = st.api("GET", f"/templates/{tpl['id']}/versions/1", 200).json()
    assert v["pool"] == {"size": 2, "parameters": {"GREETING": "hello"}}, v
    ms = ready_members(st, tpl["id"], 2)
    # Admins see the pool in the reconciler's metrics, apart from the
    # workspaces of users.
    wait_for(lambda: metric(rec.metrics(), "warren_pool_members", state="ready") == 2, 10,
             what="two ready members in the metrics")
    assert metric(rec.metrics(), "warren_workspaces", status="running") == 0
    # Nobody's: not in an admin's list, a user's list or the users.
    listed = st.api("GET", "/workspaces?limit=200", 200).json()["items"]
    assert not {m["id"] for m in ms} & {w["id"] for w in listed}
    u, tok = person(st, "hid")
    assert call(st.w, "GET", "/workspaces", tok).json()["items"] == []
    users = st.api("GET", "/users?limit=200", 200).json()["items"]
    assert POOL_OWNER not in {x["id"] for x in users}
    # Never stopped by a schedule, though idle past the template's limit.
    st.db.exec("UPDATE workspaces SET last_activity_at = now() - interval '2 days',"
               " started_at = now() - interval '2 days' WHERE owner_id = %s", POOL_OWNER)
    time.sleep(2.5)
    assert [m["id"] for m in member(st, tpl["id"])] == [m["id"] for m in ms]
    assert all(m["status"] == "running" for m in member(st, tpl["id"]))


def test_claim_resumes_a_member_and_the_pool_refills(st):
    # A long resync: the refill after a claim does not wait for it.
    st.reconciler(reconciler_resync=300).start()
    tpl = pooled_template(st)
    ms = ready_members(st, tpl["id"], 2)
    u, tok = person(st, "claim")
    r = create(st, tok, tpl, name="mine")
    assert r.status_code == 201, r.text
    ws = r.json()
    # The oldest member, now the user's, under the user's name.
    assert ws["id"] == ms[0]["id"] and ws["short_id"] == ms[0]["short_id"]
    assert ws["owner_id"] == u.id and ws["name"] == "mine"
    st.wait_build(ws["build_id"], 30, "succeeded")
    assert not paused(st, ws)
    log = "\n".join(st.log_lines(ws["build_id"]))
    assert "resumed the prebuilt container" in log, log
    got = call(st.w, "GET", f"/workspaces/{ws['id']}", tok).json()
    assert got["status"] == "running" and got["parameters"] == {"GREETING": "hello"}
    audit = st.db.one("SELECT details FROM audit_log WHERE action = 'workspace.create'"
                      " AND target_id = %s", ws["id"])
    assert audit["details"].get("prebuilt") is True, audit
    # Refilled: two members again, the claimed one not among them.
    again = ready_members(st, tpl["id"], 2, timeout=20)
    assert ws["id"] not in {m["id"] for m in again}
    # It is the user's like any other: listed, and stopped by its owner.
    assert [w["id"] for w in call(st.w, "GET", "/workspaces", tok).json()["items"]] == [ws["id"]]
    b = call(st.w, "POST", f"/workspaces/{ws['id']}/builds", tok, json={"transition": "stop"})
    assert b.status_code == 201, b.text
    st.wait_build(b.json()["id"], 30, "succeeded")
    assert st.docker.inspect(f"warren-{ws['short_id']}") is None


def test_concurrent_claims_never_share_a_member(st):
    st.reconciler(reconciler_resync=1).start()
    tpl = pooled_template(st, size=3)
    ms = ready_members(st, tpl["id"], 3)
    people = [person(st, f"cc{i}-") for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        answers = list(ex.map(lambda p: create(st, p[1], tpl), people))
    assert all(r.status_code == 201 for r in answers), [r.text for r in answers]
    ids = [r.json()["id"] for r in answers]
    assert len(set(ids)) == 6, ids
    claimed = set(ids) & {m["id"] for m in ms}
    assert len(claimed) == 3, (ids, ms)
    for r, (u, _) in zip(answers, people):
        assert r.json()["owner_id"] == u.id
    for r in answers:
        st.wait_build(r.json()["build_id"], 60, "succeeded")


def test_only_matching_creates_claim(st):
    st.reconciler(reconciler_resync=1).start()
    tpl = pooled_template(st, size=1)
    ms = ready_members(st, tpl["id"], 1)
    u, tok = person(st, "match")
    for body in ({"parameters": {"GREETING": "other"}}, {"start": False}):
        r = create(st, tok, tpl, **body)
        assert r.status_code == 201, r.text
        assert r.json()["id"] != ms[0]["id"], body
    assert [m["id"] for m in member(st, tpl["id"])] == [ms[0]["id"]]
    # Quotas count a claim like any other workspace.
    st.api("PUT", f"/quotas/users/{u.id}", 200, json={"max_workspaces": 2})
    r = create(st, tok, tpl)
    assert r.status_code == 403 and "max_workspaces" in r.text, r.text
    assert member(st, tpl["id"])[0]["id"] == ms[0]["id"]


def test_update_drains_the_old_versions_pool(st):
    st.reconciler(reconciler_resync=1).start()
    tpl = pooled_template(st)
    old = ready_members(st, tpl["id"], 2)
    st.add_version(tpl["id"], activate=True, parameters=PARAMS, pool={"size": 1})
    new = ready_members(st, tpl["id"], 1)
    assert not {m["id"] for m in old} & {m["id"] for m in new}
    v2 = st.db.value("SELECT id FROM template_versions WHERE template_id = %s"
                     " AND number = 2", tpl["id"])
    assert new[0]["pool_version_id"] == v2
    for m in old:
        wait_for(lambda: st.docker.inspect(f"warren-{m['short_id']}") is None, 30,
                 what="the old member's container to go")
    # A pool of size 0 keeps nobody.
    st.add_version(tpl["id"], activate=True, parameters=PARAMS, pool={"size": 0})
    wait_for(lambda: member(st, tpl["id"]) == [], 30, what="the pool to drain")


def test_reconciler_killed_while_filling_and_claiming(st):
    """SIGKILL at each moment of a refill and of a claim: the pool ends at
    its size, with no member lost, twice made or twice claimed."""
    tpl = pooled_template(st, size=2)
    for delay in (0.05, 0.3, 0.8):
        rec = st.reconciler(reconciler_resync=1)
        rec.start()
        time.sleep(delay)
        rec.kill(signal.SIGKILL)
    st.reconciler(reconciler_resync=1).start()
    ms = ready_members(st, tpl["id"], 2, timeout=90)
    u, tok = person(st, "kill")
    seen = set()
    for delay in (0.0, 0.02, 0.1):
        r = create(st, tok, tpl)
        assert r.status_code == 201, r.text
        ws = r.json()
        assert ws["id"] not in seen
        seen.add(ws["id"])
        for rec in [x for x in st.recons if x.running()]:
            time.sleep(delay)
            rec.kill(signal.SIGKILL)
        st.reconciler(reconciler_resync=1).start()
        st.wait_build(ws["build_id"], 60, "succeeded")
        assert not paused(st, ws)
        ms = ready_members(st, tpl["id"], 2, timeout=90)
        assert not seen & {m["id"] for m in ms}
    owners = st.db.all("SELECT owner_id, count(*) n FROM workspaces WHERE deleted_at IS NULL"
                       " AND template_id = %s GROUP BY owner_id", tpl["id"])
    assert {(o["owner_id"], o["n"]) for o in owners} == {(POOL_OWNER, 2), (u.id, 3)}, owners


def test_pool_definitions_are_checked(st):
    for pool, words in (({"size": -1}, "between 0 and 50"), ({"size": 51}, "between 0 and 50"),
                        ({"size": "2"}, "between 0 and 50"), ({}, "between 0 and 50"),
                        ({"size": 1, "parameters": {"NOPE": 1}}, "pool: parameters"),
                        ({"size": 1, "parameters": {"GREETING": 5}}, "pool: parameters"),
                        ({"size": 1, "warm": True}, "unknown field"), (3, "must be an object")):
        r = st.api("POST", "/templates", json={"name": unique("bad-"), "version": {
            **json.loads(json.dumps(_version(st))), "parameters": PARAMS, "pool": pool}})
        assert r.status_code == 400 and words in r.json()["detail"], (pool, r.text)


def _version(st):
    from docker_util import version_spec
    return version_spec()


def test_a_claim_hands_over_the_owners_secrets(st):
    """A member was made before it had an owner: at the claim the owner's
    secrets (the template's and those the create selects) and the
    workspace's name reach /tmp/warren/env, for its processes to source."""
    st.reconciler(reconciler_resync=1).start()
    tpl = pooled_template(st, size=1, secrets=["TEAM_TOKEN"])
    ms = ready_members(st, tpl["id"], 1)
    u, tok = person(st, "sec")
    for name, value in (("TEAM_TOKEN", "t0k'en with quote"), ("EXTRA", "x$y")):
        r = call(st.w, "POST", "/secrets", tok, json={"name": name, "value": value})
        assert r.status_code == 201, r.text
    r = create(st, tok, tpl, name="secretive", secrets=["EXTRA"])
    assert r.status_code == 201 and r.json()["id"] == ms[0]["id"], r.text
    ws = r.json()
    st.wait_build(ws["build_id"], 30, "succeeded")
    code, out = st.docker.exec(f"warren-{ws['short_id']}", [
        "sh", "-c", ". /tmp/warren/env && printf '%s|%s|%s|' \"$WARREN_WORKSPACE_NAME\""
        " \"$TEAM_TOKEN\" \"$EXTRA\" && stat -c %a:%u /tmp/warren/env"], user="1000:1000")
    assert code == 0, out
    assert out.strip() == "secretive|t0k'en with quote|x$y|600:1000", out
    assert "t0k'en" not in "\n".join(st.log_lines(ws["build_id"]))
    # The member never had them: a pool member is nobody's.
    c = st.docker.inspect(f"warren-{ws['short_id']}")
    assert not any(e.startswith(("TEAM_TOKEN", "EXTRA")) for e in c["Config"]["Env"])
