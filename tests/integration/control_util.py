"""Helpers for the control-plane tests (issue 4): templates, workspaces,
builds, schedules, port sharing, quotas, secrets and the OpenAPI document.

A stack here is the harness's Warren with a secrets key, a base domain and
deployment maximums of its own (so that a limit a test hits is visibly the
configured one, not a compiled-in default).  There is no reconciler yet:
`finish_build` plays its part by marking a build done through psql.
"""

import concurrent.futures
import itertools
import re
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests

from conftest import HTTP_TIMEOUT, INTERNAL_DETAIL, LIB, Warren
from identity_util import (
    api_user, audit, call, ctl_user, new_request_id, psql, sign_in, unique,
)

API = "/api/v1"
PUBLIC_PORT = 8443
PUBLIC_URL = f"http://warren.test:{PUBLIC_PORT}"
BASE_DOMAIN = "ws.warren.test"
SHORT_ID_RE = re.compile(r"^[a-z2-7]{10}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# Deployment maximums below the compiled-in defaults (8000, 16384, 4096).
MAX_CPU = 4000
MAX_MEMORY = 8192
MAX_PIDS = 1024
DORMANT_AFTER = 7
DELETE_AFTER = 30

CONTROL_CONF = {
    "public_url": PUBLIC_URL,
    "base_domain": BASE_DOMAIN,
    "workers": 4,
    "max_cpu_millis": MAX_CPU,
    "max_memory_mb": MAX_MEMORY,
    "max_pids": MAX_PIDS,
    "dormancy_after_days": DORMANT_AFTER,
    "dormancy_delete_after_days": DELETE_AFTER,
    "login_failures_per_address": 100000,
    "login_failures_per_account": 100000,
    "token_rate_limit": 1000000,
    "max_concurrent_hashes": 4,
}

# Problem answers may carry extension members (RFC 9457 section 3.2).
PROBLEM_BASE_KEYS = {"type", "title", "status", "detail", "request_id"}


# ------------------------------------------------------------------ stacks


def open_stack(pg, workdir, **conf):
    """A Warren for the control tests, on a database of its own, with the
    secrets key created by `warrenctl keys init` next to the JWT keys."""
    db = pg.create_db(unique("ctl_"))
    c = dict(CONTROL_CONF)
    c["secret_key_file"] = str(workdir / "secret.key")
    c.update(conf)
    return Warren(pg, workdir, db, **c)


def close_stack(w):
    error = w.close()
    if error:
        pytest.fail(error)


def psql_fails(w, sql):
    """Runs sql as the superuser; returns stderr, failing if it succeeded."""
    r = subprocess.run(
        ["bash", "-c", '. "$0"; "$@"', str(LIB), "warren_pg_psql", w.pg.root,
         str(w.pg.port), w.db, "-At", "-c", sql],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode != 0, f"{sql!r} succeeded: {r.stdout}"
    return r.stderr


def q(value):
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


# ------------------------------------------------------------------- world


class World:
    """The people of a control stack, signed in with Bearer tokens:
    admin, a template admin, an auditor and members; org A (alice owner,
    dave admin, bob member) and org B (carol owner)."""

    def __init__(self, w, members=("alice", "bob", "carol", "dave")):
        self.w = w
        self.users = {"admin": ctl_user(w, unique("root"), role="admin")}
        self.tokens = {"admin": sign_in(w, self.users["admin"])["access_token"]}
        roles = {"tadmin": "template-admin", "auditor": "auditor"}
        roles.update({m: "member" for m in members})
        for key, role in roles.items():
            name = unique(key)
            self.users[key] = api_user(w, self.admin, name, role=role,
                                       password=f"{name}-password-1")
            self.tokens[key] = sign_in(w, self.users[key])["access_token"]
        self.org_a = self.org_b = None
        if {"alice", "bob", "dave"} <= set(members):
            self.org_a = self.make_org({"alice": "owner", "dave": "admin", "bob": "member"})
        if "carol" in members:
            self.org_b = self.make_org({"carol": "owner"})

    @property
    def admin(self):
        return self.tokens["admin"]

    def id(self, key):
        return self.users[key].id

    def make_org(self, members):
        r = call(self.w, "POST", "/orgs", self.admin, json={"name": unique("org-")})
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        for key, role in members.items():
            r = call(self.w, "PUT", f"/orgs/{oid}/members/{self.id(key)}", self.admin,
                     json={"role": role})
            assert r.status_code == 200, r.text
        return oid

    def new_member(self, prefix="m"):
        """One more member, signed in: (user, token)."""
        name = unique(prefix)
        u = api_user(self.w, self.admin, name, password=f"{name}-password-1")
        return u, sign_in(self.w, u)["access_token"]


# ---------------------------------------------------------------- requests


def req(w, method, path, token=None, rid=None, key=None, headers=None, **kwargs):
    """call() with an X-Request-Id and an Idempotency-Key when given."""
    h = dict(headers or {})
    if rid:
        h["X-Request-Id"] = rid
    if key is not None:
        h["Idempotency-Key"] = key
    return call(w, method, path, token, headers=h, **kwargs)


def ok(resp, status=200):
    assert resp.status_code == status, (resp.status_code, resp.text[:800])
    if status == 204:
        return None
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
    assert ctype == "application/json", ctype
    return resp.json()


def problem(resp, status, type_=None, detail=None, extra=()):
    """An RFC 9457 problem from warren-api; extension members are allowed
    only when named in extra.  detail: a regular expression it must match."""
    assert resp.status_code == status, (resp.status_code, resp.text[:800])
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
    assert ctype == "application/problem+json", ctype
    body = resp.json()
    unexpected = set(body) - PROBLEM_BASE_KEYS - set(extra)
    assert not unexpected, f"unexpected problem members {unexpected}: {body}"
    assert body["status"] == status, body
    assert isinstance(body.get("title"), str) and body["title"], body
    assert body.get("request_id") == resp.headers.get("X-Request-Id"), body
    if type_ is not None:
        assert body["type"] == f"/problems/{type_}", body
    if detail is not None:
        assert re.search(detail, body.get("detail", ""), re.I), body
    for k, v in body.items():
        if isinstance(v, str):
            assert not INTERNAL_DETAIL.search(v), f"internal detail in {k}: {v!r}"
    return body


def invalid(resp, detail=None):
    """400 /problems/invalid-input, with a detail naming what is wrong."""
    body = problem(resp, 400, "invalid-input", detail)
    assert body.get("detail"), body
    return body


def not_found(resp):
    return problem(resp, 404, "not-found")


# --------------------------------------------------------------- templates


def version_spec(**over):
    """A valid template version; keyword arguments replace or add fields
    (a value of None removes the field)."""
    spec = {
        "image": "docker.io/library/debian:12",
        "command": ["/bin/sh", "-c"],
        "args": ["sleep infinity"],
        "env": {"LANG": "C.UTF-8", "EDITOR": "vi"},
        "ports": [
            {"port": 8080, "name": "web", "protocol": "http"},
            {"port": 2222, "name": "ssh", "protocol": "tcp"},
        ],
        "cpu_millis": 1000,
        "memory_mb": 1024,
        "pids": 256,
        "home_path": "/home/dev",
        "uid": 1000,
        "gid": 1000,
        "probe": {"type": "http", "port": 8080, "path": "/healthz", "timeout": 30},
        "idle_timeout": 3600,
        "max_lifetime": 86400,
        "max_share_level": "authenticated",
    }
    for k, v in over.items():
        if v is None:
            spec.pop(k, None)
        else:
            spec[k] = v
    return spec


def make_template(w, token, name=None, rid=None, **version):
    name = name or unique("tpl-")
    r = req(w, "POST", "/templates", token, rid=rid,
            json={"name": name, "display_name": name.upper(), "version": version_spec(**version)})
    return ok(r, 201)


def add_version(w, token, tpl_id, activate=False, rid=None, **version):
    body = version_spec(**version)
    if activate:
        body["activate"] = True
    return ok(req(w, "POST", f"/templates/{tpl_id}/versions", token, rid=rid, json=body), 201)


# -------------------------------------------------------------- workspaces


def make_ws(w, token, template, name=None, rid=None, key=None, **body):
    body = dict(body)
    body.setdefault("name", name or unique("ws-"))
    body.setdefault("template", template)
    return ok(req(w, "POST", "/workspaces", token, rid=rid, key=key, json=body), 201)


def get_ws(w, token, ws_id):
    return ok(call(w, "GET", f"/workspaces/{ws_id}", token))


def build(w, token, ws_id, transition, rid=None, key=None, **body):
    body = dict(body)
    body["transition"] = transition
    return req(w, "POST", f"/workspaces/{ws_id}/builds", token, rid=rid, key=key, json=body)


def finish_build(w, build_id, status="succeeded", error=None):
    """What the reconciler will do: end a build."""
    psql(w, f"UPDATE workspace_builds SET status = {q(status)},"
            f" started_at = coalesce(started_at, now()), completed_at = now(),"
            f" error = {q(error) if error else 'NULL'} WHERE id = {q(build_id)}")


def finish_latest(w, ws_id, status="succeeded"):
    """Ends the workspace's build in flight; returns its id."""
    bid = psql(w, f"SELECT id FROM workspace_builds WHERE workspace_id = {q(ws_id)}"
                  f" AND status IN ('pending', 'running')")
    assert bid, f"no build in flight for {ws_id}"
    finish_build(w, bid, status)
    return bid


def running_ws(w, token, template, **body):
    """A workspace whose start build has succeeded."""
    ws = make_ws(w, token, template, **body)
    finish_latest(w, ws["id"])
    return get_ws(w, token, ws["id"])


def ts(s):
    """An RFC 3339 time from the API as an aware datetime."""
    assert isinstance(s, str) and RFC3339_RE.match(s), s
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def db_now(w):
    return datetime.fromisoformat(psql(w, "SELECT to_char(now() AT TIME ZONE 'UTC',"
                                          " 'YYYY-MM-DD\"T\"HH24:MI:SS.US')")).replace(
        tzinfo=timezone.utc)


# ------------------------------------------------------------------- audit


def audit_entries(w, admin, target=None, action=None, limit=200):
    params = {"limit": limit}
    if target:
        params["target"] = target
    if action:
        params["action"] = action
    return audit(w, admin, **params)["items"]


def assert_audit(w, admin, rid, action, actor=None, target_id=None, target_type=None):
    """Exactly one entry for the request with this action, successful,
    by this actor, on this target, from the loopback address."""
    entries = [e for e in audit_entries(w, admin, action=action) if e["request_id"] == rid]
    assert len(entries) == 1, (action, rid, entries)
    e = entries[0]
    assert e["result"] == "success", e
    if actor is not None:
        assert e["actor_id"] == actor.id and e["actor_name"] == actor.name, e
    if target_id is not None:
        assert e["target_id"] == target_id, e
    if target_type is not None:
        assert e["target_type"] == target_type, e
    assert e["source_addr"] == "127.0.0.1", e
    return e


# ------------------------------------------------------------- concurrency


def together(n, fn, threads=None):
    """Runs fn(i) for i in range(n) on up to `threads` threads, released
    together by a barrier; returns the results in order.  Bounded: every
    request has the harness's HTTP timeout."""
    threads = min(threads or n, n)
    barrier = threading.Barrier(threads)

    def one(i):
        if i < threads:
            try:
                barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass
        return fn(i)

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as ex:
        return list(ex.map(one, range(n), timeout=HTTP_TIMEOUT * n + 60))


class Sessions:
    """One requests.Session per thread (keep-alive to nginx)."""

    def __init__(self):
        self.local = threading.local()

    def get(self):
        s = getattr(self.local, "s", None)
        if s is None:
            s = self.local.s = requests.Session()
        return s


# ------------------------------------------------------------------ NOTIFY


class Listener:
    """LISTEN on a channel with a psql subprocess.  psql prints the
    notifications it has received after each command it runs, so poll()
    sends a marker query and reads up to its answer."""

    def __init__(self, w, channel="warren_reconcile"):
        self.proc = subprocess.Popen(
            ["bash", "-c", '. "$0"; "$@"', str(LIB), "warren_pg_psql", w.pg.root,
             str(w.pg.port), w.db, "-At"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, bufsize=1,
        )
        self.channel = channel
        self.counter = itertools.count()
        self.seen = []
        self._send(f"LISTEN {channel};")
        self.poll()

    def _send(self, sql):
        self.proc.stdin.write(sql + "\n")
        self.proc.stdin.flush()

    def poll(self):
        """Notifications received since the last poll: [payload]."""
        marker = f"marker-{next(self.counter)}-{uuid.uuid4().hex[:8]}"
        # psql prints what it has received after each result: after the
        # first query's, what came before this poll; whatever comes later
        # is printed after the marker and read by the next poll.
        self._send("SELECT 'x';")
        self._send(f"SELECT '{marker}';")
        got = []
        pat = re.compile(r'^Asynchronous notification "([^"]+)" with payload "([^"]*)" received')
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            assert line, f"psql ended: {self.proc.stderr.read()}"
            line = line.rstrip("\n")
            if line == marker:
                break
            m = pat.match(line)
            if m and m.group(1) == self.channel:
                got.append(m.group(2))
        else:
            pytest.fail("psql listener did not answer")
        self.seen += got
        return got

    def wait_for(self, payload, timeout=5.0):
        """Polls until payload has been notified; returns all received."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            got += self.poll()
            if payload in got:
                return got
            if time.monotonic() > deadline:
                pytest.fail(f"no NOTIFY {self.channel} {payload!r}; got {got}")
            time.sleep(0.05)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - teardown
            self.proc.kill()
            self.proc.wait(timeout=10)


__all__ = [
    "API", "BASE_DOMAIN", "CONTROL_CONF", "DELETE_AFTER", "DORMANT_AFTER", "Listener",
    "MAX_CPU", "MAX_MEMORY", "MAX_PIDS", "PUBLIC_PORT", "PUBLIC_URL", "RFC3339_RE",
    "SHORT_ID_RE", "Sessions", "UUID_RE", "World", "add_version", "assert_audit",
    "audit_entries", "build", "call", "close_stack", "db_now", "finish_build",
    "finish_latest", "get_ws", "invalid", "make_template", "make_ws", "new_request_id",
    "not_found", "ok", "open_stack", "problem", "psql", "psql_fails", "q", "req",
    "running_ws", "together", "ts", "unique", "version_spec",
]
