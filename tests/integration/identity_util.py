"""Plain helpers for the identity and access tests (issue 3).

Stacks are the harness's Warren objects; the functions here sign users in,
read cookies and tokens, and look into the database and the audit log.
"""

import base64
import hashlib
import hmac
import itertools
import json
import os
import re
import time
import uuid

import pytest
import requests

from conftest import HTTP_TIMEOUT, Warren, assert_problem, lib

# Stacks use a public URL of their own: it is the token issuer and the CSRF
# origin, and nothing needs to resolve it (the tests talk to nginx).
PUBLIC_URL = "http://warren.test"
ORIGIN = PUBLIC_URL
API = "/api/v1"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
POLICIES = {"public", "user", "auditor", "template-admin", "admin"}

# Every identity stack: generous limits unless a test asks for tight ones,
# so that tests sharing a stack do not throttle each other.
BASE_CONF = {
    "public_url": PUBLIC_URL,
    "workers": 2,
    "login_failures_per_address": 100000,
    "login_failures_per_account": 100000,
    "token_rate_limit": 100000,
}

_counter = itertools.count(1)


def unique(prefix):
    return f"{prefix}{os.getpid() % 10000}x{next(_counter)}"


def new_request_id():
    return uuid.uuid4().hex


# ------------------------------------------------------------------ stacks


def identity_conf(**conf):
    out = dict(BASE_CONF)
    out.update(conf)
    return out


def open_stack(pg, workdir, **conf):
    """A Warren with the identity defaults, on a database of its own."""
    db = pg.create_db(unique("id_"))
    return Warren(pg, workdir, db, **identity_conf(**conf))


def close_stack(w):
    error = w.close()
    if error:
        pytest.fail(error)


def psql(w, sql):
    return w.pg.psql(w.db, sql)


def psql_fails(w, sql):
    """Runs sql as the superuser; returns stderr, failing if it succeeded."""
    r = lib("warren_pg_psql", w.pg.root, w.pg.port, w.db, "-At", "-c", sql, check=False)
    assert r.returncode != 0, f"{sql!r} succeeded: {r.stdout}"
    return r.stderr


def reload_and_wait(w, **changes):
    """SIGHUP (after applying changes) and waits for a new generation."""
    old = set(w.workers())
    w.reload(**changes)
    w.wait_workers(int(w.conf["workers"]), exclude=old, timeout=20)
    w.wait_healthy()


# ------------------------------------------------------------------- users


class User:
    def __init__(self, name, id, password, role):
        self.name = name
        self.id = id
        self.password = password
        self.role = role

    def __repr__(self):
        return f"User({self.name}, {self.role})"


def ctl_user(w, name, role="member", email=None):
    """warrenctl user add: returns the user with its one-time password."""
    args = ["user", "add", name]
    args += ["--admin"] if role == "admin" else ["--role", role]
    if email:
        args += ["--email", email]
    r = w.ctl(*args)
    assert r.returncode == 0, f"warrenctl user add: {r.stdout}{r.stderr}"
    m = re.search(r"\(([0-9a-f-]{36})\)", r.stdout)
    p = re.search(r"one-time password: (\S+)", r.stdout)
    assert m and p, r.stdout
    return User(name, m.group(1), p.group(1), role)


def api_user(w, admin_token, name, role="member", email=None, password=None):
    """POST /api/v1/users as an admin."""
    body = {"username": name, "role": role}
    if email:
        body["email"] = email
    if password:
        body["password"] = password
    r = call(w, "POST", "/users", admin_token, json=body)
    assert r.status_code == 201, r.text
    return User(name, r.json()["id"], password, role)


# ---------------------------------------------------------------- requests


def call(w, method, path, token=None, headers=None, **kwargs):
    """A request to /api/v1<path>, with a Bearer token when given."""
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    kwargs.setdefault("timeout", HTTP_TIMEOUT)
    kwargs.setdefault("allow_redirects", False)
    if path.startswith("http"):
        url = path
    elif path.startswith("/api/") or path == "/metrics":
        url = w.url(path)
    else:
        url = w.url(API + path)
    return requests.request(method, url, headers=h, **kwargs)


def login(w, username, password, origin=None, xff=None, headers=None):
    h = dict(headers or {})
    if origin is not None:
        h["Origin"] = origin
    if xff is not None:
        h["X-Forwarded-For"] = xff
    return call(w, "POST", "/auth/login", headers=h,
                json={"username": username, "password": password})


def sign_in(w, user, **kwargs):
    """Script sign-in: the JSON answer (access_token, refresh_token, ...)."""
    r = login(w, user.name, user.password, **kwargs)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "access_token" in body, body
    return body


def me(w, token=None, headers=None):
    return call(w, "GET", "/me", token, headers=headers)


def assert_dead(w, token):
    """The access or API token no longer authenticates."""
    r = me(w, token)
    assert_problem(r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers


def assert_alive(w, token, user=None):
    r = me(w, token)
    assert r.status_code == 200, r.text
    if user is not None:
        assert r.json()["id"] == user.id, r.json()
    return r.json()


def refresh(w, refresh_token):
    return call(w, "POST", "/auth/refresh", json={"refresh_token": refresh_token})


# ----------------------------------------------------------------- cookies


def set_cookies(resp):
    """{name: (value, {attribute: value})} from all Set-Cookie headers;
    attribute names are lower case, flags map to True."""
    out = {}
    for line in resp.raw.headers.getlist("Set-Cookie"):
        parts = [p.strip() for p in line.split(";")]
        name, _, value = parts[0].partition("=")
        attrs = {}
        for p in parts[1:]:
            k, eq, v = p.partition("=")
            attrs[k.strip().lower()] = v if eq else True
        assert name not in out, f"cookie {name} set twice: {resp.raw.headers.getlist('Set-Cookie')}"
        out[name] = (value, attrs)
    return out


def cookie_header(cookies):
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


class Browser:
    """A browser signed in with cookies: sends them, and for unsafe methods
    the CSRF header and Origin unless told otherwise."""

    def __init__(self, w, prefix=""):
        self.w = w
        self.prefix = prefix
        self.jar = {}
        self.csrf = None

    def take(self, resp):
        for name, (value, attrs) in set_cookies(resp).items():
            if attrs.get("max-age") == "0" or value == "":
                self.jar.pop(name, None)
            else:
                self.jar[name] = value
        if self.prefix + "warren_csrf" in self.jar:
            self.csrf = self.jar[self.prefix + "warren_csrf"]

    def login(self, user, origin=ORIGIN):
        r = login(self.w, user.name, user.password, origin=origin)
        assert r.status_code == 200, r.text
        self.take(r)
        return r

    def request(self, method, path, csrf=True, origin=True, headers=None, **kwargs):
        h = {"Cookie": cookie_header(self.jar)} if self.jar else {}
        if csrf is True and self.csrf:
            h["X-CSRF-Token"] = self.csrf
        elif isinstance(csrf, str):
            h["X-CSRF-Token"] = csrf
        if origin is True:
            h["Origin"] = ORIGIN
        elif isinstance(origin, str):
            h["Origin"] = origin
        h.update(headers or {})
        r = call(self.w, method, path, headers=h, **kwargs)
        self.take(r)
        return r


# ------------------------------------------------------------------ tokens


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_decode(token):
    """(header, payload) of a JWT, unverified."""
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def jwt_sign(header, payload, key):
    """An HS256 JWT of our own making (the forgery tests)."""
    signing = b64url(json.dumps(header, separators=(",", ":"))) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")))
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def jwt_keys(w):
    """[(kid, key bytes)] of the stack's key file, newest first."""
    out = []
    for line in open(w.conf["jwt_key_file"]).read().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            kid, key = line.split()[:2]
            out.append((kid, b64url_decode(key)))
    return out


def sha256_bytea(text):
    """The bytea literal Warren stores for a hashed opaque token."""
    return "\\x" + hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------- audit


def audit(w, token, **params):
    r = call(w, "GET", "/audit", token, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def audit_for_request(w, token, request_id, action=None):
    """The audit entries written by one request (by its X-Request-Id)."""
    params = {"limit": 200}
    if action:
        params["action"] = action
    found = []
    for _ in range(20):
        page = audit(w, token, **params)
        found += [e for e in page["items"] if e["request_id"] == request_id]
        if page["next_cursor"] is None:
            return found
        params["cursor"] = page["next_cursor"]
    pytest.fail("audit log too long to search")


def assert_audited(w, token, request_id, action, result="success", actor=None,
                   target_type=None, target_id=None, source_addr="127.0.0.1"):
    """Exactly one entry of action for the request, with who/what/where."""
    entries = [e for e in audit_for_request(w, token, request_id, action)
               if e["action"] == action]
    assert len(entries) == 1, (action, request_id, entries)
    e = entries[0]
    assert e["result"] == result, e
    if actor is not None:
        assert e["actor_id"] == actor.id, e
        assert e["actor_name"] == actor.name, e
    if target_type is not None:
        assert e["target_type"] == target_type, e
    if target_id is not None:
        assert e["target_id"] == target_id, e
    assert e["source_addr"] == source_addr, e
    assert isinstance(e["at"], str) and e["at"].endswith("Z"), e
    assert isinstance(e["id"], int), e
    return e


def wait_until(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
