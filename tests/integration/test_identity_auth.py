"""Issue 3, sign-in and sessions: passwords, access JWTs, refresh rotation,
cookies, sign-out, key rotation and forged tokens, through nginx."""

import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse

import pytest

from conftest import assert_problem, run_ctl
from identity_util import (
    ORIGIN, PUBLIC_URL, UUID_RE, Browser, api_user, assert_alive, assert_audited,
    assert_dead, b64url, call, close_stack, ctl_user, identity_conf, jwt_decode,
    jwt_keys, jwt_sign, login, me, new_request_id, open_stack, psql, refresh,
    reload_and_wait, set_cookies, sign_in, unique,
)

COOKIES = ("warren_access", "warren_refresh", "warren_csrf")
ACCESS_TTL = 600
SESSION_LIFETIME = 86400


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("auth"), access_token_ttl=ACCESS_TTL,
                       session_lifetime=SESSION_LIFETIME)
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def admin(w):
    return ctl_user(w, "boss", role="admin", email="boss@example.org")


@pytest.fixture(scope="module")
def admin_token(w, admin):
    return sign_in(w, admin)["access_token"]


@pytest.fixture
def user(w, admin_token):
    """A fresh member with a known password, made through the API."""
    name = unique("u")
    return api_user(w, admin_token, name, password=f"pw-{name}-secret")


# ------------------------------------------------------------ password sign-in


def test_script_login_returns_tokens(w, admin):
    r = login(w, admin.name, admin.password)
    assert r.status_code == 200, r.text
    body = r.json()
    for key in ("access_token", "refresh_token", "csrf_token", "session_id"):
        assert isinstance(body.get(key), str) and body[key], (key, body)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_TTL
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    assert body["user_id"] == admin.id and body["role"] == "admin"
    assert UUID_RE.match(body["session_id"])
    cookies = set_cookies(r)
    assert cookies["warren_access"][0] == body["access_token"]
    assert cookies["warren_refresh"][0] == body["refresh_token"]
    assert cookies["warren_csrf"][0] == body["csrf_token"]
    assert body["refresh_token"] != body["access_token"]
    info = assert_alive(w, body["access_token"], admin)
    assert info["auth"] == "bearer" and info["role"] == "admin"
    assert info["session_id"] == body["session_id"]
    # The username is matched case-insensitively, and so is the e-mail.
    assert login(w, admin.name.upper(), admin.password).status_code == 200
    assert login(w, "Boss@Example.org", admin.password).status_code == 200


def test_browser_login_gets_only_cookies(w, admin):
    r = login(w, admin.name, admin.password, origin=ORIGIN)
    assert r.status_code == 200, r.text
    body = r.json()
    assert "access_token" not in body and "refresh_token" not in body, body
    cookies = set_cookies(r)
    assert set(COOKIES) <= set(cookies), cookies
    assert body["csrf_token"] == cookies["warren_csrf"][0]
    # The cookie alone signs the browser in for safe requests.
    r = me(w, headers={"Cookie": f"warren_access={cookies['warren_access'][0]}"})
    assert r.status_code == 200, r.text
    assert r.json()["auth"] == "cookie" and r.json()["id"] == admin.id

    # A sign-in form posted from another site is refused, and sets nothing.
    for origin in ("http://evil.example", "null", "https://warren.test"):
        r = login(w, admin.name, admin.password, origin=origin)
        assert_problem(r, 403)
        assert not r.raw.headers.getlist("Set-Cookie"), origin


def test_wrong_password_and_unknown_user_look_alike(w, admin, admin_token):
    rid_wrong, rid_unknown = new_request_id(), new_request_id()
    wrong = login(w, admin.name, admin.password + "x", headers={"X-Request-Id": rid_wrong})
    unknown = login(w, "nobody-here", "whatever-password",
                    headers={"X-Request-Id": rid_unknown})
    bodies = []
    for r in (wrong, unknown):
        body = assert_problem(r, 401)
        assert not r.raw.headers.getlist("Set-Cookie")
        del body["request_id"]
        bodies.append(body)
    assert bodies[0] == bodies[1], bodies
    assert "access_token" not in wrong.text
    e = assert_audited(w, admin_token, rid_wrong, "auth.login", result="failure",
                       target_type="user", target_id=admin.id)
    # Whoever typed the wrong password is unknown: no actor, the account
    # is the target, so filtering by actor shows only what the user did.
    assert e["actor_id"] is None, e
    e = assert_audited(w, admin_token, rid_unknown, "auth.login", result="failure")
    assert e["actor_id"] is None and e["details"].get("username") == "nobody-here", e
    # The password never reaches the audit log.
    assert admin.password not in str(e) and "whatever-password" not in str(e)


def test_successful_login_audited(w, admin, admin_token):
    rid = new_request_id()
    r = login(w, admin.name, admin.password, headers={"X-Request-Id": rid})
    assert r.status_code == 200
    assert_audited(w, admin_token, rid, "auth.login", actor=admin, target_type="user",
                   target_id=admin.id)


def test_disabled_user_is_locked_out_at_once(w, admin, admin_token, user):
    s = sign_in(w, user)
    r = call(w, "POST", "/tokens", s["access_token"], json={"name": "ci", "scope": "full"})
    assert r.status_code == 201, r.text
    api_token = r.json()["token"]
    assert_alive(w, s["access_token"], user)
    assert_alive(w, api_token, user)

    rid = new_request_id()
    r = call(w, "PATCH", f"/users/{user.id}", admin_token, json={"disabled": True},
             headers={"X-Request-Id": rid})
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is True
    assert_audited(w, admin_token, rid, "user.disable", actor=admin, target_type="user",
                   target_id=user.id)
    # No waiting for the access token to expire: all of it stops now.
    assert_dead(w, s["access_token"])
    assert_dead(w, api_token)
    assert_problem(refresh(w, s["refresh_token"]), 401)
    wrong = assert_problem(login(w, user.name, "not-the-password"), 401)
    right = assert_problem(login(w, user.name, user.password), 401)
    # A disabled account answers like a wrong password: nothing is told.
    assert {k: v for k, v in wrong.items() if k != "request_id"} == \
        {k: v for k, v in right.items() if k != "request_id"}

    r = call(w, "PATCH", f"/users/{user.id}", admin_token, json={"disabled": False})
    assert r.status_code == 200, r.text
    s2 = sign_in(w, user)
    assert_alive(w, s2["access_token"], user)
    # Enabling again does not bring back what disabling ended.
    assert_dead(w, s["access_token"])


def _argon2_params(h):
    m = re.match(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$", h)
    assert m, f"not an argon2id hash: {h[:40]}..."
    return int(m.group(1)), int(m.group(2))


def test_passwords_are_stored_as_argon2id(w, admin, admin_token, user):
    for u in (admin, user):  # warrenctl and the API
        h = psql(w, f"SELECT password_hash FROM users WHERE id = '{u.id}'")
        memory, ops = _argon2_params(h)
        # libsodium's interactive limits: 64 MiB, 2 passes.
        assert memory >= 65536 and ops >= 2, h
        assert u.password not in h
    # A password change through the API is hashed the same way.
    new_pw = "a-brand-new-password"
    r = call(w, "PATCH", f"/users/{user.id}", sign_in(w, user)["access_token"],
             json={"password": new_pw, "current_password": user.password})
    assert r.status_code == 200, r.text
    h = psql(w, f"SELECT password_hash FROM users WHERE id = '{user.id}'")
    memory, ops = _argon2_params(h)
    assert memory >= 65536 and ops >= 2
    assert login(w, user.name, new_pw).status_code == 200
    assert_problem(login(w, user.name, user.password), 401)
    # The API never shows a hash.
    r = call(w, "GET", f"/users/{user.id}", admin_token)
    assert r.status_code == 200 and "argon2" not in r.text and "password_hash" not in r.json()


# --------------------------------------------------------------- refresh


def test_refresh_rotation_and_reuse_revokes_the_family(w, admin_token, user):
    first = sign_in(w, user)
    other = sign_in(w, user)  # another session of the same user
    r = refresh(w, first["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["session_id"] == first["session_id"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert set_cookies(r)["warren_refresh"][0] == second["refresh_token"]
    r = refresh(w, second["refresh_token"])
    assert r.status_code == 200, r.text
    third = r.json()
    assert_alive(w, third["access_token"], user)

    # The first token comes back: someone holds a copy.  End the family.
    rid = new_request_id()
    r = call(w, "POST", "/auth/refresh", json={"refresh_token": first["refresh_token"]},
             headers={"X-Request-Id": rid})
    assert_problem(r, 401)
    cleared = set_cookies(r)
    assert all(cleared[c][1].get("max-age") == "0" for c in COOKIES), cleared
    assert_dead(w, third["access_token"])
    assert_dead(w, second["access_token"])
    assert_problem(refresh(w, third["refresh_token"]), 401)
    # Another session of the same user is not part of the family.
    assert_alive(w, other["access_token"], user)
    assert refresh(w, other["refresh_token"]).status_code == 200
    e = assert_audited(w, admin_token, rid, "auth.refresh_reuse", result="denied",
                       target_type="session", target_id=first["session_id"])
    # The holder of the stolen copy is unknown: no actor.
    assert e["actor_id"] is None, e
    assert psql(w, f"SELECT revoked_at IS NOT NULL FROM sessions "
                   f"WHERE id = '{first['session_id']}'") == "t"


def test_refresh_tokens_are_stored_hashed(w, user):
    s = sign_in(w, user)
    rows = psql(w, f"SELECT encode(hash, 'hex') FROM refresh_tokens "
                   f"WHERE session_id = '{s['session_id']}'").split()
    assert rows == [hashlib.sha256(s["refresh_token"].encode()).hexdigest()], rows
    dump = psql(w, f"SELECT row_to_json(s)::text FROM sessions s WHERE id = '{s['session_id']}'")
    assert s["refresh_token"] not in dump and s["access_token"] not in dump


def test_refresh_does_not_extend_the_absolute_lifetime(w, user):
    s = sign_in(w, user)
    sid = s["session_id"]
    before = psql(w, f"SELECT expires_at FROM sessions WHERE id = '{sid}'")
    time.sleep(1.1)
    r = refresh(w, s["refresh_token"])
    assert r.status_code == 200, r.text
    assert psql(w, f"SELECT expires_at FROM sessions WHERE id = '{sid}'") == before
    max_age = int(set_cookies(r)["warren_refresh"][1]["max-age"])
    assert 0 < max_age < SESSION_LIFETIME, max_age
    # At the end of its lifetime the session is over, refreshed or not.
    psql(w, f"UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = '{sid}'")
    assert_problem(refresh(w, r.json()["refresh_token"]), 401)
    assert_dead(w, r.json()["access_token"])


def test_refresh_from_cookie_needs_csrf(w, user):
    b = Browser(w)
    b.login(user)
    old_refresh = b.jar["warren_refresh"]
    assert_problem(b.request("POST", "/auth/refresh", csrf=False), 403)
    assert_problem(b.request("POST", "/auth/refresh", origin="http://evil.example"), 403)
    r = b.request("POST", "/auth/refresh")
    assert r.status_code == 200, r.text
    assert "refresh_token" not in r.json() and "access_token" not in r.json()
    assert b.jar["warren_refresh"] != old_refresh
    assert b.request("GET", "/me").status_code == 200


def test_refresh_rejects_garbage(w):
    assert_problem(refresh(w, "x" * 43), 401)
    assert_problem(call(w, "POST", "/auth/refresh"), 401)


# ---------------------------------------------------------------- cookies


def test_cookie_attributes_on_plain_http(w, user):
    r = login(w, user.name, user.password, origin=ORIGIN)
    assert r.status_code == 200, r.text
    cookies = set_cookies(r)
    assert set(cookies) == set(COOKIES), cookies
    for name, (value, attrs) in cookies.items():
        assert value, name
        assert attrs.get("samesite") == "Lax", (name, attrs)
        assert attrs.get("path") == "/", (name, attrs)
        assert "secure" not in attrs, (name, attrs)
        assert "domain" not in attrs, (name, attrs)
    assert cookies["warren_access"][1].get("httponly") is True
    assert cookies["warren_refresh"][1].get("httponly") is True
    # The page's script reads the CSRF token from its cookie.
    assert "httponly" not in cookies["warren_csrf"][1]
    assert cookies["warren_access"][1]["max-age"] == str(ACCESS_TTL)
    assert cookies["warren_refresh"][1]["max-age"] == str(SESSION_LIFETIME)


def test_https_public_url_gives_host_prefixed_secure_cookies(make_warren):
    public = "https://warren.example"
    w2 = make_warren(**identity_conf(public_url=public, github_client_id="tls-client",
                                     github_auth_url="https://github.example/authorize"))
    u = ctl_user(w2, "tls")
    signed_in = login(w2, u.name, u.password, origin=public)
    assert signed_in.status_code == 200, signed_in.text
    cookies = set_cookies(signed_in)
    assert set(cookies) == {"__Host-" + c for c in COOKIES}, cookies
    for name, (value, attrs) in cookies.items():
        assert attrs.get("secure") is True, (name, attrs)
        assert attrs.get("path") == "/" and "domain" not in attrs, (name, attrs)
        assert attrs.get("samesite") == "Lax", (name, attrs)
    assert cookies["__Host-warren_access"][1].get("httponly") is True
    assert cookies["__Host-warren_refresh"][1].get("httponly") is True
    assert "httponly" not in cookies["__Host-warren_csrf"][1]
    access = cookies["__Host-warren_access"][0]
    assert jwt_decode(access)[1]["iss"] == public
    r = me(w2, headers={"Cookie": f"__Host-warren_access={access}"})
    assert r.status_code == 200 and r.json()["auth"] == "cookie", r.text
    # A cookie without the prefix could have been planted by a sibling host.
    assert_problem(me(w2, headers={"Cookie": f"warren_access={access}"}), 401)
    # The origin is scheme and host: http:// is another origin.
    assert_problem(login(w2, u.name, u.password, origin="http://warren.example"), 403)
    # The refresh rotation uses the prefixed names too.
    b = Browser(w2, prefix="__Host-")
    b.take(signed_in)
    r = b.request("POST", "/auth/refresh", origin=public)
    assert r.status_code == 200, r.text
    assert set(set_cookies(r)) == {"__Host-" + c for c in COOKIES}
    # So does the cookie that binds a provider sign-in to the browser.
    r = call(w2, "GET", "/auth/oauth/github/start")
    assert r.status_code == 302, r.text
    assert r.headers["Location"].startswith("https://github.example/authorize?")
    assert urllib.parse.quote(public + "/api/v1/auth/oauth/github/callback", safe="") in \
        r.headers["Location"]
    (name, (value, attrs)), = set_cookies(r).items()
    assert name == "__Host-warren_oauth" and attrs.get("secure") is True, (name, attrs)
    assert attrs.get("httponly") is True and attrs.get("path") == "/"


def test_password_hashing_is_capped(make_warren):
    """max_concurrent_hashes bounds the argon2id hashes (64 MiB each) in
    flight: past it a sign-in is answered 503 at once, not queued."""
    w2 = make_warren(**identity_conf(workers=3, max_concurrent_hashes=1))
    u = ctl_user(w2, "flood")
    for attempt in range(3):
        results, lock = [], threading.Lock()

        def run():
            for _ in range(3):
                r = login(w2, u.name, u.password)
                with lock:
                    results.append(r)

        threads = [threading.Thread(target=run) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        statuses = sorted(r.status_code for r in results)
        assert set(statuses) <= {200, 503}, statuses
        assert 200 in statuses, statuses
        busy = [r for r in results if r.status_code == 503]
        if busy:
            assert_problem(busy[0], 503)
            assert busy[0].headers.get("Retry-After") == "1"
            break
    else:
        pytest.fail("18 concurrent sign-ins on 3 workers never met the cap of 1 hash")
    # Nothing was counted as a failed sign-in: the account is not throttled.
    assert login(w2, u.name, u.password).status_code == 200


# --------------------------------------------------------------- sign-out


def test_logout_revokes_the_session(w, admin_token, user):
    a = sign_in(w, user)
    b = sign_in(w, user)
    rid = new_request_id()
    r = call(w, "POST", "/auth/logout", a["access_token"], headers={"X-Request-Id": rid})
    assert r.status_code == 204, r.text
    cleared = set_cookies(r)
    assert all(cleared[c][1].get("max-age") == "0" for c in COOKIES), cleared
    assert_dead(w, a["access_token"])
    assert_problem(refresh(w, a["refresh_token"]), 401)
    assert_alive(w, b["access_token"], user)
    assert_audited(w, admin_token, rid, "auth.logout", actor=user, target_type="session",
                   target_id=a["session_id"])


def test_logout_with_cookies_needs_csrf(w, user):
    b = Browser(w)
    b.login(user)
    assert_problem(b.request("POST", "/auth/logout", csrf=False), 403)
    assert b.request("GET", "/me").status_code == 200
    access = b.jar["warren_access"]
    r = b.request("POST", "/auth/logout")
    assert r.status_code == 204, r.text
    assert_problem(me(w, headers={"Cookie": f"warren_access={access}"}), 401)


def test_logout_all_revokes_every_session(w, admin_token, user):
    sessions = [sign_in(w, user) for _ in range(3)]
    browser = Browser(w)
    browser.login(user)
    rid = new_request_id()
    r = call(w, "POST", "/auth/logout-all", sessions[1]["access_token"],
             headers={"X-Request-Id": rid})
    assert r.status_code == 204, r.text
    for s in sessions:
        assert_dead(w, s["access_token"])
        assert_problem(refresh(w, s["refresh_token"]), 401)
    assert_problem(browser.request("GET", "/me"), 401)
    assert_audited(w, admin_token, rid, "auth.logout_all", actor=user, target_type="user",
                   target_id=user.id)
    assert psql(w, f"SELECT count(*) FROM sessions WHERE user_id = '{user.id}'"
                   f" AND revoked_at IS NULL") == "0"
    # Signing in again works at once.
    s = sign_in(w, user)
    assert_alive(w, s["access_token"], user)


def test_session_list_and_revoke_one(w, user):
    a = sign_in(w, user)
    b = sign_in(w, user)
    r = call(w, "GET", "/me/sessions", a["access_token"])
    assert r.status_code == 200, r.text
    items = {s["id"]: s for s in r.json()["items"]}
    assert {a["session_id"], b["session_id"]} <= set(items)
    assert items[a["session_id"]]["current"] is True
    assert items[b["session_id"]]["current"] is False
    r = call(w, "DELETE", f"/me/sessions/{b['session_id']}", a["access_token"])
    assert r.status_code == 204, r.text
    assert_dead(w, b["access_token"])
    assert_alive(w, a["access_token"], user)


# ------------------------------------------------------------ access tokens


def test_access_token_claims(w, user):
    s1 = sign_in(w, user)
    s2 = sign_in(w, user)
    before = int(time.time())
    header, claims = jwt_decode(s1["access_token"])
    assert header["alg"] == "HS256", header
    assert header.get("kid") == jwt_keys(w)[0][0], header
    assert claims["iss"] == PUBLIC_URL
    assert isinstance(claims["aud"], str) and claims["aud"], claims
    assert claims["typ"] == "access"
    assert claims["sub"] == user.id and claims["sid"] == s1["session_id"]
    for k in ("exp", "nbf", "iat"):
        assert isinstance(claims[k], int), (k, claims)
    assert abs(claims["iat"] - before) <= 60
    assert claims["nbf"] <= claims["iat"] + 1
    assert claims["exp"] - claims["iat"] == ACCESS_TTL
    assert claims["exp"] - claims["iat"] <= 900
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert claims["jti"] != jwt_decode(s2["access_token"])[1]["jti"]


def test_access_token_ttl_is_capped_at_15_minutes(w):
    env = dict(w.env, WARREN_ACCESS_TOKEN_TTL="901")
    r = run_ctl("-c", w.conf_path, "check-config", env=env)
    assert r.returncode != 0 and "access_token_ttl" in r.stderr, r.stderr


def _variants(claims, kid, key, other_user_id):
    """(name, token) forgeries, each of which must be refused."""
    now = int(time.time())

    def signed(**changes):
        c = dict(claims, jti=b64url(str(time.time_ns())))
        c.update(changes)
        return jwt_sign({"alg": "HS256", "typ": "JWT", "kid": kid}, c, key)

    good = signed()
    h, p, sig = good.split(".")
    out = []
    tampered = b64url(json.dumps(dict(claims, sub=other_user_id)))
    out.append(("altered payload", f"{h}.{tampered}.{sig}"))
    out.append(("altered signature", f"{h}.{p}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"))
    out.append(("empty signature", f"{h}.{p}."))
    for alg in ("none", "None", "NONE", "nOnE"):
        nh = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}))
        out.append((f"alg {alg}", f"{nh}.{p}."))
        out.append((f"alg {alg} with signature", f"{nh}.{p}.{sig}"))
    hs512 = b64url(json.dumps({"alg": "HS512", "typ": "JWT", "kid": kid}))
    mac = hmac.new(key, f"{hs512}.{p}".encode(), hashlib.sha512).digest()
    out.append(("HS512 with the HS256 key", f"{hs512}.{p}.{b64url(mac)}"))
    rs = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}))
    out.append(("RS256 header", f"{rs}.{p}.{sig}"))
    out.append(("another key, same kid",
                jwt_sign({"alg": "HS256", "typ": "JWT", "kid": kid}, claims, b"k" * 32)))
    out.append(("unknown kid", jwt_sign({"alg": "HS256", "typ": "JWT", "kid": "nokey"},
                                        claims, key)))
    out.append(("no kid", jwt_sign({"alg": "HS256", "typ": "JWT"}, claims, key)))
    out.append(("wrong issuer", signed(iss="http://evil.example")))
    out.append(("wrong audience", signed(aud="someone-else")))
    out.append(("refresh type", signed(typ="refresh")))
    out.append(("no type", jwt_sign({"alg": "HS256", "typ": "JWT", "kid": kid},
                                    {k: v for k, v in claims.items() if k != "typ"}, key)))
    out.append(("expired", signed(iat=now - 1000, nbf=now - 1000, exp=now - 100)))
    out.append(("not yet valid", signed(iat=now, nbf=now + 600, exp=now + 900)))
    out.append(("other user, this session", signed(sub=other_user_id)))
    out.append(("over 4 KiB", signed(pad="x" * 4200)))
    out.append(("exp as string", signed(exp=str(now + 300))))
    return good, out


def test_forged_access_tokens_are_refused(w, admin, user):
    s = sign_in(w, user)
    _, claims = jwt_decode(s["access_token"])
    kid, key = jwt_keys(w)[0]
    good, variants = _variants(claims, kid, key, admin.id)
    # Our own signing is right: without a change the token is accepted,
    # so every refusal below is about the one thing changed.
    assert_alive(w, good, user)
    for name, token in variants:
        r = me(w, token)
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text[:200]}"
    # A refresh token is not an access token.
    assert_dead(w, s["refresh_token"])
    # Bearer is the only scheme.
    r = me(w, headers={"Authorization": f"Basic {b64url(b'a:b')}"})
    assert_problem(r, 401)


def test_token_issued_before_valid_after_is_refused(w, user):
    s = sign_in(w, user)
    _, claims = jwt_decode(s["access_token"])
    kid, key = jwt_keys(w)[0]
    now = int(time.time())
    psql(w, f"UPDATE users SET valid_after = now() - interval '60 seconds' WHERE id = '{user.id}'")
    fresh = jwt_sign({"alg": "HS256", "typ": "JWT", "kid": kid},
                     dict(claims, iat=now, nbf=now, exp=now + 300, jti="fresh-one-123456"), key)
    stale = jwt_sign({"alg": "HS256", "typ": "JWT", "kid": kid},
                     dict(claims, iat=now - 300, nbf=now - 300, exp=now + 300,
                          jti="stale-one-123456"), key)
    assert_alive(w, fresh, user)
    assert_dead(w, stale)


# ----------------------------------------------------------- key rotation


def test_key_rotation_keeps_sessions(w, user):
    old = sign_in(w, user)
    old_kid = jwt_decode(old["access_token"])[0]["kid"]
    r = w.ctl("keys", "rotate")
    assert r.returncode == 0, r.stderr
    keys = jwt_keys(w)
    assert len(keys) >= 2 and keys[1][0] == old_kid and keys[0][0] != old_kid, keys
    reload_and_wait(w)
    # Tokens signed with the previous key still verify...
    assert_alive(w, old["access_token"], user)
    # ...new ones are signed with the new key...
    new = sign_in(w, user)
    assert jwt_decode(new["access_token"])[0]["kid"] == keys[0][0]
    assert_alive(w, new["access_token"], user)
    # ...and so are tokens handed out by a refresh of an old session.
    r = refresh(w, old["refresh_token"])
    assert r.status_code == 200, r.text
    assert jwt_decode(r.json()["access_token"])[0]["kid"] == keys[0][0]
    assert_alive(w, r.json()["access_token"], user)
