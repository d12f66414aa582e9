"""Issue 4, workspaces: create (names, short ids, versions, parameters),
list (filters, cursor pagination), get (derived status, URLs, shares,
latest build), patch, delete; schedules (autostop, idle timeout, max
lifetime, extend, dormancy dates); port sharing; access from other users
and organizations."""

from datetime import timedelta

import pytest

from control_util import (
    BASE_DOMAIN, DELETE_AFTER, DORMANT_AFTER, PUBLIC_PORT, SHORT_ID_RE, UUID_RE,
    Sessions, World, add_version, assert_audit, build, call, close_stack, db_now,
    finish_latest, get_ws, invalid, make_template, make_ws, new_request_id, not_found,
    ok, open_stack, problem, psql, q, req, running_ws, together, ts, unique,
)

PARAMS = [
    {"name": "REGION", "type": "string", "options": ["eu", "us"], "default": "eu",
     "mutable": False},
    {"name": "SIZE", "type": "number", "min": 1, "max": 10, "default": 2},
    {"name": "DEBUG", "type": "bool", "default": False},
    {"name": "REPO", "type": "string", "pattern": "^https://[a-z0-9./-]+$", "required": True},
    {"name": "BRANCH", "type": "string", "pattern": "^[a-z0-9-]+$", "mutable": True},
]
REPO = "https://git.example.com/acme/app"


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("ctl-workspaces"))
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def world(w):
    return World(w)


@pytest.fixture(scope="module")
def tpl(w, world):
    """Version 1: idle timeout 3600 s, max lifetime 2 h, sharing up to
    authenticated; version 2 (not active) is larger."""
    t = make_template(w, world.tokens["tadmin"], idle_timeout=3600, max_lifetime=7200)
    add_version(w, world.tokens["tadmin"], t["id"], image="debian:13", cpu_millis=2000)
    return t


@pytest.fixture(scope="module")
def ptpl(w, world):
    """A template with parameters."""
    return make_template(w, world.tokens["tadmin"], parameters=PARAMS)


def create(w, token, body, rid=None):
    return req(w, "POST", "/workspaces", token, rid=rid, json=body)


# ------------------------------------------------------------------ create


def test_create_workspace(w, world, tpl):
    rid = new_request_id()
    name = unique("dev-")
    ws = ok(create(w, world.tokens["alice"], {"name": name, "template": tpl["id"]}, rid=rid), 201)
    assert UUID_RE.match(ws["id"]) and ws["name"] == name
    assert SHORT_ID_RE.match(ws["short_id"]), ws["short_id"]
    assert ws["owner_id"] == world.id("alice") and ws["org_id"] is None
    assert ws["template_id"] == tpl["id"]
    # The active version (1), not the newest (2).
    assert ws["template_version"] == 1 and ws["template_version_id"] == tpl["active"]["id"]
    assert ws["desired_state"] == "running" and ws["status"] == "starting"
    assert ws["build_number"] == 1 and ws["build_transition"] == "start"
    assert ws["build_status"] == "pending" and UUID_RE.match(ws["build_id"])
    assert ws["shared_ports"] == []
    assert ws["url"] == f"http://{ws['short_id']}.{BASE_DOMAIN}:{PUBLIC_PORT}", ws["url"]
    assert ws["url_pattern"] == f"http://{ws['short_id']}-{{port}}.{BASE_DOMAIN}:{PUBLIC_PORT}"
    ts(ws["created_at"])
    assert_audit(w, world.admin, rid, "workspace.create", actor=world.users["alice"],
                 target_id=ws["id"], target_type="workspace")
    assert get_ws(w, world.tokens["alice"], ws["id"]) == ws


def test_create_by_template_name_and_named_version(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["name"])
    assert ws["template_id"] == tpl["id"] and ws["template_version"] == 1
    ws = make_ws(w, tok, tpl["id"], template_version=2)
    assert ws["template_version"] == 2
    b = ok(call(w, "GET", f"/builds/{ws['build_id']}", tok))
    assert b["template_version"] == 2


def test_new_workspaces_follow_the_active_version(w, world):
    ta = world.tokens["tadmin"]
    t = make_template(w, ta)
    add_version(w, ta, t["id"], activate=True, image="debian:13")
    ws = make_ws(w, world.tokens["alice"], t["id"])
    assert ws["template_version"] == 2


def test_created_without_start(w, world, tpl):
    ws = make_ws(w, world.tokens["alice"], tpl["id"], start=False)
    assert ws["desired_state"] == "stopped"
    assert ws["build_id"] is None and ws["build_number"] is None
    assert psql(w, f"SELECT count(*) FROM workspace_builds WHERE workspace_id = {q(ws['id'])}") == "0"
    # Never started: it is stopped, not "canceled" (the derived status must
    # not invent a build outcome that never happened).
    assert ws["status"] == "stopped", ws["status"]


def test_short_ids_are_unique(w, world, tpl):
    ids = psql(w, "SELECT short_id FROM workspaces").split()
    assert len(ids) == len(set(ids))
    assert all(SHORT_ID_RE.match(s) for s in ids)


@pytest.mark.parametrize("name", [
    "", "A", "Dev", "dev_box", "-dev", "dev-", "dev.box", "dev box", "d" * 33, "dév",
    "dev/box", "😀",
])
def test_bad_workspace_names_400(w, world, tpl, name):
    invalid(create(w, world.tokens["alice"], {"name": name, "template": tpl["id"]}), "name")


@pytest.mark.parametrize("name", ["a", "0", "a-b", "x" * 32, "9lives", "a--b"])
def test_good_workspace_names(w, world, tpl, name):
    tok = world.tokens["carol"]
    ws = make_ws(w, tok, tpl["id"], name=name, start=False)
    assert ws["name"] == name


def test_name_unique_per_owner(w, world, tpl):
    name = unique("same-")
    make_ws(w, world.tokens["alice"], tpl["id"], name=name)
    r = create(w, world.tokens["alice"], {"name": name, "template": tpl["id"]})
    problem(r, 409, "conflict", "name")
    # Another user may use the same name.
    other = make_ws(w, world.tokens["bob"], tpl["id"], name=name)
    assert other["owner_id"] == world.id("bob")
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE name = {q(name)}") == "2"


def test_concurrent_creates_with_one_name(w, world, tpl):
    """Twelve clients create the same name at once: one 201, eleven 409."""
    tok = world.tokens["bob"]
    name = unique("race-")
    sessions = Sessions()
    res = together(12, lambda i: sessions.get().post(
        w.url("/api/v1/workspaces"), json={"name": name, "template": tpl["id"]},
        headers={"Authorization": f"Bearer {tok}"}, timeout=30))
    codes = sorted(r.status_code for r in res)
    assert codes == [201] + [409] * 11, codes
    for r in res:
        if r.status_code == 409:
            problem(r, 409, "conflict", "name")
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE name = {q(name)}") == "1"


def test_unknown_template_or_version_400(w, world, tpl):
    tok = world.tokens["alice"]
    for body in (
        {"name": unique("x-"), "template": "00000000-0000-4000-8000-000000000000"},
        {"name": unique("x-"), "template": "no-such-template"},
        {"name": unique("x-"), "template": tpl["id"], "template_version": 99},
        {"name": unique("x-"), "template": tpl["name"], "template_version": 99},
    ):
        invalid(create(w, tok, body), "template")
    invalid(create(w, tok, {"name": unique("x-")}), "template")
    invalid(create(w, tok, {"name": unique("x-"), "template": tpl["id"], "template_version": 0}),
            "template_version")
    invalid(create(w, tok, {"name": unique("x-"), "template": tpl["id"], "colour": "red"}),
            "colour")
    invalid(create(w, tok, {"name": unique("x-"), "template": tpl["id"], "start": "yes"}), "start")
    problem(call(w, "POST", "/workspaces", tok, data="not json",
                 headers={"Content-Type": "application/json"}), 400)


# -------------------------------------------------------------- parameters


def test_parameters_defaults_applied(w, world, ptpl):
    ws = make_ws(w, world.tokens["alice"], ptpl["id"], parameters={"REPO": REPO})
    assert ws["parameters"] == {"REGION": "eu", "SIZE": 2, "DEBUG": False, "REPO": REPO}
    ws = make_ws(w, world.tokens["alice"], ptpl["id"],
                 parameters={"REPO": REPO, "REGION": "us", "SIZE": 10, "DEBUG": True,
                             "BRANCH": "main"})
    assert ws["parameters"] == {"REGION": "us", "SIZE": 10, "DEBUG": True, "REPO": REPO,
                                "BRANCH": "main"}


BAD_PARAMS = [
    ({"REPO": REPO, "COLOUR": "red"}, "COLOUR.*not defined"),
    ({"REPO": REPO, "SIZE": "big"}, "SIZE.*number"),
    ({"REPO": REPO, "SIZE": True}, "SIZE.*number"),
    ({"REPO": REPO, "DEBUG": "yes"}, "DEBUG.*bool"),
    ({"REPO": REPO, "REGION": 5}, "REGION.*string"),
    ({"REPO": "git@example.com:acme/app"}, "REPO.*pattern"),
    ({"REPO": REPO, "BRANCH": "Main"}, "BRANCH.*pattern"),
    ({"REPO": REPO, "REGION": "asia"}, "REGION.*options"),
    ({"REPO": REPO, "SIZE": 0}, "SIZE.*range"),
    ({"REPO": REPO, "SIZE": 11}, "SIZE.*range"),
    ({"REPO": REPO, "SIZE": 10.5}, "SIZE.*range"),
    ({}, "REPO.*required"),
    ({"REGION": "us"}, "REPO.*required"),
    ({"REPO": None}, "REPO"),
]


@pytest.mark.parametrize("params,detail", BAD_PARAMS,
                         ids=[d.split(".")[0] + str(i) for i, (_, d) in enumerate(BAD_PARAMS)])
def test_invalid_parameters_400(w, world, ptpl, params, detail):
    name = unique("p-")
    invalid(create(w, world.tokens["alice"],
                   {"name": name, "template": ptpl["id"], "parameters": params}), detail)
    assert psql(w, f"SELECT count(*) FROM workspaces WHERE name = {q(name)}") == "0"


def test_parameters_must_be_an_object(w, world, ptpl):
    invalid(create(w, world.tokens["alice"], {"name": unique("p-"), "template": ptpl["id"],
                                              "parameters": ["REPO", REPO]}), "parameters")


def test_immutable_parameter_cannot_change_on_update(w, world, ptpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, ptpl["id"], parameters={"REPO": REPO, "BRANCH": "main"})
    r = build(w, tok, ws["id"], "update", parameters={"REGION": "us"})
    invalid(r, "REGION.*cannot be changed")
    # A mutable one can; the immutable one may be restated unchanged;
    # the others keep their values.
    r = build(w, tok, ws["id"], "update", parameters={"BRANCH": "dev", "REGION": "eu"})
    ok(r, 201)
    got = get_ws(w, tok, ws["id"])
    assert got["parameters"] == {"REGION": "eu", "SIZE": 2, "DEBUG": False, "REPO": REPO,
                                 "BRANCH": "dev"}
    finish_latest(w, ws["id"])
    invalid(build(w, tok, ws["id"], "update", parameters={"BRANCH": "Bad Branch"}), "pattern")
    invalid(build(w, tok, ws["id"], "update", parameters={"NOPE": 1}), "not defined")
    assert get_ws(w, tok, ws["id"])["parameters"]["BRANCH"] == "dev"


# -------------------------------------------------------------------- list


def list_all(w, token, limit=100, **params):
    """Follows next_cursor to the end: (items, [size of each page])."""
    items, cursor, sizes = [], None, []
    while True:
        p = dict(params, limit=limit)
        if cursor:
            p["cursor"] = cursor
        page = ok(call(w, "GET", "/workspaces", token, params=p))
        sizes.append(len(page["items"]))
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items, sizes
        assert len(sizes) < 1000


def test_list_250_workspaces_with_cursor_pagination(w, world, tpl):
    """250 workspaces of one user, made by 8 parallel clients, read back in
    pages of 100: each exactly once, in name order."""
    u, tok = world.new_member("many")
    names = [f"w{i:03d}" for i in range(250)]
    sessions = Sessions()

    def one(i):
        return sessions.get().post(
            w.url("/api/v1/workspaces"), json={"name": names[i], "template": tpl["id"],
                                               "start": i % 2 == 0},
            headers={"Authorization": f"Bearer {tok}"}, timeout=30)

    res = together(250, one, threads=8)
    assert [r.status_code for r in res] == [201] * 250, {r.status_code for r in res}
    items, sizes = list_all(w, tok, limit=100)
    assert sizes == [100, 100, 50]
    assert [x["name"] for x in items] == names
    assert len({x["id"] for x in items}) == 250
    assert all(x["owner_id"] == u.id for x in items)
    for x in items:
        assert SHORT_ID_RE.match(x["short_id"])
        assert x["url"] == f"http://{x['short_id']}.{BASE_DOMAIN}:{PUBLIC_PORT}"
    # Status filter: half were created without a start build.
    starting, _ = list_all(w, tok, limit=200, status="starting")
    assert {x["name"] for x in starting} == set(names[0::2])
    # An admin lists them with the owner filter.
    mine, _ = list_all(w, world.admin, limit=200, owner=u.id)
    assert {x["id"] for x in mine} == {x["id"] for x in items}


def test_list_filters(w, world, tpl):
    tok = world.tokens["dave"]
    t2 = make_template(w, world.tokens["tadmin"])
    a = make_ws(w, tok, tpl["id"])
    b = running_ws(w, tok, tpl["id"])
    c = make_ws(w, tok, t2["id"])
    everything, _ = list_all(w, tok)
    assert {x["id"] for x in everything} == {a["id"], b["id"], c["id"]}
    by_tpl, _ = list_all(w, tok, template=t2["id"])
    assert [x["id"] for x in by_tpl] == [c["id"]]
    running, _ = list_all(w, tok, status="running")
    assert [x["id"] for x in running] == [b["id"]]
    assert running[0]["status"] == "running" and running[0]["build_status"] == "succeeded"
    starting, _ = list_all(w, tok, status="starting", template=tpl["id"])
    assert [x["id"] for x in starting] == [a["id"]]
    assert list_all(w, tok, status="stopped")[0] == []

    # Members see their own workspaces only, whatever owner they ask for.
    alice_view, _ = list_all(w, world.tokens["alice"], owner=world.id("dave"))
    assert all(x["owner_id"] == world.id("alice") for x in alice_view)
    assert not {x["id"] for x in alice_view} & {a["id"], b["id"], c["id"]}
    # Admins and auditors see everyone's.
    for who in ("admin", "auditor"):
        seen, _ = list_all(w, world.tokens[who], limit=200, owner=world.id("dave"))
        assert {x["id"] for x in seen} == {a["id"], b["id"], c["id"]}

    for params in ({"owner": "me"}, {"template": "x"}, {"limit": 0}, {"limit": 201},
                   {"cursor": "nocolon"}, {"cursor": "name:not-a-uuid"}):
        invalid(call(w, "GET", "/workspaces", tok, params=params))


# --------------------------------------------------------------------- get


def test_get_shows_derived_status_and_latest_build(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    steps = [
        (None, "starting", "start", "pending"),
        ("ok", "running", "start", "succeeded"),
        ("stop", "stopping", "stop", "pending"),
        ("ok", "stopped", "stop", "succeeded"),
        ("restart", "restarting", "restart", "pending"),
        ("fail", "failed", "restart", "failed"),
        ("update", "updating", "update", "pending"),
        ("cancel", "canceled", "update", "canceled"),
        ("delete", "deleting", "delete", "pending"),
        ("ok", "deleted", "delete", "succeeded"),
    ]
    number = 1
    for step, status, transition, bstatus in steps:
        if step == "ok":
            finish_latest(w, ws["id"])
        elif step == "fail":
            finish_latest(w, ws["id"], "failed")
        elif step == "cancel":
            finish_latest(w, ws["id"], "canceled")
        elif step is not None:
            r = build(w, tok, ws["id"], step)
            ok(r, 201)
            number += 1
        got = get_ws(w, tok, ws["id"])
        assert (got["status"], got["build_transition"], got["build_status"],
                got["build_number"]) == (status, transition, bstatus, number), (step, got)


def test_get_unknown_workspace_404(w, world):
    tok = world.tokens["alice"]
    not_found(call(w, "GET", "/workspaces/00000000-0000-4000-8000-000000000000", tok))
    not_found(call(w, "GET", "/workspaces/abc", tok))
    not_found(call(w, "GET", "/workspaces/00000000-0000-4000-8000-00000000000g", tok))


# ------------------------------------------------------------------- patch


def test_patch_rename_and_schedules(w, world, tpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    rid = new_request_id()
    new = unique("renamed-")
    got = ok(req(w, "PATCH", f"/workspaces/{ws['id']}", tok, rid=rid,
                 json={"name": new, "autostop_ttl": 1800, "idle_timeout": 900}))
    assert got["name"] == new and got["autostop_ttl"] == 1800 and got["idle_timeout"] == 900
    assert got["short_id"] == ws["short_id"] and got["url"] == ws["url"]
    assert_audit(w, world.admin, rid, "workspace.update", actor=world.users["alice"],
                 target_id=ws["id"])
    # Idle timeout up to the template's (3600), not above.
    got = ok(call(w, "PATCH", f"/workspaces/{ws['id']}", tok, json={"idle_timeout": 3600}))
    assert got["idle_timeout"] == 3600
    invalid(call(w, "PATCH", f"/workspaces/{ws['id']}", tok, json={"idle_timeout": 3601}),
            "idle_timeout")
    # Zero clears a schedule.
    got = ok(call(w, "PATCH", f"/workspaces/{ws['id']}", tok,
                  json={"idle_timeout": 0, "autostop_ttl": 0}))
    assert got["idle_timeout"] is None and got["autostop_ttl"] is None
    # Renaming onto another of one's workspaces: 409.
    other = make_ws(w, tok, tpl["id"])
    problem(call(w, "PATCH", f"/workspaces/{ws['id']}", tok, json={"name": other["name"]}),
            409, "conflict")
    for body, word in (({"name": "Bad"}, "name"), ({"name": "x" * 33}, "name"),
                       ({"autostop_ttl": -1}, "autostop_ttl"),
                       ({"autostop_ttl": "1h"}, "autostop_ttl"),
                       ({"template": tpl["id"]}, "template"),
                       ({"owner_id": world.id("bob")}, "owner_id")):
        invalid(call(w, "PATCH", f"/workspaces/{ws['id']}", tok, json=body), word)
    assert get_ws(w, tok, ws["id"])["name"] == new


# ------------------------------------------------------------------ delete


def test_delete_makes_a_delete_build(w, world, tpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    rid = new_request_id()
    body = ok(req(w, "DELETE", f"/workspaces/{ws['id']}", tok, rid=rid), 202)
    assert UUID_RE.match(body["build_id"])
    assert_audit(w, world.admin, rid, "workspace.delete", actor=world.users["alice"],
                 target_id=ws["id"])
    b = ok(call(w, "GET", f"/builds/{body['build_id']}", tok))
    assert b["transition"] == "delete" and b["status"] == "pending" and b["number"] == 2
    got = get_ws(w, tok, ws["id"])
    assert got["desired_state"] == "deleted" and got["status"] == "deleting"
    ts(got["deleting_at"])
    # A second delete while the first is pending: 409 with that build.
    r = call(w, "DELETE", f"/workspaces/{ws['id']}", tok)
    p = problem(r, 409, "conflict", extra={"build"})
    assert p["build"]["id"] == body["build_id"]
    finish_latest(w, ws["id"])
    assert get_ws(w, tok, ws["id"])["status"] == "deleted"


def test_delete_with_a_build_in_flight_409(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    p = problem(call(w, "DELETE", f"/workspaces/{ws['id']}", tok), 409, "conflict",
                extra={"build"})
    assert p["build"]["id"] == ws["build_id"] and p["build"]["transition"] == "start"


# --------------------------------------------------------------- schedules


def close_to(a, b, slack=5):
    return abs((a - b).total_seconds()) <= slack


def test_autostop_deadline_and_max_lifetime_set_at_start(w, world, tpl):
    tok = world.tokens["alice"]
    before = db_now(w)
    ws = make_ws(w, tok, tpl["id"], autostop_ttl=1800, idle_timeout=600)
    assert ws["autostop_ttl"] == 1800 and ws["idle_timeout"] == 600
    assert close_to(ts(ws["deadline"]), before + timedelta(seconds=1800))
    # The template's max lifetime: 7200 s from the start.
    assert close_to(ts(ws["max_deadline"]), before + timedelta(seconds=7200))

    # Stopped and started later: both move with the new start.
    finish_latest(w, ws["id"])
    ok(build(w, tok, ws["id"], "stop"), 201)
    finish_latest(w, ws["id"])
    psql(w, f"UPDATE workspaces SET deadline = now() - interval '1 day', max_deadline ="
            f" now() - interval '1 day' WHERE id = {q(ws['id'])}")
    now = db_now(w)
    ok(build(w, tok, ws["id"], "start"), 201)
    got = get_ws(w, tok, ws["id"])
    assert close_to(ts(got["deadline"]), now + timedelta(seconds=1800))
    assert close_to(ts(got["max_deadline"]), now + timedelta(seconds=7200))

    # No autostop TTL: no deadline.
    plain = make_ws(w, tok, tpl["id"])
    assert plain["deadline"] is None and plain["autostop_ttl"] is None


def test_extend_moves_the_deadline_never_past_max_deadline(w, world, tpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"], autostop_ttl=600)
    deadline = ts(ws["deadline"])
    max_deadline = ts(ws["max_deadline"])
    rid = new_request_id()
    got = ok(req(w, "POST", f"/workspaces/{ws['id']}/extend", tok, rid=rid, json={"hours": 1}))
    assert close_to(ts(got["deadline"]), deadline + timedelta(hours=1), slack=2)
    assert_audit(w, world.admin, rid, "workspace.extend", actor=world.users["alice"],
                 target_id=ws["id"])
    assert get_ws(w, tok, ws["id"])["deadline"] == got["deadline"]
    # 1 h 10 min + 1 h would pass the 2 h lifetime: capped there.
    got = ok(call(w, "POST", f"/workspaces/{ws['id']}/extend", tok, json={"hours": 1}))
    assert ts(got["deadline"]) == max_deadline
    got = ok(call(w, "POST", f"/workspaces/{ws['id']}/extend", tok, json={"hours": 168}))
    assert ts(got["deadline"]) == max_deadline
    # No body: one hour (still capped).
    got = ok(call(w, "POST", f"/workspaces/{ws['id']}/extend", tok))
    assert ts(got["deadline"]) == max_deadline
    for hours in (0, 169, -1, "2", 1.5):
        invalid(call(w, "POST", f"/workspaces/{ws['id']}/extend", tok, json={"hours": hours}),
                "hours")
    invalid(call(w, "POST", f"/workspaces/{ws['id']}/extend", tok, json={"minutes": 5}),
            "minutes")


def test_extend_a_past_deadline_counts_from_now(w, world):
    """A template without max lifetime: extending an expired deadline gives
    now + hours; extending without a deadline too."""
    t = make_template(w, world.tokens["tadmin"], max_lifetime=None)
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, t["id"])
    assert ws["max_deadline"] is None and ws["deadline"] is None
    now = db_now(w)
    got = ok(call(w, "POST", f"/workspaces/{ws['id']}/extend", tok, json={"hours": 3}))
    assert close_to(ts(got["deadline"]), now + timedelta(hours=3))
    psql(w, f"UPDATE workspaces SET deadline = now() - interval '5 hours' WHERE id = {q(ws['id'])}")
    now = db_now(w)
    got = ok(call(w, "POST", f"/workspaces/{ws['id']}/extend", tok, json={"hours": 2}))
    assert close_to(ts(got["deadline"]), now + timedelta(hours=2))


def test_extend_a_stopped_workspace_409(w, world, tpl):
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"], start=False, autostop_ttl=600)
    problem(call(w, "POST", f"/workspaces/{ws['id']}/extend", tok, json={"hours": 1}),
            409, "conflict")


def test_idle_timeout_not_above_the_templates(w, world, tpl):
    tok = world.tokens["alice"]
    invalid(create(w, tok, {"name": unique("idle-"), "template": tpl["id"],
                            "idle_timeout": 3601}), "idle_timeout.*3600")
    ws = make_ws(w, tok, tpl["id"], idle_timeout=3600)
    assert ws["idle_timeout"] == 3600
    invalid(create(w, tok, {"name": unique("idle-"), "template": tpl["id"],
                            "idle_timeout": -5}), "idle_timeout")
    # Without a template idle timeout, any (bounded) value is fine.
    t = make_template(w, world.tokens["tadmin"], idle_timeout=None)
    ws = make_ws(w, tok, t["id"], idle_timeout=86400 * 7)
    assert ws["idle_timeout"] == 86400 * 7


def test_dormancy_dates(w, world, tpl):
    """dormancy_after_days = 7, dormancy_delete_after_days = 30: a stopped
    workspace shows when it becomes dormant, a dormant one when it is
    deleted.  stopped_at and dormant_at are the reconciler's to set."""
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    assert "dormant_at_after" not in ws or ws["dormant_at_after"] is None
    assert "delete_at_after" not in ws or ws["delete_at_after"] is None
    ok(build(w, tok, ws["id"], "stop"), 201)
    finish_latest(w, ws["id"])
    psql(w, f"UPDATE workspaces SET stopped_at = '2026-03-01 10:20:30.5+00'"
            f" WHERE id = {q(ws['id'])}")
    got = get_ws(w, tok, ws["id"])
    assert got["status"] == "stopped"
    assert got["dormant_at_after"] == f"2026-03-{1 + DORMANT_AFTER:02d}T10:20:30Z", got
    assert got.get("delete_at_after") is None
    listed = [x for x in ok(call(w, "GET", "/workspaces", tok, params={"limit": 200,
                                                                       "status": "stopped"}))["items"]
              if x["id"] == ws["id"]]
    assert listed and listed[0]["dormant_at_after"] == got["dormant_at_after"]

    psql(w, f"UPDATE workspaces SET dormant_at = '2026-03-08 10:20:30+00' WHERE id = {q(ws['id'])}")
    got = get_ws(w, tok, ws["id"])
    assert got["status"] == "dormant"
    assert ts(got["delete_at_after"]) == ts("2026-03-08T10:20:30Z") + timedelta(days=DELETE_AFTER)
    assert got.get("dormant_at_after") is None

    # Starting again wakes it: no dormancy dates while running.
    ok(build(w, tok, ws["id"], "start"), 201)
    got = get_ws(w, tok, ws["id"])
    assert got["dormant_at"] is None and got.get("delete_at_after") is None
    assert got.get("dormant_at_after") is None


def test_no_dormancy_dates_when_the_policy_is_off(pg, tmp_path_factory):
    """Also: with a public URL on the scheme's default port, workspace URLs
    have no port either."""
    from control_util import World as W
    s = open_stack(pg, tmp_path_factory.mktemp("ctl-nodormancy"), dormancy_after_days=0,
                   dormancy_delete_after_days=0, workers=1,
                   public_url="https://warren.example", base_domain="dev.example")
    try:
        world = W(s, members=("alice",))
        t = make_template(s, world.tokens["tadmin"])
        tok = world.tokens["alice"]
        ws = running_ws(s, tok, t["id"])
        assert ws["url"] == f"https://{ws['short_id']}.dev.example", ws["url"]
        assert ws["url_pattern"] == f"https://{ws['short_id']}-{{port}}.dev.example"
        ok(build(s, tok, ws["id"], "stop"), 201)
        finish_latest(s, ws["id"])
        psql(s, f"UPDATE workspaces SET stopped_at = now() - interval '40 days',"
                f" dormant_at = now() - interval '1 day' WHERE id = {q(ws['id'])}")
        got = get_ws(s, tok, ws["id"])
        assert got["status"] == "dormant"
        assert got.get("dormant_at_after") is None and got.get("delete_at_after") is None
    finally:
        close_stack(s)


# ------------------------------------------------------------ port sharing


def test_port_sharing_levels(w, world, tpl):
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"])
    wid = ws["id"]
    for level in ("owner", "org", "authenticated"):
        rid = new_request_id()
        got = ok(req(w, "PUT", f"/workspaces/{wid}/ports/8080", tok, rid=rid,
                     json={"level": level}))
        assert got["port"] == 8080 and got["level"] == level
        ts(got["updated_at"])
        e = assert_audit(w, world.admin, rid, "workspace.port_share",
                         actor=world.users["alice"], target_id=wid)
        assert e["details"] == {"port": 8080, "level": level}, e
    ok(call(w, "PUT", f"/workspaces/{wid}/ports/2222", tok, json={"level": "owner"}))
    got = get_ws(w, tok, wid)
    assert [(s["port"], s["level"]) for s in got["shared_ports"]] == \
        [(2222, "owner"), (8080, "authenticated")]

    # Above the template's maximum (authenticated): 403, nothing changes.
    r = call(w, "PUT", f"/workspaces/{wid}/ports/8080", tok, json={"level": "public"})
    problem(r, 403, "forbidden", "authenticated")
    assert [s["level"] for s in get_ws(w, tok, wid)["shared_ports"]] == ["owner", "authenticated"]

    for port in ("0", "65536", "-1", "http", "80a", "8080.0", "99999999999999999999"):
        invalid(call(w, "PUT", f"/workspaces/{wid}/ports/{port}", tok, json={"level": "owner"}),
                "port")
        invalid(call(w, "DELETE", f"/workspaces/{wid}/ports/{port}", tok), "port")
    for body in ({"level": "everyone"}, {"level": ""}, {}, {"level": 1},
                 {"level": "owner", "expires": 5}):
        invalid(call(w, "PUT", f"/workspaces/{wid}/ports/8080", tok, json=body))

    rid = new_request_id()
    ok(req(w, "DELETE", f"/workspaces/{wid}/ports/8080", tok, rid=rid), 204)
    assert_audit(w, world.admin, rid, "workspace.port_unshare", target_id=wid)
    not_found(call(w, "DELETE", f"/workspaces/{wid}/ports/8080", tok))
    assert [s["port"] for s in get_ws(w, tok, wid)["shared_ports"]] == [2222]


def test_public_sharing_when_the_template_allows_it(w, world):
    t = make_template(w, world.tokens["tadmin"], max_share_level="public")
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, t["id"])
    assert ok(call(w, "PUT", f"/workspaces/{ws['id']}/ports/8080", tok,
                   json={"level": "public"}))["level"] == "public"
    owner_only = make_template(w, world.tokens["tadmin"], max_share_level="owner")
    ws = make_ws(w, tok, owner_only["id"])
    ok(call(w, "PUT", f"/workspaces/{ws['id']}/ports/8080", tok, json={"level": "owner"}))
    for level in ("org", "authenticated", "public"):
        problem(call(w, "PUT", f"/workspaces/{ws['id']}/ports/8080", tok, json={"level": level}),
                403, "forbidden")


def test_shared_ports_have_urls(w, world, tpl):
    """The issue: get shows URLs for the workspace and each shared port."""
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"])
    ok(call(w, "PUT", f"/workspaces/{ws['id']}/ports/8080", tok, json={"level": "owner"}))
    got = get_ws(w, tok, ws["id"])
    assert got["shared_ports"][0].get("url") == \
        f"http://{ws['short_id']}-8080.{BASE_DOMAIN}:{PUBLIC_PORT}", got["shared_ports"]


# --------------------------------------------------- other users and orgs


def every_workspace_call(w, tok, ws, bid):
    wid = ws["id"]
    return [
        call(w, "GET", f"/workspaces/{wid}", tok),
        call(w, "PATCH", f"/workspaces/{wid}", tok, json={"name": unique("steal-")}),
        call(w, "DELETE", f"/workspaces/{wid}", tok),
        call(w, "POST", f"/workspaces/{wid}/extend", tok, json={"hours": 1}),
        call(w, "PUT", f"/workspaces/{wid}/ports/8080", tok, json={"level": "owner"}),
        call(w, "DELETE", f"/workspaces/{wid}/ports/2222", tok),
        call(w, "POST", f"/workspaces/{wid}/builds", tok, json={"transition": "stop"}),
        call(w, "POST", f"/workspaces/{wid}/builds", tok, json={"transition": "stop"},
             headers={"Idempotency-Key": unique("k")}),
        call(w, "GET", f"/workspaces/{wid}/builds", tok),
        call(w, "GET", f"/builds/{bid}", tok),
        call(w, "GET", f"/builds/{bid}/logs", tok),
    ]


def test_other_users_and_organizations_get_404(w, world, tpl):
    """Alice's workspace in org A: bob (a member of org A), carol (org B)
    and a template admin find nothing; dave (an admin of org A) sees it
    and could stop it, nothing more; nothing changes."""
    tok = world.tokens["alice"]
    ws = running_ws(w, tok, tpl["id"], org_id=world.org_a, autostop_ttl=600)
    assert ws["org_id"] == world.org_a
    ok(call(w, "PUT", f"/workspaces/{ws['id']}/ports/2222", tok, json={"level": "org"}))
    bid = ws["build_id"]
    psql(w, f"INSERT INTO build_logs (build_id, line) VALUES ({q(bid)}, 'secret line')")
    before = get_ws(w, tok, ws["id"])
    for who in ("bob", "carol", "tadmin"):
        for r in every_workspace_call(w, world.tokens[who], ws, bid):
            not_found(r)
            assert "secret line" not in r.text
    dave = world.tokens["dave"]
    ok(call(w, "GET", f"/workspaces/{ws['id']}", dave))
    ok(call(w, "GET", f"/workspaces/{ws['id']}/builds", dave))
    for r in (call(w, "PATCH", f"/workspaces/{ws['id']}", dave, json={"name": unique("d-")}),
              call(w, "DELETE", f"/workspaces/{ws['id']}", dave),
              call(w, "POST", f"/workspaces/{ws['id']}/extend", dave, json={"hours": 1}),
              call(w, "PUT", f"/workspaces/{ws['id']}/ports/8080", dave, json={"level": "owner"}),
              call(w, "POST", f"/workspaces/{ws['id']}/builds", dave,
                   json={"transition": "restart"})):
        not_found(r)
    assert get_ws(w, tok, ws["id"]) == before
    # The auditor reads but does not write.
    aud = world.tokens["auditor"]
    ok(call(w, "GET", f"/workspaces/{ws['id']}", aud))
    ok(call(w, "GET", f"/builds/{bid}", aud))
    for r in (call(w, "PATCH", f"/workspaces/{ws['id']}", aud, json={"name": unique("a-")}),
              call(w, "DELETE", f"/workspaces/{ws['id']}", aud),
              call(w, "POST", f"/workspaces/{ws['id']}/builds", aud, json={"transition": "stop"}),
              call(w, "PUT", f"/workspaces/{ws['id']}/ports/8080", aud, json={"level": "owner"})):
        not_found(r)
    assert get_ws(w, tok, ws["id"]) == before
    # Admins manage everyone's.
    ok(call(w, "POST", f"/workspaces/{ws['id']}/builds", world.admin, json={"transition": "stop"}),
       201)


def test_org_workspaces_need_membership(w, world, tpl):
    # carol is not in org A.
    r = create(w, world.tokens["carol"], {"name": unique("o-"), "template": tpl["id"],
                                          "org_id": world.org_a})
    invalid(r, "org")
    r = create(w, world.tokens["carol"], {"name": unique("o-"), "template": tpl["id"],
                                          "org_id": "00000000-0000-4000-8000-000000000000"})
    invalid(r, "org")
    invalid(create(w, world.tokens["carol"], {"name": unique("o-"), "template": tpl["id"],
                                              "org_id": "not-an-id"}), "org_id")
    ws = make_ws(w, world.tokens["bob"], tpl["id"], org_id=world.org_a)
    assert ws["org_id"] == world.org_a


def test_workspace_secrets_selection(w, world, tpl):
    """A workspace names the secrets it receives as environment variables."""
    tok = world.tokens["alice"]
    ws = make_ws(w, tok, tpl["id"], secrets=["GITHUB_TOKEN", "NPM_TOKEN"])
    assert ws["secrets"] == ["GITHUB_TOKEN", "NPM_TOKEN"]
    for bad in (["bad-name"], "GITHUB_TOKEN", [1], ["X"] * 65):
        invalid(create(w, tok, {"name": unique("s-"), "template": tpl["id"], "secrets": bad}),
                "secrets")
