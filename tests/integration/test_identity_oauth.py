"""Issue 3, sign-in with GitHub (OAuth 2.0), against the stand-in for
GitHub's endpoints of oauth_standin.py on 127.0.0.1 (OpenID Connect
providers are tested against Glewlwyd: test_identity_oidc.py).

The flow is followed by hand with requests.Session and allow_redirects off:
start (Warren) -> authorize (stand-in) -> callback (Warren) -> public_url.
The public URL is http://warren.test, which nobody resolves: the tests send
the callback's path and query to nginx themselves."""

import uuid

import pytest
import requests

from conftest import assert_problem
from identity_util import (
    PUBLIC_URL, audit, call, close_stack, ctl_user, login, new_request_id, open_stack,
    psql, sha256_bytea, sign_in, unique,
)
from oauth_flow import Flow, identity_user, refused, signed_in, user_count
from oauth_standin import StandIn, s256


@pytest.fixture(scope="module")
def standin():
    with StandIn() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_standin(standin):
    standin.reset()
    yield


def oauth_stack(pg, tmp_path_factory, standin, name, **conf):
    return open_stack(pg, tmp_path_factory.mktemp(name), oauth_timeout=3000, **standin.conf(),
                      **conf)


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory, standin):
    stack = oauth_stack(pg, tmp_path_factory, standin, "oauth-open", signup_policy="open")
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def admin_token(w):
    return sign_in(w, ctl_user(w, "oadmin", role="admin"))["access_token"]


# ------------------------------------------------------------------ GitHub


def test_providers_are_listed(w):
    r = call(w, "GET", "/auth/providers")
    assert r.status_code == 200, r.text
    names = {p["name"]: p["start_url"] for p in r.json()["providers"]}
    assert names == {"github": "/api/v1/auth/oauth/github/start"}
    assert_problem(call(w, "GET", "/auth/oauth/google/start"), 404)
    assert_problem(call(w, "GET", "/auth/oauth/gitlab/start"), 404)


def test_github_sign_up_links_the_numeric_id(w, standin, admin_token):
    standin.user("github", "4242", login="Octo-Cat", email="octo@example.com",
                 name="Octo Cat")
    f = Flow(w, "github")
    f.start(return_to="/workspaces?tab=mine")
    # What the browser is sent to the provider with.
    assert f.authorize_url.startswith(standin.url("/github/authorize?"))
    q = f.query
    assert q["response_type"] == "code" and q["client_id"] == "gh-client-id"
    assert q["redirect_uri"] == f"{PUBLIC_URL}/api/v1/auth/oauth/github/callback"
    assert q["code_challenge_method"] == "S256"
    assert len(q["code_challenge"]) == 43 and len(q["state"]) >= 32
    assert "nonce" not in q
    # PKCE: the challenge is S256 of the verifier kept in the database.
    verifier = psql(w, f"SELECT verifier FROM oauth_flows WHERE state_hash = "
                       f"'{sha256_bytea(f.state)}'")
    assert 43 <= len(verifier) <= 128 and s256(verifier) == q["code_challenge"]
    f.authorize()
    r = f.callback()
    me = signed_in(w, r, "/workspaces?tab=mine")
    assert me["username"] == "octo-cat" and me["email"] == "octo@example.com", me
    assert me["display_name"] == "Octo Cat" and me["role"] == "member"
    assert identity_user(w, "github", "4242") == me["id"]
    # The code was exchanged as the provider requires.
    (provider, form, answer), = standin.token_requests
    assert "access_token" in answer, answer
    assert form["redirect_uri"] == q["redirect_uri"]
    assert form["client_secret"] == "gh-client-secret"
    assert s256(form["code_verifier"]) == q["code_challenge"]
    # The flow is spent and the sign-up is audited.
    assert psql(w, f"SELECT count(*) FROM oauth_flows WHERE state_hash = "
                   f"'{sha256_bytea(f.state)}'") == "0"
    actions = {e["action"]: e for e in audit(w, admin_token, actor=me["id"])["items"]}
    assert actions["user.signup"]["result"] == "success"
    assert actions["auth.oauth_login"]["details"] == {"provider": "github"}


def test_github_sign_in_again_after_an_email_change(w, standin):
    standin.user("github", "4343", login="mover", email="mover@old.example")
    first = signed_in(w, Flow(w, "github").run())
    users = user_count(w)
    standin.user("github", "4343", login="mover-renamed", email="mover@new.example")
    again = signed_in(w, Flow(w, "github").run())
    assert again["id"] == first["id"]
    assert user_count(w) == users
    assert psql(w, "SELECT count(*) FROM identities WHERE subject = '4343'") == "1"


def test_same_email_does_not_take_over_an_account(w, standin):
    victim = ctl_user(w, unique("victim"), email="victim@example.com")
    standin.user("github", "5555", login="intruder", email="victim@example.com")
    me = signed_in(w, Flow(w, "github").run())
    assert me["id"] != victim.id
    assert me["email"] is None, me
    assert psql(w, f"SELECT count(*) FROM identities WHERE user_id = '{victim.id}'") == "0"
    assert login(w, victim.name, victim.password).status_code == 200


def test_unverified_email_cannot_sign_up(w, standin, admin_token):
    users = user_count(w)
    standin.user("github", "6666", login="unverified", email="unv@example.com", verified=False)
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(), "not verified")
    standin.user("github", "6667", login="noemail", email=None)
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(), "not verified")
    assert user_count(w) == users
    assert identity_user(w, "github", "6666") == ""


def test_disabled_account_cannot_sign_in(w, standin, admin_token):
    standin.user("github", "7777", login="soon-disabled", email="sd@example.com")
    me = signed_in(w, Flow(w, "github").run())
    r = call(w, "PATCH", f"/users/{me['id']}", admin_token, json={"disabled": True})
    assert r.status_code == 200, r.text
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(), "disabled")


# ------------------------------------------------------- flow protections


def test_denied_consent_is_refused(w, standin, admin_token):
    standin.deny = True
    f = Flow(w, "github")
    f.start()
    f.authorize()
    assert f.callback_query.get("error") == "access_denied"
    refused(w, admin_token, f, f.callback(), "denied")
    assert standin.token_requests == []


def test_wrong_state_is_refused(w, standin, admin_token):
    standin.user("github", "8001", login="stately", email="stately@example.com")
    f = Flow(w, "github")
    f.start()
    f.authorize()
    refused(w, admin_token, f, f.callback(state="A" * 43), "state")
    refused(w, admin_token, f, f.callback(state=""), "state")
    assert standin.token_requests == []
    # A refusal clears the binding cookie, but the genuine state was not
    # spent by the wrong ones: with the cookie, it still signs in.
    assert psql(w, f"SELECT count(*) FROM oauth_flows WHERE state_hash = "
                   f"'{sha256_bytea(f.state)}'") == "1"
    f.keep_binding()
    signed_in(w, f.callback())


def test_replayed_state_is_refused(w, standin, admin_token):
    standin.user("github", "8002", login="replayer", email="replayer@example.com")
    f = Flow(w, "github")
    f.run()
    r = f.callback(url=f.callback_url)
    refused(w, admin_token, f, r, "state")
    assert len(standin.token_requests) == 1


def test_state_must_come_back_to_the_browser_that_started(w, standin, admin_token):
    standin.user("github", "8003", login="bound", email="bound@example.com")
    # No binding cookie at all (another browser, or a forged link).
    f = Flow(w, "github")
    f.start()
    f.authorize()
    refused(w, admin_token, f, f.callback(session=requests.Session()), "this browser")
    # The state is spent by that attempt: the real browser must start over.
    refused(w, admin_token, f, f.callback(), "state")
    # An attacker's own cookie does not fit a victim's state (login CSRF).
    victim, attacker = Flow(w, "github"), Flow(w, "github")
    victim.start()
    victim.authorize()
    attacker.start()
    refused(w, admin_token, victim, victim.callback(session=attacker.session), "this browser")
    assert standin.token_requests == []


def test_replayed_code_is_refused(w, standin, admin_token):
    standin.user("github", "8004", login="coder", email="coder@example.com")
    first = Flow(w, "github")
    signed_in(w, first.run())
    code = first.callback_query["code"]
    second = Flow(w, "github")
    second.start()
    second.authorize()
    refused(w, admin_token, second, second.callback(code=code), "already used")
    assert [f["code"] for _, f, _ in standin.token_requests].count(code) == 1
    # Had Warren forgotten the code, the provider refuses it as well, and
    # Warren takes that answer (GitHub's errors come with status 200).
    psql(w, "DELETE FROM oauth_codes_used")
    third = Flow(w, "github")
    third.start()
    third.authorize()
    refused(w, admin_token, third, third.callback(code=code), "refused the authorization code")
    assert standin.token_requests[-1][2]["error"] == "invalid_grant"


def test_wrong_pkce_verifier_is_refused(w, standin, admin_token):
    standin.user("github", "9001", login="pkce", email="pkce@example.com")
    f = Flow(w, "github")
    f.start()
    f.authorize()
    psql(w, "UPDATE oauth_flows SET verifier = 'tampered-verifier-tampered-verifier-tampered'"
            f" WHERE state_hash = '{sha256_bytea(f.state)}'")
    refused(w, admin_token, f, f.callback(), "refused the authorization code")
    _, form, answer = standin.token_requests[-1]
    assert form["code_verifier"].startswith("tampered")
    assert answer == {"error": "invalid_grant", "error_description": "PKCE verification failed"}


def test_redirect_uri_comes_from_the_configuration(w, standin):
    standin.user("github", "9002", login="hosted", email="hosted@example.com")
    f = Flow(w, "github")
    f.start(headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example",
                     "X-Forwarded-Proto": "https"})
    assert f.query["redirect_uri"] == f"{PUBLIC_URL}/api/v1/auth/oauth/github/callback"
    f.keep_binding()  # requests filed the cookie under the Host header's name
    f.authorize()
    r = f.callback()
    signed_in(w, r)
    assert standin.token_requests[-1][1]["redirect_uri"] == \
        f"{PUBLIC_URL}/api/v1/auth/oauth/github/callback"


@pytest.mark.parametrize("return_to", [
    "//evil.example", "//evil.example/path", "/\\evil.example", "https://evil.example/",
    "evil.example", "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1", "/a\\b", "",
])
def test_return_to_must_be_a_local_path(w, return_to):
    flows = psql(w, "SELECT count(*) FROM oauth_flows")
    r = call(w, "GET", "/auth/oauth/github/start", params={"return_to": return_to})
    assert_problem(r, 400)
    assert "Location" not in r.headers and not r.raw.headers.getlist("Set-Cookie")
    assert psql(w, "SELECT count(*) FROM oauth_flows") == flows


def test_callback_needs_state_and_code(w):
    for params in ({}, {"code": "c"}, {"state": "s"}):
        assert_problem(call(w, "GET", "/auth/oauth/github/callback", params=params), 400)


# -------------------------------------------------------- sign-up policies


@pytest.fixture(scope="module")
def domains_w(pg, tmp_path_factory, standin):
    stack = oauth_stack(pg, tmp_path_factory, standin, "oauth-domains",
                        signup_policy="domains",
                        signup_domains="allowed.example, second.example")
    yield stack
    close_stack(stack)


def test_signup_domains(domains_w, standin):
    w = domains_w
    admin_token = sign_in(w, ctl_user(w, "dadmin", role="admin"))["access_token"]
    for i, email in enumerate(("ann@allowed.example", "Bob@SECOND.example")):
        standin.user("github", str(100 + i), login=f"ok{i}", email=email)
        signed_in(w, Flow(w, "github").run())
    for i, email in enumerate(("eve@evil.example", "eve@sub.allowed.example",
                               "eve@allowed.example.evil.example", "eve@notallowed.example")):
        standin.user("github", str(200 + i), login=f"no{i}", email=email)
        f = Flow(w, "github")
        refused(w, admin_token, f, f.run(), "domain")
    # The domain must still be verified by the provider.
    standin.user("github", "300", login="unv", email="unv@allowed.example", verified=False)
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(), "not verified")


@pytest.fixture(scope="module")
def invite_w(pg, tmp_path_factory, standin):
    stack = oauth_stack(pg, tmp_path_factory, standin, "oauth-invite", signup_policy="invite")
    yield stack
    close_stack(stack)


def test_signup_by_invitation_only(invite_w, standin):
    w = invite_w
    admin_token = sign_in(w, ctl_user(w, "iadmin", role="admin"))["access_token"]
    standin.user("github", "400", login="uninvited", email="uninvited@example.com")
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(), "invitation")

    rid = new_request_id()
    r = call(w, "POST", "/invitations", admin_token, json={"role": "template-admin"},
             headers={"X-Request-Id": rid})
    assert r.status_code == 201, r.text
    inv = r.json()
    code = inv["code"]
    assert len(code) >= 24 and inv["role"] == "template-admin"
    row = psql(w, f"SELECT encode(code_hash, 'hex'), row_to_json(i)::text FROM invitations i "
                  f"WHERE id = '{inv['id']}'")
    assert row.split("|")[0] == sha256_bytea(code)[2:] and code not in row
    assert [e for e in audit(w, admin_token, action="invitation.create")["items"]
            if e["request_id"] == rid and e["target_id"] == inv["id"]]

    standin.user("github", "401", login="invited", email="invited@example.com")
    me = signed_in(w, Flow(w, "github").run(invite=code))
    assert me["role"] == "template-admin"
    assert psql(w, f"SELECT used_by FROM invitations WHERE id = '{inv['id']}'") == me["id"]
    # Single use.
    standin.user("github", "402", login="second", email="second@example.com")
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(invite=code), "invitation is not valid")
    # A made-up code is no better.
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(invite="made-up-code"), "invitation is not valid")
    # Once signed up, no invitation is needed to sign in.
    standin.user("github", "401", login="invited", email="invited@example.com")
    assert signed_in(w, Flow(w, "github").run())["id"] == me["id"]

    # An invitation for an address is for that address only.
    r = call(w, "POST", "/invitations", admin_token, json={"email": "Bound@Example.com"})
    assert r.status_code == 201, r.text
    bound = r.json()["code"]
    standin.user("github", "403", login="other", email="other@example.com")
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(invite=bound), "invitation is not valid")
    standin.user("github", "404", login="boundee", email="bound@example.com")
    me = signed_in(w, Flow(w, "github").run(invite=bound))
    assert me["role"] == "member" and me["email"] == "bound@example.com"


def test_invitations_listed_and_revoked(invite_w, standin):
    """Admins see every invitation with its status, never its code, and
    revoke one until it is used."""
    w = invite_w
    admin_token = sign_in(w, ctl_user(w, "ladmin", role="admin"))["access_token"]
    made = {}
    for name in ("keep", "revoke", "use"):
        r = call(w, "POST", "/invitations", admin_token, json={"email": f"{name}@example.com"})
        assert r.status_code == 201, r.text
        made[name] = r.json()
    psql(w, "INSERT INTO invitations (code_hash, role, expires_at) VALUES "
            "('\\x00', 'member', now() - interval '1 hour')")
    standin.user("github", "410", login="user-of-use", email="use@example.com")
    me = signed_in(w, Flow(w, "github").run(invite=made["use"]["code"]))

    assert call(w, "DELETE", f"/invitations/{made['revoke']['id']}",
                admin_token).status_code == 204
    # Twice is the same as once; unknown ids are not found; a used one stays.
    assert call(w, "DELETE", f"/invitations/{made['revoke']['id']}",
                admin_token).status_code == 204
    assert_problem(call(w, "DELETE", f"/invitations/{uuid.uuid4()}", admin_token), 404)
    assert_problem(call(w, "DELETE", "/invitations/not-an-id", admin_token), 404)
    assert_problem(call(w, "DELETE", f"/invitations/{made['use']['id']}", admin_token), 409)
    assert len([e for e in audit(w, admin_token, action="invitation.revoke")["items"]
                if e["target_id"] == made["revoke"]["id"]]) == 2

    r = call(w, "GET", "/invitations", admin_token)
    assert r.status_code == 200, r.text
    items = {i["id"]: i for i in r.json()["items"]}
    assert items[made["keep"]["id"]]["status"] == "pending"
    assert items[made["revoke"]["id"]]["status"] == "revoked"
    assert items[made["revoke"]["id"]]["revoked_at"]
    used = items[made["use"]["id"]]
    assert used["status"] == "used" and used["used_by"] == me["id"]
    assert used["used_by_name"] == me["username"] and used["created_by_name"] == "ladmin"
    assert [i for i in items.values() if i["status"] == "expired"]
    for i in items.values():
        assert "code" not in i and "code_hash" not in i, i
    assert made["keep"]["code"] not in r.text
    # Filter by status; keyset pages, newest first.
    r = call(w, "GET", "/invitations?status=pending", admin_token)
    assert {i["status"] for i in r.json()["items"]} == {"pending"}
    seen, cursor = [], None
    while True:
        q = "/invitations?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = call(w, "GET", q, admin_token).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen == [i["id"] for i in call(w, "GET", "/invitations?limit=200",
                                          admin_token).json()["items"]]
    assert len(seen) == len(set(seen)) >= 4
    for bad in ("status=open", "limit=0", "limit=201", "cursor=x"):
        assert_problem(call(w, "GET", f"/invitations?{bad}", admin_token), 400)

    # A revoked invitation signs no one up.
    standin.user("github", "411", login="user-of-revoked", email="revoke@example.com")
    f = Flow(w, "github")
    refused(w, admin_token, f, f.run(invite=made["revoke"]["code"]), "invitation is not valid")
    standin.user("github", "412", login="user-of-keep", email="keep@example.com")
    assert signed_in(w, Flow(w, "github").run(invite=made["keep"]["code"]))["email"] == \
        "keep@example.com"
