"""Issue 3, access: API tokens, token budgets, CSRF, sign-in throttling,
roles and organizations (a matrix over the whole route table) and the
audit log, through nginx against the private PostgreSQL."""

import hashlib
import re
import threading
import uuid

import pytest

from conftest import TOP, assert_problem
from identity_util import (
    ORIGIN, POLICIES, Browser, api_user, assert_alive, assert_audited, assert_dead, audit,
    call, close_stack, ctl_user, identity_conf, login, me, new_request_id, open_stack,
    psql, psql_fails, refresh, sign_in, unique, wait_until,
)

# The matrix stack has GitHub sign-in configured (the start route answers
# with a redirect); nothing is ever sent to this address.
MATRIX_GITHUB = {
    "github_client_id": "matrix-client",
    "github_client_secret": "matrix-secret",
    "github_auth_url": "http://127.0.0.1:9/authorize",
    "github_token_url": "http://127.0.0.1:9/token",
    "github_api_url": "http://127.0.0.1:9/api",
}


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("access"), **MATRIX_GITHUB)
    yield stack
    close_stack(stack)


# --------------------------------------------------------------- the world


class World:
    """Users of every platform role and of two organizations, signed in
    with Bearer access tokens.  Keys name the callers of the matrix."""

    ROLES = {
        "admin": "admin", "tadmin": "template-admin", "auditor": "auditor",
        "member": "member", "a_owner": "member", "a_admin": "member",
        "a_member": "member", "b_member": "member",
    }

    def __init__(self, w):
        self.w = w
        self.users = {"admin": ctl_user(w, "root", role="admin")}
        self.tokens = {"admin": sign_in(w, self.users["admin"])["access_token"]}
        for key, role in self.ROLES.items():
            if key == "admin":
                continue
            name = key.replace("_", "-") + "-" + unique("")
            self.users[key] = api_user(w, self.admin, name, role=role,
                                       password=f"{name}-password")
            self.relogin(key)
        self.org_a = self.org(unique("org-a-"), {"a_owner": "owner", "a_admin": "admin",
                                                 "a_member": "member"})
        self.org_b = self.org(unique("org-b-"), {"b_member": "member"})
        self.probe = api_user(w, self.admin, unique("probe"), password="probe-password")
        self.refresh_token = sign_in(w, self.probe)["refresh_token"]

    @property
    def admin(self):
        return self.tokens["admin"]

    def relogin(self, key):
        self.tokens[key] = sign_in(self.w, self.users[key])["access_token"]

    def org(self, name, members):
        r = call(self.w, "POST", "/orgs", self.admin, json={"name": name})
        assert r.status_code == 201, r.text
        oid = r.json()["id"]
        for key, role in members.items():
            uid = self.users[key].id if key in self.users else key
            r = call(self.w, "PUT", f"/orgs/{oid}/members/{uid}", self.admin,
                     json={"role": role})
            assert r.status_code == 200, r.text
        return oid

    def mirror_org(self, extra=None):
        """A fresh organization with org A's members (and extra, a member)."""
        members = {"a_owner": "owner", "a_admin": "admin", "a_member": "member"}
        if extra:
            members[extra] = "member"
        return self.org(unique("mirror-"), members)

    def throwaway_user(self):
        return api_user(self.w, self.admin, unique("tmp")).id


@pytest.fixture(scope="module")
def world(w):
    return World(w)


# ------------------------------------------------------------- API tokens


def test_api_token_lifecycle(w, world):
    member = world.users["member"]
    session = world.tokens["member"]
    rid = new_request_id()
    r = call(w, "POST", "/tokens", session, json={"name": unique("ci"), "scope": "read"},
             headers={"X-Request-Id": rid})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["token"]
    assert re.match(r"^wrn_[A-Za-z0-9_-]{40,}$", secret), secret
    assert created["scope"] == "read" and created["last_used_at"] is None
    assert created["expires_at"] is None and created["revoked_at"] is None
    e = assert_audited(w, world.admin, rid, "token.create", actor=member,
                       target_type="api_token", target_id=created["id"])
    assert secret not in str(e)

    # Listed without the secret, ever.
    r = call(w, "GET", "/tokens", session)
    assert r.status_code == 200, r.text
    items = {t["id"]: t for t in r.json()["items"]}
    assert created["id"] in items and "token" not in items[created["id"]], items
    assert secret not in r.text and secret[4:] not in r.text

    # Stored as a 32-byte hash; the secret is in no column.
    n, row = psql(w, f"SELECT length(hash), row_to_json(t)::text FROM api_tokens t "
                     f"WHERE id = '{created['id']}'").split("|", 1)
    assert n == "32", n
    assert secret not in row and secret[4:] not in row, row
    assert psql(w, f"SELECT encode(hash, 'hex') FROM api_tokens WHERE id = '{created['id']}'") \
        == hashlib.sha256(secret.encode()).hexdigest()

    # Read scope: reading works, nothing that changes state does.
    info = assert_alive(w, secret, member)
    assert info["auth"] == "api_token" and info["token_scope"] == "read"
    assert call(w, "GET", "/tokens", secret).status_code == 200
    for method, path, body in (
        ("POST", "/tokens", {"name": unique("x"), "scope": "full"}),
        ("PATCH", f"/users/{member.id}", {"display_name": "nope"}),
        ("DELETE", f"/tokens/{created['id']}", None),
        ("POST", "/auth/logout-all", None),
    ):
        r = call(w, method, path, secret, json=body)
        assert_problem(r, 403)
    assert_alive(w, secret, member)  # not even its own revocation

    # The last-used time is recorded.
    r = call(w, "GET", "/tokens", session)
    used = [t for t in r.json()["items"] if t["id"] == created["id"]][0]
    assert used["last_used_at"] is not None, used

    # Revoked: refused at once.
    rid = new_request_id()
    r = call(w, "DELETE", f"/tokens/{created['id']}", session, headers={"X-Request-Id": rid})
    assert r.status_code == 204, r.text
    assert_dead(w, secret)
    assert_audited(w, world.admin, rid, "token.revoke", actor=member,
                   target_type="api_token", target_id=created["id"])
    r = call(w, "GET", "/tokens", session)
    gone = [t for t in r.json()["items"] if t["id"] == created["id"]][0]
    assert gone["revoked_at"] is not None
    # The secret never went to the log either.
    assert secret not in w.log() and secret[4:] not in w.log()


def test_full_token_writes_without_csrf(w, world):
    session = world.tokens["member"]
    r = call(w, "POST", "/tokens", session, json={"name": unique("full"), "scope": "full"})
    assert r.status_code == 201, r.text
    full = r.json()["token"]
    # A Bearer credential is never sent by a browser on its own: no CSRF
    # token, and even a foreign Origin does not matter.
    r = call(w, "POST", "/tokens", full, json={"name": unique("child"), "scope": "read"},
             headers={"Origin": "http://evil.example"})
    assert r.status_code == 201, r.text


def test_api_token_expiry(w, world):
    member = world.users["member"]
    session = world.tokens["member"]
    r = call(w, "POST", "/tokens", session,
             json={"name": unique("exp"), "scope": "read", "expires_in_days": 1})
    assert r.status_code == 201, r.text
    tok = r.json()
    assert tok["expires_at"] is not None
    assert psql(w, f"SELECT expires_at BETWEEN now() + interval '23 hours' AND "
                   f"now() + interval '25 hours' FROM api_tokens WHERE id = '{tok['id']}'") == "t"
    assert_alive(w, tok["token"], member)
    psql(w, f"UPDATE api_tokens SET expires_at = now() - interval '1 second' "
            f"WHERE id = '{tok['id']}'")
    assert_dead(w, tok["token"])
    for bad in ("wrn_" + "A" * 43, "wrn_", "wrn_" + "x" * 200):
        assert_dead(w, bad)


def test_tokens_of_others_are_invisible(w, world):
    a, b = world.tokens["a_owner"], world.tokens["b_member"]
    r = call(w, "POST", "/tokens", b, json={"name": unique("b"), "scope": "read"})
    assert r.status_code == 201, r.text
    theirs = r.json()
    assert theirs["id"] not in call(w, "GET", "/tokens", a).text
    assert_problem(call(w, "DELETE", f"/tokens/{theirs['id']}", a), 404)
    assert_alive(w, theirs["token"], world.users["b_member"])
    # An admin may revoke anyone's token.
    assert call(w, "DELETE", f"/tokens/{theirs['id']}", world.admin).status_code == 204
    assert_dead(w, theirs["token"])


def _log_pids(w, request_ids):
    """{request id: pid of the worker that logged its access line}."""
    out = {}
    for line in w.log().splitlines():
        m = re.search(r"\[(\d+)\]: access .* request_id=(\S+)", line)
        if m and m.group(2) in request_ids:
            out[m.group(2)] = int(m.group(1))
    return out


def test_token_request_budget_is_shared_by_workers(make_warren):
    budget = 5
    w2 = make_warren(**identity_conf(token_rate_limit=budget, workers=2))
    u = ctl_user(w2, "busy")
    session = sign_in(w2, u)["access_token"]
    for attempt in range(5):
        r = call(w2, "POST", "/tokens", session, json={"name": f"t{attempt}", "scope": "read"})
        assert r.status_code == 201, r.text
        token = r.json()["token"]
        results = {}
        lock = threading.Lock()
        ids = [new_request_id() for _ in range(3 * budget)]

        def worker(chunk):
            for rid in chunk:
                resp = me(w2, token, headers={"X-Request-Id": rid})
                with lock:
                    results[rid] = resp

        threads = [threading.Thread(target=worker, args=(ids[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads)
        statuses = [results[rid].status_code for rid in ids]
        assert statuses.count(200) == budget, statuses
        assert statuses.count(429) == len(ids) - budget, statuses
        for rid in ids:
            if results[rid].status_code == 429:
                assert_problem(results[rid], 429)
                assert 1 <= int(results[rid].headers["Retry-After"]) <= 60
        wait_until(lambda: len(_log_pids(w2, set(ids))) == len(ids), 10, "access log lines")
        pids = _log_pids(w2, set(ids))
        ok_by_pid = {}
        for rid in ids:
            if results[rid].status_code == 200:
                ok_by_pid[pids[rid]] = ok_by_pid.get(pids[rid], 0) + 1
        # Proof of sharing: a worker refused the token before it had itself
        # let the whole budget through.
        shared = any(results[rid].status_code == 429 and ok_by_pid.get(pids[rid], 0) < budget
                     for rid in ids)
        if shared:
            break
    else:
        pytest.fail("in 5 attempts every request went to one worker: sharing unproven")
    # Each token has a budget of its own.
    r = call(w2, "POST", "/tokens", session, json={"name": "fresh", "scope": "read"})
    assert_alive(w2, r.json()["token"], u)


# ------------------------------------------------------------------- CSRF


def test_cookie_requests_that_change_state_need_csrf_and_origin(w, world):
    member = world.users["member"]
    b = Browser(w)
    b.login(member)
    assert b.request("GET", "/me", csrf=False, origin=False).status_code == 200

    def create(**kw):
        return b.request("POST", "/tokens", json={"name": unique("c"), "scope": "read"}, **kw)

    for kw in (
        {"csrf": False},  # no token
        {"csrf": "not-the-token-at-all"},  # a token, not the cookie's
        {"origin": "http://evil.example"},  # foreign Origin
        {"origin": "null"},
        {"origin": "http://warren.test:8080"},
        {"origin": "https://warren.test"},
        {"origin": False},  # neither Origin nor Referer
        {"origin": False, "headers": {"Referer": "http://warren.test.evil.example/x"}},
        {"origin": False, "headers": {"Referer": "http://evil.example/http://warren.test/"}},
    ):
        r = create(**kw)
        body = assert_problem(r, 403)
        assert body["type"].endswith("/csrf"), (kw, body)
    r = create(origin=False, headers={"Referer": ORIGIN + "/settings/tokens"})
    assert r.status_code == 201, r.text
    r = create()
    assert r.status_code == 201, r.text
    tid = r.json()["id"]

    uid = member.id
    assert_problem(b.request("PATCH", f"/users/{uid}", csrf=False,
                             json={"display_name": "Mallory"}), 403)
    r = b.request("PATCH", f"/users/{uid}", json={"display_name": "Member"})
    assert r.status_code == 200, r.text
    assert_problem(b.request("DELETE", f"/tokens/{tid}", csrf=False), 403)
    assert_problem(b.request("DELETE", f"/tokens/{tid}", origin="http://evil.example"), 403)
    assert b.request("DELETE", f"/tokens/{tid}").status_code == 204


def test_form_and_text_bodies_are_refused(w, world):
    token = world.tokens["member"]
    b = Browser(w)
    b.login(world.users["member"])
    bodies = (
        ("application/x-www-form-urlencoded", "name=x&scope=read"),
        ("text/plain", '{"name": "x", "scope": "read"}'),
        ("multipart/form-data; boundary=zz",
         '--zz\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--zz--\r\n'),
        ("application/json; charset=iso-8859-1", '{"name": "x", "scope": "read"}'),
    )
    for ctype, data in bodies:
        r = call(w, "POST", "/tokens", token, data=data, headers={"Content-Type": ctype})
        assert_problem(r, 415)
        r = b.request("POST", "/tokens", data=data, headers={"Content-Type": ctype})
        assert_problem(r, 415)
        # The classic login CSRF: a cross-site form posting credentials.
        r = call(w, "POST", "/auth/login", data=data, headers={"Content-Type": ctype})
        assert_problem(r, 415)
    r = call(w, "POST", "/tokens", token, data='{"name": "%s", "scope": "read"}' % unique("j"),
             headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text


# ------------------------------------------------------------ rate limits


@pytest.fixture(scope="module")
def limited(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("limits"), trusted_proxies="127.0.0.1",
                       login_failures_per_address=4, login_failures_per_account=2,
                       login_window=120)
    yield stack
    close_stack(stack)


def test_login_throttled_per_account_and_address(limited):
    w = limited
    admin = ctl_user(w, "lim-admin", role="admin")
    victim = ctl_user(w, "victim", email="victim@example.org")
    admin_token = sign_in(w, admin, xff="10.9.9.9")["access_token"]

    # Per account and address: two failures, then even the right password waits.
    for _ in range(2):
        assert_problem(login(w, victim.name, "wrong-password", xff="10.1.0.1"), 401)
    rid = new_request_id()
    r = login(w, victim.name, victim.password, xff="10.1.0.1", headers={"X-Request-Id": rid})
    assert_problem(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 120, r.headers
    assert_problem(login(w, victim.name, "wrong-password", xff="10.1.0.1"), 429)
    e = assert_audited(w, admin_token, rid, "auth.login", result="denied", source_addr="10.1.0.1")
    assert e["details"].get("username") == victim.name
    # The victim elsewhere is not locked out.
    assert login(w, victim.name, victim.password, xff="10.1.0.2").status_code == 200

    # Per address: failures on any names add up.
    for i in range(4):
        assert_problem(login(w, f"ghost{i}", "wrong-password", xff="10.1.0.3"), 401)
    r = login(w, victim.name, victim.password, xff="10.1.0.3")
    assert_problem(r, 429)
    assert int(r.headers["Retry-After"]) >= 1
    assert login(w, victim.name, victim.password, xff="10.1.0.4").status_code == 200

    # Successes are not counted.
    for _ in range(3):
        assert login(w, victim.name, victim.password, xff="10.1.0.5").status_code == 200

    # The address is the right-most one that is not a trusted proxy.
    for xff, addr in (("203.0.113.9, 10.1.0.6", "10.1.0.6"),
                      ("10.1.0.7, 127.0.0.1", "10.1.0.7"),
                      ("not-an-address, 10.1.0.8", "10.1.0.8")):
        rid = new_request_id()
        r = login(w, victim.name, victim.password, xff=xff, headers={"X-Request-Id": rid})
        assert r.status_code == 200, r.text
        assert_audited(w, admin_token, rid, "auth.login", actor=victim, source_addr=addr)
        sid = r.json()["session_id"]
        assert psql(w, f"SELECT source_addr FROM sessions WHERE id = '{sid}'") == addr


def test_login_account_counter_ignores_spelling(limited):
    """Usernames match case-insensitively and by e-mail: the per-account
    counter must count the account, not the spelling."""
    w = limited
    u = ctl_user(w, "speller", email="speller@example.org")
    addr = "10.3.0.1"
    for name in ("speller", "SPELLER"):
        assert_problem(login(w, name, "wrong-password", xff=addr), 401)
    for name in ("Speller", "speller@example.org", "sPeLLeR"):
        r = login(w, name, "wrong-password", xff=addr)
        assert r.status_code == 429, f"{name}: {r.status_code} after 2 failures on the account"
    assert login(w, u.name, u.password, xff="10.3.0.2").status_code == 200


def test_forwarded_for_ignored_without_trusted_proxies(make_warren):
    w2 = make_warren(**identity_conf(login_failures_per_account=2, login_window=4))
    admin = ctl_user(w2, "adm", role="admin")
    u = ctl_user(w2, "target")
    admin_token = sign_in(w2, admin)["access_token"]
    rids = []
    for xff in ("10.2.0.1", "10.2.0.2"):
        rids.append(new_request_id())
        r = login(w2, u.name, "wrong-password", xff=xff, headers={"X-Request-Id": rids[-1]})
        assert_problem(r, 401)
    # A third "address" is the same client: the header is not believed.
    r = login(w2, u.name, u.password, xff="10.2.0.3")
    assert_problem(r, 429)
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 4
    for rid in rids:
        assert_audited(w2, admin_token, rid, "auth.login", result="failure",
                       source_addr="127.0.0.1")
    # The lock-out ends with the window: nobody is locked out for good.
    wait_until(lambda: login(w2, u.name, u.password).status_code == 200, retry + 3,
               "the sign-in window to pass", interval=0.25)


# -------------------------------------------------------- the route table


def ctl_routes(w):
    r = w.ctl("routes")
    assert r.returncode == 0, r.stderr
    rows = []
    for line in r.stdout.splitlines():
        parts = line.split()
        assert len(parts) == 4, f"warrenctl routes: unexpected line {line!r}"
        rows.append(tuple(parts))
    assert len(rows) >= 30, r.stdout
    return rows


def test_every_route_declares_a_known_policy(w):
    rows = ctl_routes(w)
    bad = [row for row in rows if row[3] not in POLICIES]
    assert not bad, f"routes without a known policy: {bad}"
    names = [row[2] for row in rows]
    assert len(set(names)) == len(names), names
    # The source agrees: every row of the table names one of the policies.
    src = (TOP / "src" / "api" / "routes.c").read_text()
    table = src[src.index("routes[] = {"):src.index("};", src.index("routes[] = {"))]
    entries = re.findall(r"\{\s*(HTTP_[A-Z_| ]+?),\s*\"([^\"]+)\",\s*\"([^\"]+)\",\s*(\w+)",
                         table)
    assert len(entries) == table.count("{ HTTP_") and len(entries) >= 30, entries
    for methods, pattern, name, policy in entries:
        assert policy in ("POLICY_PUBLIC", "POLICY_USER", "POLICY_AUDITOR",
                          "POLICY_TEMPLATE_ADMIN", "POLICY_ADMIN"), (pattern, policy)
        assert name in names, name
        assert policy.removeprefix("POLICY_").lower().replace("_", "-") == \
            [row[3] for row in rows if row[2] == name][0]


REACH = {
    "public": None, "user": None,
    "auditor": {"admin", "auditor"},
    "template-admin": {"admin", "template-admin"},
    "admin": {"admin"},
}
CALLERS = ("anon", "admin", "tadmin", "auditor", "member", "a_owner", "a_admin", "a_member",
           "b_member")
ORG_READ = {"admin": 200, "auditor": 200, "a_owner": 200, "a_admin": 200, "a_member": 200,
            "*": 404}


def org_manage(ok):
    return {"admin": ok, "a_owner": ok, "a_admin": ok, "a_member": 403, "auditor": 403, "*": 404}


class Spec:
    """policy: as the table must declare it; expect: the status for callers
    the policy lets through (int, or {caller: status, "*": default});
    build(world, caller) -> dict(path=, json=, token=, after=)."""

    def __init__(self, policy, expect, build=None, path=None, json=None):
        self.policy = policy
        self.expect = expect
        self.build = build
        self.path = path
        self.json = json

    def status(self, caller, role):
        if caller == "anon" and self.policy != "public":
            return 401
        reach = REACH[self.policy]
        if caller != "anon" and reach is not None and role not in reach:
            return 404
        if isinstance(self.expect, int):
            return self.expect
        return self.expect.get(caller, self.expect["*"])


def _refresh_chain(world, caller):
    def after(r):
        if r.status_code == 200:
            world.refresh_token = r.json()["refresh_token"]
    return {"json": {"refresh_token": world.refresh_token}, "after": after}


def _fresh_session(world, caller):
    if caller == "anon":
        return {}
    return {"token": sign_in(world.w, world.users[caller])["access_token"]}


def _logout_all(world, caller):
    if caller == "anon":
        return {}
    return {"after": lambda r: world.relogin(caller)}


def _session_to_delete(world, caller):
    if caller == "anon":
        return {"path": f"/api/v1/me/sessions/{uuid.uuid4()}"}
    sid = sign_in(world.w, world.users[caller])["session_id"]
    return {"path": f"/api/v1/me/sessions/{sid}"}


def _user_to_delete(world, caller):
    uid = world.throwaway_user()

    def after(r):
        left = psql(world.w, f"SELECT count(*) FROM users WHERE id = '{uid}'")
        assert left == ("0" if r.status_code == 204 else "1"), (caller, r.status_code)
    return {"path": f"/api/v1/users/{uid}", "after": after}


def _org_to_delete(world, caller):
    oid = world.mirror_org()

    def after(r):
        left = psql(world.w, f"SELECT count(*) FROM organizations WHERE id = '{oid}'")
        assert left == ("0" if r.status_code == 204 else "1"), (caller, r.status_code)
    return {"path": f"/api/v1/orgs/{oid}", "after": after}


def _member_to_set(world, caller):
    uid = world.throwaway_user()
    oid = world.mirror_org()
    return {"path": f"/api/v1/orgs/{oid}/members/{uid}", "json": {"role": "member"}}


def _member_to_remove(world, caller):
    uid = world.throwaway_user()
    oid = world.mirror_org(extra=uid)
    return {"path": f"/api/v1/orgs/{oid}/members/{uid}"}


def _token_to_revoke(world, caller):
    if caller == "anon":
        return {"path": f"/api/v1/tokens/{uuid.uuid4()}"}
    r = call(world.w, "POST", "/tokens", world.tokens[caller],
             json={"name": unique("rv"), "scope": "read"})
    assert r.status_code == 201, r.text
    return {"path": f"/api/v1/tokens/{r.json()['id']}"}


def _invitation_to_revoke(world, caller):
    r = call(world.w, "POST", "/invitations", world.tokens["admin"], json={"role": "member"})
    assert r.status_code == 201, r.text
    return {"path": f"/api/v1/invitations/{r.json()['id']}"}


def _user_path(world, caller):
    return {"path": f"/api/v1/users/{world.users['member'].id}"}


def _org_a(suffix=""):
    return lambda world, caller: {"path": f"/api/v1/orgs/{world.org_a}{suffix}"}


SPECS = {
    ("GET", "/api/v1/health"): Spec("public", 200),
    ("GET", "/api/v1/ready"): Spec("public", 200),
    ("POST", "/api/v1/echo"): Spec("public", 200, json={"x": 1}),
    ("GET", "/metrics"): Spec("public", 200),
    ("POST", "/api/v1/auth/login"): Spec(
        "public", 200, build=lambda world, c: {"json": {"username": world.probe.name,
                                                        "password": world.probe.password}}),
    ("POST", "/api/v1/auth/refresh"): Spec("public", 200, build=_refresh_chain),
    ("POST", "/api/v1/auth/logout"): Spec("user", 204, build=_fresh_session),
    ("POST", "/api/v1/auth/logout-all"): Spec("user", 204, build=_logout_all),
    ("GET", "/api/v1/auth/providers"): Spec("public", 200),
    ("GET", "/api/v1/auth/oauth/{provider}/start"): Spec(
        "public", 302, path="/api/v1/auth/oauth/github/start"),
    ("GET", "/api/v1/auth/oauth/{provider}/callback"): Spec(
        "public", 400, path="/api/v1/auth/oauth/github/callback"),
    ("GET", "/api/v1/invitations"): Spec("admin", 200),
    ("POST", "/api/v1/invitations"): Spec("admin", 201, json={"role": "member"}),
    ("DELETE", "/api/v1/invitations/{id}"): Spec("admin", 204, build=_invitation_to_revoke),
    ("GET", "/api/v1/me"): Spec("user", 200),
    ("GET", "/api/v1/me/sessions"): Spec("user", 200),
    ("DELETE", "/api/v1/me/sessions/{id}"): Spec("user", 204, build=_session_to_delete),
    ("GET", "/api/v1/users"): Spec("admin", 200),
    ("POST", "/api/v1/users"): Spec(
        "admin", 201, build=lambda world, c: {"json": {"username": unique("new")}}),
    ("GET", "/api/v1/users/{id}"): Spec("user", {"admin": 200, "member": 200, "*": 404},
                                        build=_user_path),
    ("PATCH", "/api/v1/users/{id}"): Spec(
        "user", {"admin": 200, "member": 200, "*": 404},
        build=lambda world, c: dict(_user_path(world, c), json={"display_name": f"by {c}"})),
    ("DELETE", "/api/v1/users/{id}"): Spec("admin", 204, build=_user_to_delete),
    ("GET", "/api/v1/orgs"): Spec("user", 200),
    ("POST", "/api/v1/orgs"): Spec(
        "admin", 201, build=lambda world, c: {"json": {"name": unique("new-org-")}}),
    ("GET", "/api/v1/orgs/{id}"): Spec("user", ORG_READ, build=_org_a()),
    ("PATCH", "/api/v1/orgs/{id}"): Spec(
        "user", org_manage(200),
        build=lambda world, c: dict(_org_a()(world, c), json={"display_name": f"by {c}"})),
    ("DELETE", "/api/v1/orgs/{id}"): Spec(
        "user", {"admin": 204, "a_owner": 204, "a_admin": 403, "a_member": 403,
                 "auditor": 403, "*": 404}, build=_org_to_delete),
    ("GET", "/api/v1/orgs/{id}/members"): Spec("user", ORG_READ, build=_org_a("/members")),
    ("PUT", "/api/v1/orgs/{id}/members/{user}"): Spec("user", org_manage(200),
                                                      build=_member_to_set),
    ("DELETE", "/api/v1/orgs/{id}/members/{user}"): Spec("user", org_manage(204),
                                                         build=_member_to_remove),
    ("GET", "/api/v1/tokens"): Spec("user", 200),
    ("POST", "/api/v1/tokens"): Spec(
        "user", 201, build=lambda world, c: {"json": {"name": unique("m"), "scope": "read"}}),
    ("DELETE", "/api/v1/tokens/{id}"): Spec("user", 204, build=_token_to_revoke),
    ("GET", "/api/v1/audit"): Spec("auditor", 200),
}


def _generic(method, pattern, policy):
    """For routes of later issues that have no row above: what the policy
    alone decides, before any handler runs.  Anonymous callers get 401 and
    callers whose role does not reach the route 404; callers it reaches
    are sent only safe requests, which must get past authentication."""
    path = re.sub(r"\{[a-z_]+\}", lambda m: str(uuid.uuid4()), pattern)
    return Spec(policy, None, path=path)


def test_route_matrix(w, world):
    """Every route of the table, called by every kind of caller."""
    rows = ctl_routes(w)
    listed = {(m, p) for m, p, _, _ in rows}
    assert not set(SPECS) - listed, f"matrix rows for no route: {set(SPECS) - listed}"
    not_found = assert_problem(call(w, "GET", "/no-such-route", world.tokens["member"]), 404)
    del not_found["request_id"]
    failures = []
    for method, pattern, name, policy in rows:
        spec = SPECS.get((method, pattern)) or _generic(method, pattern, policy)
        if policy != spec.policy:
            failures.append(f"{method} {pattern}: policy {policy}, expected {spec.policy}")
            continue
        for caller in CALLERS:
            role = World.ROLES.get(caller)
            reached = caller != "anon" and (REACH[policy] is None or role in REACH[policy])
            if spec.expect is None and reached and method not in ("GET", "HEAD"):
                continue  # a later issue's write: its own tests cover it
            req = {"path": spec.path or pattern, "json": spec.json}
            if spec.build:
                req.update(spec.build(world, caller))
            token = req.get("token", world.tokens.get(caller))
            r = call(w, method, req["path"], token, json=req["json"])
            if spec.expect is None and (reached or policy == "public"):
                if r.status_code == 401 or r.status_code >= 500:
                    failures.append(f"{method} {pattern} as {caller}: {r.status_code} "
                                    f"(expected the handler's answer) {r.text[:120]}")
                continue
            want = spec.status(caller, role)
            if r.status_code != want:
                failures.append(f"{method} {pattern} as {caller}: {r.status_code} "
                                f"(expected {want}) {r.text[:120]}")
            elif want in (401, 403, 404):
                body = assert_problem(r, want)
                if want == 401:
                    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
                if caller != "anon" and not reached:
                    # Refused by role: nothing tells the route exists.
                    del body["request_id"]
                    if body != not_found:
                        failures.append(f"{method} {pattern} as {caller}: {body} "
                                        f"differs from a missing route's {not_found}")
            if "after" in req:
                req["after"](r)
    assert not failures, "route matrix:\n" + "\n".join(failures)


def test_cross_org_and_cross_user_isolation(w, world):
    a_owner, b_member = world.tokens["a_owner"], world.tokens["b_member"]
    # Organizations: one that exists and one that does not look the same.
    hidden = assert_problem(call(w, "GET", f"/orgs/{world.org_b}", a_owner), 404)
    absent = assert_problem(call(w, "GET", f"/orgs/{uuid.uuid4()}", a_owner), 404)
    del hidden["request_id"], absent["request_id"]
    assert hidden == absent
    assert_problem(call(w, "GET", f"/orgs/{world.org_b}/members", a_owner), 404)
    assert_problem(call(w, "PATCH", f"/orgs/{world.org_a}", b_member,
                        json={"display_name": "taken"}), 404)
    listed = call(w, "GET", "/orgs", a_owner).json()["items"]
    assert world.org_a in {o["id"] for o in listed}
    assert world.org_b not in {o["id"] for o in listed}
    # Auditors see every organization; members only theirs.
    assert {world.org_a, world.org_b} <= {o["id"] for o in call(
        w, "GET", "/orgs", world.tokens["auditor"], params={"limit": 200}).json()["items"]}
    # Users: another's profile, sessions and the user list are not there.
    assert_problem(call(w, "GET", f"/users/{world.users['admin'].id}", b_member), 404)
    assert_problem(call(w, "PATCH", f"/users/{world.users['a_owner'].id}", b_member,
                        json={"display_name": "x"}), 404)
    victim = sign_in(w, world.users["a_member"])
    assert_problem(call(w, "DELETE", f"/me/sessions/{victim['session_id']}", b_member), 404)
    assert_alive(w, victim["access_token"], world.users["a_member"])
    # A member cannot raise themselves.
    r = call(w, "PATCH", f"/users/{world.users['member'].id}", world.tokens["member"],
             json={"role": "admin"})
    assert_problem(r, 403)
    assert me(w, world.tokens["member"]).json()["role"] == "member"
    # Organization roles: admins of the org cannot make owners; an org keeps
    # an owner.
    tmp = world.throwaway_user()
    r = call(w, "PUT", f"/orgs/{world.org_a}/members/{tmp}", world.tokens["a_admin"],
             json={"role": "owner"})
    assert_problem(r, 403)
    r = call(w, "DELETE", f"/orgs/{world.org_a}/members/{world.users['a_owner'].id}",
             world.admin)
    assert_problem(r, 409)


def test_role_change_applies_at_once(w, world):
    u = api_user(w, world.admin, unique("promo"), role="admin", password="promo-password")
    token = sign_in(w, u)["access_token"]
    api = call(w, "POST", "/tokens", token, json={"name": "t", "scope": "read"}).json()["token"]
    for t in (token, api):
        assert call(w, "GET", "/users", t).status_code == 200
    rid = new_request_id()
    r = call(w, "PATCH", f"/users/{u.id}", world.admin, json={"role": "member"},
             headers={"X-Request-Id": rid})
    assert r.status_code == 200 and r.json()["role"] == "member", r.text
    assert_audited(w, world.admin, rid, "user.role_change", actor=world.users["admin"],
                   target_type="user", target_id=u.id)
    # The same credentials, without signing in again: the new role holds.
    for t in (token, api):
        assert_problem(call(w, "GET", "/users", t), 404)
        assert_problem(call(w, "GET", "/audit", t), 404)
    assert me(w, token).json()["role"] == "member"
    r = call(w, "PATCH", f"/users/{u.id}", world.admin, json={"role": "auditor"})
    assert r.status_code == 200, r.text
    for t in (token, api):
        assert call(w, "GET", "/audit", t).status_code == 200
        assert_problem(call(w, "GET", "/users", t), 404)


def test_the_last_admin_stays(w, world):
    root = world.users["admin"]
    # Other admins made by earlier tests are put out of the way first.
    psql(w, f"UPDATE users SET disabled = true WHERE role = 'admin' AND id <> '{root.id}'")
    for body in ({"role": "member"}, {"disabled": True}):
        assert_problem(call(w, "PATCH", f"/users/{root.id}", world.admin, json=body), 409)
    assert_problem(call(w, "DELETE", f"/users/{root.id}", world.admin), 409)
    assert me(w, world.admin).json()["role"] == "admin"


# -------------------------------------------------------------- audit log


def test_audit_records_every_change(w, world):
    admin, admin_user = world.admin, world.users["admin"]
    u = api_user(w, admin, unique("aud"), password="audited-password")
    checks = []

    def do(method, path, token, action, **expect):
        rid = new_request_id()
        body = expect.pop("json", None)
        r = call(w, method, path, token, headers={"X-Request-Id": rid}, json=body)
        assert r.status_code < 400, (method, path, r.text)
        checks.append((rid, action, expect))
        return r

    rid = new_request_id()
    assert login(w, u.name, "wrong", headers={"X-Request-Id": rid}).status_code == 401
    checks.append((rid, "auth.login", {"result": "failure", "target_type": "user",
                                       "target_id": u.id}))
    rid = new_request_id()
    r = login(w, u.name, u.password, headers={"X-Request-Id": rid})
    session = r.json()
    checks.append((rid, "auth.login", {"actor": u, "target_type": "user", "target_id": u.id}))
    refreshed = refresh(w, session["refresh_token"]).json()
    rid = new_request_id()
    assert call(w, "POST", "/auth/refresh", headers={"X-Request-Id": rid},
                json={"refresh_token": session["refresh_token"]}).status_code == 401
    checks.append((rid, "auth.refresh_reuse", {"result": "denied", "target_type": "session",
                                               "target_id": session["session_id"]}))
    assert_dead(w, refreshed["access_token"])
    token = sign_in(w, u)["access_token"]
    r = do("POST", "/tokens", token, "token.create", actor=u, target_type="api_token",
           json={"name": "audited", "scope": "read"})
    tid = r.json()["id"]
    checks[-1][2]["target_id"] = tid
    do("DELETE", f"/tokens/{tid}", token, "token.revoke", actor=u, target_type="api_token",
       target_id=tid)
    do("POST", "/auth/logout", token, "auth.logout", actor=u, target_type="session")
    r = do("POST", "/users", admin, "user.create", actor=admin_user, target_type="user",
           json={"username": unique("made")})
    made = r.json()["id"]
    checks[-1][2]["target_id"] = made
    do("PATCH", f"/users/{made}", admin, "user.update", actor=admin_user, target_type="user",
       target_id=made, json={"display_name": "Made"})
    do("PATCH", f"/users/{made}", admin, "user.role_change", actor=admin_user,
       target_type="user", target_id=made, json={"role": "auditor"})
    do("PATCH", f"/users/{made}", admin, "user.disable", actor=admin_user,
       target_type="user", target_id=made, json={"disabled": True})
    r = do("POST", "/orgs", admin, "org.create", actor=admin_user, target_type="organization",
           json={"name": unique("aud-org-")})
    oid = r.json()["id"]
    checks[-1][2]["target_id"] = oid
    do("PUT", f"/orgs/{oid}/members/{made}", admin, "org.member_set", actor=admin_user,
       target_type="organization", target_id=oid, json={"role": "owner"})
    do("PUT", f"/orgs/{oid}/members/{u.id}", admin, "org.member_set", actor=admin_user,
       target_type="organization", target_id=oid, json={"role": "member"})
    do("DELETE", f"/orgs/{oid}/members/{u.id}", admin, "org.member_remove",
       actor=admin_user, target_type="organization", target_id=oid)
    r = do("POST", "/invitations", admin, "invitation.create", actor=admin_user,
           target_type="invitation", json={"role": "member"})
    iid = r.json()["id"]
    checks[-1][2]["target_id"] = iid
    do("DELETE", f"/invitations/{iid}", admin, "invitation.revoke", actor=admin_user,
       target_type="invitation", target_id=iid)
    do("DELETE", f"/users/{made}", admin, "user.delete", actor=admin_user,
       target_type="user", target_id=made)
    for rid, action, expect in checks:
        e = assert_audited(w, admin, rid, action, **expect)
        if action == "auth.refresh_reuse" or (action == "auth.login" and
                                              expect.get("result") == "failure"):
            assert e["actor_id"] is None, e
    # The role change records the new role.
    e = [e for e in audit(w, admin, action="user.role_change", target=made)["items"]]
    assert e and e[0]["details"].get("role") == "auditor", e


def test_audit_filters_and_pagination(w, world):
    admin = world.admin
    u = api_user(w, admin, unique("pager"), password="pager-password")
    sessions = [sign_in(w, u) for _ in range(3)]
    token = sessions[0]["access_token"]
    tids = []
    for i in range(3):
        r = call(w, "POST", "/tokens", token, json={"name": f"p{i}", "scope": "read"})
        tids.append(r.json()["id"])
    # An id in capitals reaches the same token, and is audited in the
    # canonical (lower-case) form, so the filter below finds it.
    assert call(w, "DELETE", f"/tokens/{tids[0].upper()}", token).status_code == 204
    assert call(w, "POST", "/auth/logout", sessions[2]["access_token"]).status_code == 204

    mine = audit(w, admin, actor=u.id, limit=200)["items"]
    assert len(mine) == 8, [e["action"] for e in mine]
    assert all(e["actor_id"] == u.id for e in mine)
    assert sorted(e["action"] for e in mine) == sorted(
        ["auth.login"] * 3 + ["token.create"] * 3 + ["token.revoke", "auth.logout"])
    ids = [e["id"] for e in mine]
    assert ids == sorted(ids, reverse=True)

    logins = audit(w, admin, action="auth.login", actor=u.id)["items"]
    assert len(logins) == 3 and all(e["action"] == "auth.login" for e in logins)
    auth = audit(w, admin, action="auth.*", actor=u.id)["items"]
    assert {e["action"] for e in auth} == {"auth.login", "auth.logout"}, auth
    everything_auth = audit(w, admin, action="auth.*", limit=200)["items"]
    assert everything_auth and all(e["action"].startswith("auth.") for e in everything_auth)
    # A literal filter is not a prefix.
    assert audit(w, admin, action="auth.", actor=u.id)["items"] == []
    assert audit(w, admin, action="auth", actor=u.id)["items"] == []
    by_target = audit(w, admin, target=tids[0])["items"]
    assert {e["action"] for e in by_target} == {"token.create", "token.revoke"}, by_target
    assert [e["target_id"] for e in by_target] == [tids[0]] * 2, by_target
    assert audit(w, admin, target=tids[0].upper())["items"] == by_target
    assert all(e["target_id"] == tids[0] for e in by_target)

    # Time range: since is inclusive, until exclusive.
    mid = mine[4]
    since = audit(w, admin, actor=u.id, since=mid["at"], limit=200)["items"]
    until = audit(w, admin, actor=u.id, until=mid["at"], limit=200)["items"]
    assert mid["id"] in {e["id"] for e in since} and mid["id"] not in {e["id"] for e in until}
    assert all(e["at"] >= mid["at"] for e in since)
    assert all(e["at"] < mid["at"] for e in until)
    assert {e["id"] for e in since} | {e["id"] for e in until} == set(ids)
    window = audit(w, admin, actor=u.id, since=mine[-1]["at"], until=mine[0]["at"])["items"]
    assert {e["id"] for e in window} == set(ids[1:])

    # Cursor pagination: pages of 3 walk the same entries, once each.
    seen, cursor = [], None
    for _ in range(20):
        params = {"actor": u.id, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = audit(w, admin, **params)
        assert len(page["items"]) <= 3
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        pytest.fail("audit pagination did not end")
    assert seen == ids

    for bad in ({"actor": "someone"}, {"since": "yesterday"}, {"until": "2024-01-01 00:00"},
                {"cursor": "abc"}, {"limit": 0}, {"limit": 201}):
        assert_problem(call(w, "GET", "/audit", admin, params=bad), 400)


def test_audit_readable_by_admins_and_auditors_only(w, world):
    for key, status in (("admin", 200), ("auditor", 200), ("tadmin", 404), ("member", 404),
                        ("a_owner", 404)):
        r = call(w, "GET", "/audit", world.tokens[key])
        assert r.status_code == status, (key, r.text)
        if status == 404:
            assert_problem(r, 404)
    assert_problem(call(w, "GET", "/audit"), 401)
    # Also with a read-only API token of an auditor.
    r = call(w, "POST", "/tokens", world.tokens["auditor"], json={"name": unique("ro"),
                                                                  "scope": "read"})
    assert call(w, "GET", "/audit", r.json()["token"]).status_code == 200


def test_audit_log_is_append_only(w, world):
    before = psql(w, "SELECT count(*) FROM audit_log")
    assert int(before) > 0
    for sql in ("UPDATE audit_log SET result = 'success'",
                "DELETE FROM audit_log",
                "DELETE FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)",
                "TRUNCATE audit_log"):
        err = psql_fails(w, sql)
        assert "append-only" in err, err
    assert psql(w, "SELECT count(*) FROM audit_log") == before
    # No API changes an entry either.
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert_problem(call(w, method, "/audit", world.admin, json={}), 405)
    assert_problem(call(w, "DELETE", "/audit/1", world.admin), 404)
