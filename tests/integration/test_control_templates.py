"""Issue 4, templates: immutable versions, one active version, archiving,
who may change templates, and a clear 400 for every invalid version."""

import subprocess
import time

import pytest

from conftest import LIB

from control_util import (
    MAX_CPU, MAX_MEMORY, MAX_PIDS, UUID_RE, World, add_version, assert_audit, call,
    close_stack, invalid, make_template, make_ws, new_request_id, not_found, ok,
    open_stack, problem, psql, psql_fails, q, req, together, ts, unique, version_spec,
)


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("ctl-templates"))
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def world(w):
    return World(w, members=("alice",))


VERSION_FIELDS = {
    "id", "number", "image", "command", "args", "env", "ports", "cpu_millis",
    "memory_mb", "pids", "home_path", "uid", "gid", "probe", "idle_timeout",
    "max_lifetime", "max_share_level", "parameters", "secrets", "capabilities",
    "restart_policy", "starters", "pool", "created_at", "active",
}


# ----------------------------------------------------------------- create


def test_create_template_with_first_version_active(w, world):
    rid = new_request_id()
    name = unique("base-")
    spec = version_spec(
        parameters=[{"name": "REGION", "type": "string", "default": "eu",
                     "options": ["eu", "us"], "mutable": False}],
        secrets=["GITHUB_TOKEN"], capabilities=["NET_BIND_SERVICE", "SYS_PTRACE"],
        restart_policy="fail",
    )
    r = req(w, "POST", "/templates", world.tokens["tadmin"], rid=rid,
            json={"name": name, "display_name": "Base", "description": "the base image",
                  "version": spec})
    t = ok(r, 201)
    assert UUID_RE.match(t["id"]), t
    assert t["name"] == name and t["display_name"] == "Base"
    assert t["description"] == "the base image" and t["archived_at"] is None
    assert t["active_version"] == 1, t
    v = t["active"]
    assert set(v) == VERSION_FIELDS, set(v) ^ VERSION_FIELDS
    assert v["number"] == 1 and v["active"] is True
    for k in ("image", "command", "args", "env", "cpu_millis", "memory_mb", "pids",
              "home_path", "uid", "gid", "idle_timeout", "max_lifetime",
              "max_share_level", "parameters", "secrets", "capabilities",
              "restart_policy"):
        assert v[k] == spec[k], (k, v[k], spec[k])
    assert v["ports"] == spec["ports"]
    assert v["probe"] == spec["probe"]
    ts(v["created_at"])
    assert_audit(w, world.admin, rid, "template.create", actor=world.users["tadmin"],
                 target_id=t["id"], target_type="template")

    # The same through GET, for every signed-in user.
    got = ok(call(w, "GET", f"/templates/{t['id']}", world.tokens["alice"]))
    assert got == t
    assert ok(call(w, "GET", f"/templates/{t['id']}/versions/1",
                   world.tokens["alice"])) == v


def test_version_defaults(w, world):
    """Only the image is required; the rest has documented defaults, the
    probe defaults to HTTP on the first port and ports to protocol http."""
    t = make_template(w, world.tokens["tadmin"], image="alpine",
                      ports=[{"port": 3000}], command=None, args=None, env=None,
                      cpu_millis=None, memory_mb=None, pids=None, home_path=None,
                      uid=None, gid=None, probe=None, idle_timeout=None,
                      max_lifetime=None, max_share_level=None)
    v = t["active"]
    assert v["ports"] == [{"port": 3000, "protocol": "http"}], v["ports"]
    assert v["probe"] == {"type": "http", "port": 3000, "path": "/", "timeout": 60}, v
    assert v["command"] == [] and v["args"] == [] and v["env"] == {}
    assert (v["cpu_millis"], v["memory_mb"], v["pids"]) == (1000, 1024, 512)
    assert (v["uid"], v["gid"], v["home_path"]) == (1000, 1000, "/home/coder")
    assert v["idle_timeout"] is None and v["max_lifetime"] is None
    assert v["max_share_level"] == "owner" and v["restart_policy"] == "restart"


def test_template_admins_and_admins_change_templates_others_get_404(w, world):
    t = make_template(w, world.admin)  # admins too
    tid = t["id"]
    for who in ("alice", "auditor"):
        tok = world.tokens[who]
        not_found(call(w, "POST", "/templates", tok,
                       json={"name": unique("no-"), "version": version_spec()}))
        not_found(call(w, "PATCH", f"/templates/{tid}", tok, json={"description": "x"}))
        not_found(call(w, "DELETE", f"/templates/{tid}", tok))
        not_found(call(w, "POST", f"/templates/{tid}/versions", tok, json=version_spec()))
        # Reading is for everyone signed in.
        ok(call(w, "GET", f"/templates/{tid}", tok))
        ok(call(w, "GET", f"/templates/{tid}/versions", tok))
        ok(call(w, "GET", "/templates", tok))
    # Nothing changed.
    assert ok(call(w, "GET", f"/templates/{tid}", world.admin)) == t
    # Signed out: 401.
    problem(call(w, "GET", "/templates"), 401)
    problem(call(w, "POST", "/templates", json={"name": "x", "version": version_spec()}), 401)
    # Template admins manage templates they did not create.
    r = req(w, "PATCH", f"/templates/{tid}", world.tokens["tadmin"],
            json={"description": "changed by a template admin"})
    assert ok(r)["description"] == "changed by a template admin"


def test_duplicate_template_name_409(w, world):
    name = unique("dup-")
    make_template(w, world.tokens["tadmin"], name=name)
    r = call(w, "POST", "/templates", world.admin, json={"name": name, "version": version_spec()})
    problem(r, 409, "conflict")
    assert psql(w, f"SELECT count(*) FROM templates WHERE name = {q(name)}") == "1"


@pytest.mark.parametrize("name", [
    "", "Upper", "under_score", "-lead", "trail-", "a" * 33, "dot.name", "sp ace", "ünï",
])
def test_bad_template_names_400(w, world, name):
    invalid(call(w, "POST", "/templates", world.tokens["tadmin"],
                 json={"name": name, "version": version_spec()}), "name")


def test_template_needs_a_version_object(w, world):
    tok = world.tokens["tadmin"]
    invalid(call(w, "POST", "/templates", tok, json={"name": unique("nv-")}), "version")
    invalid(call(w, "POST", "/templates", tok, json={"name": unique("nv-"), "version": "debian"}),
            "version")
    invalid(call(w, "POST", "/templates", tok,
                 json={"name": unique("nv-"), "version": version_spec(), "colour": "red"}),
            "colour")


# ------------------------------------------------------------- versions


def test_versions_are_immutable_in_the_database(w, world):
    t = make_template(w, world.tokens["tadmin"])
    vid = t["active"]["id"]
    err = psql_fails(w, f"UPDATE template_versions SET image = 'evil:latest' WHERE id = {q(vid)}")
    assert "immutable" in err, err
    err = psql_fails(w, f"UPDATE template_versions SET cpu_millis = 1 WHERE id = {q(vid)}")
    assert "immutable" in err, err
    assert psql(w, f"SELECT image FROM template_versions WHERE id = {q(vid)}") == \
        "docker.io/library/debian:12"
    # And the API has no way to change one.
    for method in ("PUT", "PATCH", "DELETE"):
        r = call(w, method, f"/templates/{t['id']}/versions/1", world.admin,
                 json=version_spec())
        problem(r, 405, "method-not-allowed")


def test_new_versions_count_up_and_activation_is_explicit(w, world):
    tok = world.tokens["tadmin"]
    t = make_template(w, tok)
    tid = t["id"]
    rid = new_request_id()
    v2 = add_version(w, tok, tid, rid=rid, image="debian:13", cpu_millis=2000)
    assert v2["number"] == 2 and v2["active"] is False and v2["image"] == "debian:13"
    assert_audit(w, world.admin, rid, "template.version_create", actor=world.users["tadmin"],
                 target_id=tid)
    # Still version 1 until activated.
    assert ok(call(w, "GET", f"/templates/{tid}", tok))["active_version"] == 1
    v3 = add_version(w, tok, tid, activate=True, image="debian:14")
    assert v3["number"] == 3 and v3["active"] is True
    got = ok(call(w, "GET", f"/templates/{tid}", tok))
    assert got["active_version"] == 3 and got["active"]["image"] == "debian:14"

    # PATCH active_version moves it back, and says so in the audit log.
    rid = new_request_id()
    got = ok(req(w, "PATCH", f"/templates/{tid}", tok, rid=rid, json={"active_version": 2}))
    assert got["active_version"] == 2 and got["active"]["number"] == 2
    e = assert_audit(w, world.admin, rid, "template.activate", target_id=tid)
    assert e["details"] == {"active_version": 2}, e

    versions = ok(call(w, "GET", f"/templates/{tid}/versions", world.tokens["alice"]))["items"]
    assert [v["number"] for v in versions] == [3, 2, 1]
    assert [v["active"] for v in versions] == [False, True, False]
    assert [v["image"] for v in versions] == ["debian:14", "debian:13", "docker.io/library/debian:12"]

    # Unknown versions.
    invalid(call(w, "PATCH", f"/templates/{tid}", tok, json={"active_version": 4}),
            "active_version")
    invalid(call(w, "PATCH", f"/templates/{tid}", tok, json={"active_version": 0}),
            "active_version")
    invalid(call(w, "PATCH", f"/templates/{tid}", tok, json={"active_version": "3"}),
            "active_version")
    assert ok(call(w, "GET", f"/templates/{tid}", tok))["active_version"] == 2
    not_found(call(w, "GET", f"/templates/{tid}/versions/4", tok))
    not_found(call(w, "GET", f"/templates/{tid}/versions/abc", tok))
    invalid(call(w, "POST", f"/templates/{tid}/versions", tok,
                 json=dict(version_spec(), activate="yes")), "activate")


def test_versions_numbered_without_gaps_under_concurrency(w, world):
    """Template admins add versions at once while another transaction holds
    the template's row (as a slow version write would): every request gets
    the next number, none fails."""
    tok = world.tokens["tadmin"]
    t = make_template(w, tok)
    holder = subprocess.Popen(
        ["bash", "-c", '. "$0"; "$@"', str(LIB), "warren_pg_psql", w.pg.root, str(w.pg.port),
         w.db, "-At", "-c",
         f"BEGIN; SELECT 1 FROM templates WHERE id = {q(t['id'])} FOR UPDATE;"
         f" SELECT pg_sleep(1.5); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while psql(w, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE"
                      " '%pg_sleep(1.5)%' AND pid <> pg_backend_pid()") != "1":
            assert time.monotonic() < deadline, "the lock holder did not start"
            time.sleep(0.02)
        res = together(6, lambda i: call(w, "POST", f"/templates/{t['id']}/versions", tok,
                                         json=version_spec(image=f"img{i}")))
    finally:
        assert holder.wait(timeout=30) == 0, holder.stderr.read()
    assert [r.status_code for r in res] == [201] * 6, [(r.status_code, r.text[-120:]) for r in res]
    assert sorted(r.json()["number"] for r in res) == list(range(2, 8))
    # And without the held lock, a plain race.
    res = together(8, lambda i: call(w, "POST", f"/templates/{t['id']}/versions", tok,
                                     json=version_spec(image=f"img{i}")))
    assert [r.status_code for r in res] == [201] * 8, [(r.status_code, r.text[-120:]) for r in res]
    assert sorted(r.json()["number"] for r in res) == list(range(8, 16))


def test_unknown_template_404(w, world):
    tok = world.tokens["tadmin"]
    missing = "00000000-0000-4000-8000-000000000000"
    not_found(call(w, "GET", f"/templates/{missing}", tok))
    not_found(call(w, "GET", "/templates/not-a-uuid", tok))
    not_found(call(w, "PATCH", f"/templates/{missing}", tok, json={"description": "x"}))
    not_found(call(w, "DELETE", f"/templates/{missing}", tok))
    not_found(call(w, "GET", f"/templates/{missing}/versions", tok))
    not_found(call(w, "POST", f"/templates/{missing}/versions", tok, json=version_spec()))


# ---------------------------------------------------------------- archive


def test_archive_by_delete_and_by_patch(w, world):
    tok = world.tokens["tadmin"]
    t1 = make_template(w, tok)
    t2 = make_template(w, tok)
    rid = new_request_id()
    ok(req(w, "DELETE", f"/templates/{t1['id']}", tok, rid=rid), 204)
    assert_audit(w, world.admin, rid, "template.archive", target_id=t1["id"])
    rid = new_request_id()
    got = ok(req(w, "PATCH", f"/templates/{t2['id']}", tok, rid=rid, json={"archived": True}))
    assert got["archived_at"] is not None
    assert_audit(w, world.admin, rid, "template.archive", target_id=t2["id"])

    archived = ok(call(w, "GET", f"/templates/{t1['id']}", tok))
    ts(archived["archived_at"])
    # Archived templates leave the list, unless asked for.
    names = set()
    cursor = None
    while True:
        params = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = ok(call(w, "GET", "/templates", world.tokens["alice"], params=params))
        names |= {x["name"] for x in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert t1["name"] not in names and t2["name"] not in names
    every = ok(call(w, "GET", "/templates", tok, params={"archived": "true", "limit": 200}))
    assert {t1["name"], t2["name"]} <= {x["name"] for x in every["items"]}

    # No new workspace and no new version on an archived template.
    invalid(call(w, "POST", "/workspaces", world.tokens["alice"],
                 json={"name": unique("ws-"), "template": t1["id"]}), "template")
    problem(call(w, "POST", f"/templates/{t1['id']}/versions", tok, json=version_spec()),
            409, "conflict", "archived")

    # Unarchived, it is usable again.
    rid = new_request_id()
    got = ok(req(w, "PATCH", f"/templates/{t1['id']}", tok, rid=rid, json={"archived": False}))
    assert got["archived_at"] is None
    assert_audit(w, world.admin, rid, "template.unarchive", target_id=t1["id"])
    make_ws(w, world.tokens["alice"], t1["id"])


def test_template_list_pagination(w, world):
    tok = world.tokens["tadmin"]
    prefix = unique("pg-")
    made = {make_template(w, tok, name=f"{prefix}-{i:02d}")["name"] for i in range(5)}
    seen = []
    cursor = None
    for _ in range(100):
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = ok(call(w, "GET", "/templates", world.tokens["alice"], params=params))
        assert len(page["items"]) <= 2
        seen += [x["name"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert made <= set(seen)
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    invalid(call(w, "GET", "/templates", tok, params={"limit": 0}), "limit")
    invalid(call(w, "GET", "/templates", tok, params={"limit": 201}), "limit")


def test_template_patch_other_fields(w, world):
    tok = world.tokens["tadmin"]
    t = make_template(w, tok)
    rid = new_request_id()
    got = ok(req(w, "PATCH", f"/templates/{t['id']}", tok, rid=rid,
                 json={"display_name": "Shiny", "description": "new words"}))
    assert got["display_name"] == "Shiny" and got["description"] == "new words"
    assert got["active_version"] == 1 and ts(got["updated_at"]) >= ts(t["updated_at"])
    assert_audit(w, world.admin, rid, "template.update", target_id=t["id"])
    invalid(call(w, "PATCH", f"/templates/{t['id']}", tok, json={"name": "renamed"}), "name")
    invalid(call(w, "PATCH", f"/templates/{t['id']}", tok, json={"archived": "yes"}), "archived")
    invalid(call(w, "PATCH", f"/templates/{t['id']}", tok,
                 json={"description": "x" * 2001}), "description")


# -------------------------------------------------------------- validation


GOOD_IMAGES = [
    "debian",
    "debian:12",
    "library/debian:bookworm-slim",
    "docker.io/library/debian:12",
    "ghcr.io/acme/dev-env:v1.2.3",
    "registry.example.com:5000/team/img",
    "registry.example.com:443/a/b/c:latest",
    "quay.io/org/img_name__x:tag",
    "img@sha256:" + "a" * 64,
    "registry.example.com/img:1.0@sha256:" + "0123456789abcdef" * 4,
]

BAD_IMAGES = [
    "",
    "Debian",
    "debian:",
    "debian:tag with space",
    "a b",
    "http://registry/img",
    "img@sha256:abc",
    "img@md5:" + "a" * 32,
    "/img",
    "img/",
    "img//x",
    "-img",
    "img:" + "t" * 129,
    "a" * 256,
    "img;rm -rf /",
    "$(reboot)",
]


@pytest.mark.parametrize("image", GOOD_IMAGES)
def test_valid_image_references(w, world, image):
    t = make_template(w, world.tokens["tadmin"], image=image)
    assert t["active"]["image"] == image


@pytest.mark.parametrize("image", BAD_IMAGES)
def test_invalid_image_reference_400(w, world, image):
    invalid(call(w, "POST", "/templates", world.tokens["tadmin"],
                 json={"name": unique("img-"), "version": version_spec(image=image)}), "image")


def test_image_is_required(w, world):
    invalid(call(w, "POST", "/templates", world.tokens["tadmin"],
                 json={"name": unique("img-"), "version": version_spec(image=None)}), "image")


BAD_VERSIONS = [
    # ports
    ({"ports": [{"port": 0}]}, "port"),
    ({"ports": [{"port": 65536}]}, "port"),
    ({"ports": [{"port": -80}]}, "port"),
    ({"ports": [{"port": "80"}]}, "port"),
    ({"ports": [{"name": "web"}]}, "port"),
    ({"ports": [{"port": 8080}, {"port": 8080, "protocol": "tcp"}]}, "twice"),
    ({"ports": [{"port": 80, "protocol": "udp"}]}, "protocol"),
    ({"ports": [{"port": 80, "name": "n" * 65}]}, "name"),
    ({"ports": [{"port": 80, "host": "0.0.0.0"}]}, "host"),
    ({"ports": {"port": 80}}, "ports"),
    ({"ports": [{"port": 1000 + i} for i in range(33)]}, "ports"),
    # limits beyond the deployment's maximums
    ({"cpu_millis": MAX_CPU + 1}, "cpu_millis"),
    ({"memory_mb": MAX_MEMORY + 1}, "memory_mb"),
    ({"pids": MAX_PIDS + 1}, "pids"),
    ({"cpu_millis": 0}, "cpu_millis"),
    ({"memory_mb": 1}, "memory_mb"),
    ({"pids": 0}, "pids"),
    ({"cpu_millis": 1.5}, "cpu_millis"),
    ({"memory_mb": "1024"}, "memory_mb"),
    # identity and paths
    ({"uid": 0}, "uid"),
    ({"gid": -1}, "gid"),
    ({"home_path": "home/dev"}, "home_path"),
    ({"home_path": "/"}, "home_path"),
    ({"home_path": "/home/../etc"}, "home_path"),
    ({"home_path": "/home:/etc"}, "home_path"),
    ({"home_path": ""}, "home_path"),
    ({"home_path": "/etc"}, "home_path"),
    ({"home_path": "/home\ncoder"}, "home_path"),
    ({"home_path": "/home,readonly"}, "home_path"),
    ({"home_path": "/proc"}, "home_path"),
    ({"home_path": "/dev/shm"}, "home_path"),
    ({"home_path": "/usr/local/dev"}, "home_path"),
    ({"home_path": "/home//coder"}, "home_path"),
    ({"home_path": "/home/coder/"}, "home_path"),
    ({"home_path": "/home/./coder"}, "home_path"),
    # probe
    ({"probe": {"type": "grpc", "port": 8080}}, "probe"),
    ({"probe": {"type": "tcp", "port": 70000}}, "probe"),
    ({"probe": {"path": "healthz"}}, "probe"),
    ({"probe": {"timeout": 0}}, "probe"),
    ({"probe": {"timeout": 3601}}, "probe"),
    ({"probe": None, "ports": []}, "probe"),
    ({"probe": "http"}, "probe"),
    ({"probe": {"port": 8080, "interval": 5}}, "probe"),
    ({"probe": {"port": 8080, "Path": "/"}}, "probe"),
    # schedules and sharing
    ({"idle_timeout": 59}, "idle_timeout"),
    ({"idle_timeout": 31536001}, "idle_timeout"),
    ({"max_lifetime": 10}, "max_lifetime"),
    ({"max_share_level": "everyone"}, "max_share_level"),
    ({"max_share_level": ""}, "max_share_level"),
    # command, args
    ({"command": "/bin/sh"}, "command"),
    ({"args": [1, 2]}, "args"),
    # environment
    ({"env": {"1BAD": "x"}}, "env"),
    ({"env": {"BAD-NAME": "x"}}, "env"),
    ({"env": {"": "x"}}, "env"),
    ({"env": {"N": 1}}, "env"),
    ({"env": {"WARREN_WORKSPACE_ID": "x"}}, "env"),
    ({"env": {"WARREN_PARAM_X": "x"}}, "env"),
    ({"env": {"HOME": "/etc"}}, "env"),
    ({"env": ["A=B"]}, "env"),
    ({"env": {f"V{i}": "x" for i in range(257)}}, "env"),
    ({"env": {"BIG": "x" * (64 * 1024)}}, "env"),
    ({"env": {f"V{i}": "y" * 300 for i in range(220)}}, "env"),
    # capabilities, secrets, restart policy
    ({"capabilities": ["SYS_ADMIN"]}, "capabilit"),
    ({"capabilities": ["NET_ADMIN"]}, "capabilit"),
    ({"capabilities": "CHOWN"}, "capabilities"),
    ({"secrets": ["BAD-NAME"]}, "secrets"),
    ({"restart_policy": "always"}, "restart_policy"),
    # parameters
    ({"parameters": [{"name": "X", "type": "date"}]}, "type"),
    ({"parameters": [{"name": "X"}]}, "type"),
    ({"parameters": [{"type": "string"}]}, "name"),
    ({"parameters": [{"name": "bad name", "type": "string"}]}, "name"),
    ({"parameters": [{"name": "X", "type": "string", "pattern": "(["}]}, "pattern"),
    ({"parameters": [{"name": "X", "type": "string", "colour": "red"}]}, "colour"),
    ({"parameters": [{"name": "X", "type": "number", "default": "ten"}]}, "default"),
    ({"parameters": [{"name": "X", "type": "number", "min": 1, "max": 5, "default": 9}]},
     "default"),
    ({"parameters": [{"name": "X", "type": "string", "options": ["a", "b"], "default": "c"}]},
     "default"),
    ({"parameters": [{"name": "X", "type": "string", "pattern": "^[a-z]+$",
                      "default": "ABC"}]}, "default"),
    ({"parameters": [{"name": "X", "type": "bool", "default": "true"}]}, "default"),
    ({"parameters": {"X": "string"}}, "parameters"),
]


@pytest.mark.parametrize("over,word", BAD_VERSIONS,
                         ids=[f"{i}-{w}" for i, (_, w) in enumerate(BAD_VERSIONS)])
def test_invalid_version_400(w, world, over, word):
    tok = world.tokens["tadmin"]
    name = unique("bad-")
    r = call(w, "POST", "/templates", tok, json={"name": name, "version": version_spec(**over)})
    invalid(r, word)
    assert psql(w, f"SELECT count(*) FROM templates WHERE name = {q(name)}") == "0"


def test_invalid_new_version_400_and_nothing_stored(w, world):
    tok = world.tokens["tadmin"]
    t = make_template(w, tok)
    invalid(call(w, "POST", f"/templates/{t['id']}/versions", tok,
                 json=version_spec(ports=[{"port": 70000}])), "port")
    invalid(call(w, "POST", f"/templates/{t['id']}/versions", tok,
                 json=version_spec(cpu_millis=MAX_CPU + 1)), "cpu_millis")
    versions = ok(call(w, "GET", f"/templates/{t['id']}/versions", tok))["items"]
    assert [v["number"] for v in versions] == [1]


def test_unknown_version_fields_are_refused(w, world):
    """A misspelt field (memory instead of memory_mb) must not silently
    become the default."""
    tok = world.tokens["tadmin"]
    invalid(call(w, "POST", "/templates", tok,
                 json={"name": unique("typo-"), "version": version_spec(memory=4096)}), "memory")
    t = make_template(w, tok)
    invalid(call(w, "POST", f"/templates/{t['id']}/versions", tok,
                 json=version_spec(cpus=2)), "cpus")


def test_limits_at_the_deployment_maximums_accepted(w, world):
    env = {f"V{i:03d}": "v" for i in range(256)}
    t = make_template(w, world.tokens["tadmin"], cpu_millis=MAX_CPU, memory_mb=MAX_MEMORY,
                      pids=MAX_PIDS, env=env, ports=[{"port": 1}, {"port": 65535, "protocol": "tcp"}],
                      probe={"type": "tcp", "port": 65535}, max_share_level="public")
    v = t["active"]
    assert (v["cpu_millis"], v["memory_mb"], v["pids"]) == (MAX_CPU, MAX_MEMORY, MAX_PIDS)
    assert len(v["env"]) == 256
    assert v["probe"] == {"type": "tcp", "port": 65535, "timeout": 60}
    # 64 KiB of names and values in all, exactly.
    big = {"BIG": "x" * (64 * 1024 - 3)}
    assert make_template(w, world.tokens["tadmin"], env=big)["active"]["env"] == big
