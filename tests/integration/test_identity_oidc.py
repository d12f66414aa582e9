"""Issue 15, points 10 to 13: sign-in with OpenID Connect providers, against
a real one, Glewlwyd (glewlwyd.py), configured by issuer URL in provider
files (oidc_provider_dir), its endpoints and keys from discovery.

Glewlwyd has two OpenID Connect instances, one signing with RS256 and one
with ES256, and clients that authenticate with client_secret_basic or
client_secret_post; Warren has a provider file for each pairing and a few
more (e-mail policies, a wrong secret).  Everything between Warren (and the
test's browser) and Glewlwyd goes through oidc_relay.py, which records it
and, when a test says so, hands Warren a tampered ID token: re-signed with
Glewlwyd's own key (only the claims are wrong), signed with another key,
or not signed at all.  The flow is followed with requests (oauth_flow.py);
tests/e2e/test_oidc_signin.py signs in through Glewlwyd's pages in
Chromium.
"""

import base64
import hashlib
import hmac
import json
import subprocess
import time
import urllib.parse

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from conftest import CTL_BIN, TOP, assert_problem
from glewlwyd import Glewlwyd
from identity_util import (
    PUBLIC_URL, audit, call, close_stack, ctl_user, open_stack, psql, sign_in, unique,
)
from oauth_flow import SESSION_COOKIES, Flow, identity_user, refused, signed_in, user_count
from oidc_relay import Jwt, Relay, new_key, public_jwk

PAIRS = [(kind, method) for kind in ("rs256", "es256")
         for method in ("client_secret_basic", "client_secret_post")]
SHORT = {"client_secret_basic": "basic", "client_secret_post": "post"}


def pname(kind, method):
    return f"{kind[:2]}-{SHORT[method]}"


def provider_file(gl, kind, method, **over):
    client_id, secret = gl.client(kind, method)
    keys = {"issuer": gl.issuer(kind), "client_id": client_id, "client_secret": secret,
            "display_name": f"Glewlwyd {kind.upper()} ({SHORT[method]})",
            "token_auth_method": method, "allow_http": "yes"}
    keys.update(over)
    return "".join(f"{k} = {v}\n" for k, v in keys.items())


@pytest.fixture(scope="module")
def relay():
    r = Relay().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def gl(relay, tmp_path_factory):
    g = Glewlwyd(tmp_path_factory.mktemp("glewlwyd"), external_url=relay.url)
    relay.upstream = ("127.0.0.1", g.port)
    g.start()
    yield g
    g.stop()


# Provider name -> the file's keys beyond provider_file's, per pairing.
EXTRA = {
    "trusting": ("rs256", "client_secret_basic", {"without_email_verified": "trust"}),
    "by-subject": ("rs256", "client_secret_basic", {"without_email_verified": "subject"}),
    "auto": ("es256", "client_secret_basic", {"token_auth_method": "auto"}),
    "wrong-secret": ("rs256", "client_secret_post", {"client_secret": "not-the-secret"}),
}


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory, gl):
    d = tmp_path_factory.mktemp("oidc-providers")
    names = []
    for kind, method in PAIRS:
        (d / f"{pname(kind, method)}.conf").write_text(provider_file(gl, kind, method))
        names.append(pname(kind, method))
    for name, (kind, method, over) in EXTRA.items():
        (d / f"{name}.conf").write_text(provider_file(gl, kind, method, **over))
        names.append(name)
    for name in names:
        gl.add_redirect_uri(f"{PUBLIC_URL}/api/v1/auth/oauth/{name}/callback")
    # One worker: the key-set cache the tests count fetches of is its own.
    stack = open_stack(pg, tmp_path_factory.mktemp("oidc"), workers=1, oauth_timeout=5000,
                       signup_policy="open", oidc_provider_dir=str(d))
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def admin_token(w):
    return sign_in(w, ctl_user(w, "oidcadmin", role="admin"))["access_token"]


@pytest.fixture(autouse=True)
def fresh_relay(relay):
    relay.reset()
    yield
    relay.reset()


class GlewlwydFlow(Flow):
    """Flow, with the user signed in at Glewlwyd in a session of its own
    (the provider's cookies are not Warren's)."""

    def __init__(self, w, provider, gl, user, session=None):
        super().__init__(w, provider, session)
        self.gl = gl
        self.provider_session = requests.Session()
        gl.login(self.provider_session, *user)

    def authorize(self):
        self.callback_url = self.gl.authorize(self.provider_session, self.authorize_url)
        assert self.callback_url.startswith(self.callback_prefix), self.callback_url
        self.callback_query = dict(urllib.parse.parse_qsl(
            self.callback_url[len(self.callback_prefix):]))
        return self.callback_url


def new_user(gl, prefix, **kw):
    name = unique(prefix)
    password = "pw-" + name
    gl.add_user(name, password, kw.pop("email", f"{name}@example.org"),
                kw.pop("name", name.title()), **kw)
    return name, password


def token_requests(relay):
    return [r for r in relay.paths("/token") if r[0] == "POST"]


def resign(gl, kind, **claims):
    """A token hook: the ID token with claims changed (None removes one),
    signed again with the provider's own key."""
    def hook(answer):
        t = Jwt(answer["id_token"])
        for k, v in claims.items():
            if v is None:
                t.claims.pop(k, None)
            else:
                t.claims[k] = v(t.claims) if callable(v) else v
        answer["id_token"] = t.sign(gl.private_key_pem(kind))
        return answer
    return hook


# ------------------------------------------------------------- providers


def test_providers_are_listed_by_file(w):
    r = call(w, "GET", "/auth/providers")
    assert r.status_code == 200, r.text
    got = {p["name"]: (p["display_name"], p["start_url"]) for p in r.json()["providers"]}
    assert got["rs-basic"] == ("Glewlwyd RS256 (basic)", "/api/v1/auth/oauth/rs-basic/start")
    assert set(got) == {pname(*p) for p in PAIRS} | set(EXTRA)
    assert_problem(call(w, "GET", "/auth/oauth/google/start"), 404)


@pytest.mark.parametrize("kind, method", PAIRS)
def test_first_sign_in_creates_the_user_and_the_second_finds_them(w, gl, relay, admin_token,
                                                                   kind, method):
    name = pname(kind, method)
    user = new_user(gl, "alice-")
    f = GlewlwydFlow(w, name, gl, user)
    f.start()
    q = f.query
    assert f.authorize_url.startswith(gl.issuer(kind) + "/auth?"), f.authorize_url
    assert q["client_id"] == gl.client(kind, method)[0]
    assert q["redirect_uri"] == f"{PUBLIC_URL}/api/v1/auth/oauth/{name}/callback"
    assert set(q["scope"].split()) >= {"openid", "email", "profile"}
    assert q["code_challenge_method"] == "S256" and len(q["nonce"]) >= 16
    f.authorize()
    users = user_count(w)
    me = signed_in(w, f.callback())
    assert user_count(w) == users + 1
    assert me["email"] == f"{user[0]}@example.org", me
    assert me["display_name"] == user[0].title()
    # The code was exchanged the way the provider file says, nothing else.
    (_, _, headers, body), = token_requests(relay)
    form = dict(x.split("=", 1) for x in body.decode().split("&"))
    if method == "client_secret_basic":
        assert headers.get("Authorization", "").startswith("Basic ")
        assert "client_secret" not in form
    else:
        assert "Authorization" not in headers
        assert form["client_secret"] and form["client_id"] == q["client_id"]
    # The ID token was signed as the instance signs.
    subject = psql(w, f"SELECT subject FROM identities WHERE user_id = '{me['id']}'")
    assert subject and identity_user(w, name, subject) == me["id"]
    # Second sign-in: the same account, no new user.
    again = signed_in(w, GlewlwydFlow(w, name, gl, user).run())
    assert again["id"] == me["id"] and user_count(w) == users + 1
    entries = audit(w, admin_token, actor=me["id"], action="auth.oauth_login")["items"]
    assert len(entries) == 2 and all(e["details"]["provider"] == name for e in entries), entries


def test_id_tokens_are_signed_with_each_algorithm(w, gl, relay):
    """What the instances send really is RS256 and ES256 (so the tests
    above verified both)."""
    seen = {}
    for kind, method in PAIRS[::2]:
        def spy(answer, kind=kind):
            seen[kind] = Jwt(answer["id_token"]).header
            return answer
        relay.token_hook = spy
        signed_in(w, GlewlwydFlow(w, pname(kind, method), gl, new_user(gl, "alg-")).run())
    assert seen["rs256"]["alg"] == "RS256" and seen["rs256"]["kid"] == gl.kid("rs256")
    assert seen["es256"]["alg"] == "ES256" and seen["es256"]["kid"] == gl.kid("es256")


# -------------------------------------------------------- forged tokens


def refused_flow(w, gl, relay, admin_token, provider, hook, reason, user=None):
    user = user or new_user(gl, "mallory-")
    users = user_count(w)
    relay.token_hook = hook
    f = GlewlwydFlow(w, provider, gl, user)
    refused(w, admin_token, f, f.run(), reason)
    relay.token_hook = None
    assert user_count(w) == users
    return f


@pytest.mark.parametrize("kind", ["rs256", "es256"])
def test_a_token_signed_by_another_key_is_refused(w, gl, relay, admin_token, kind):
    other = new_key(kind)

    def forge(answer):
        t = Jwt(answer["id_token"])   # same kid, claims as Glewlwyd made them
        answer["id_token"] = t.sign(other)
        return answer
    refused_flow(w, gl, relay, admin_token, pname(kind, "client_secret_basic"), forge,
                 "signature does not verify")


@pytest.mark.parametrize("kind", ["rs256", "es256"])
def test_an_unsigned_token_is_refused(w, gl, relay, admin_token, kind):
    def none(answer):
        t = Jwt(answer["id_token"])
        t.claims["sub"] = "admin"
        t.claims["email"] = "admin@example.org"
        answer["id_token"] = t.unsigned()
        return answer
    refused_flow(w, gl, relay, admin_token, pname(kind, "client_secret_post"), none,
                 "not signed with RS256 or ES256")


def test_an_hmac_token_keyed_with_the_public_key_is_refused(w, gl, relay, admin_token):
    """alg confusion: HS256 with the provider's public key as the secret."""
    pub = serialization.load_pem_private_key(gl.private_key_pem("rs256"), None).public_key()
    secret = pub.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo)

    def hs(answer):
        t = Jwt(answer["id_token"])
        t.header["alg"] = "HS256"
        data = t._input()
        sig = hmac.new(secret, data, hashlib.sha256).digest()
        answer["id_token"] = data.decode() + "." + base64.urlsafe_b64encode(sig).rstrip(
            b"=").decode()
        return answer
    refused_flow(w, gl, relay, admin_token, "rs-basic", hs, "not signed with RS256 or ES256")


@pytest.mark.parametrize("claims, reason", [
    ({"nonce": "a-nonce-of-another-sign-in"}, "another sign-in"),
    ({"nonce": None}, "another sign-in"),
    ({"aud": "another-client"}, "another audience"),
    ({"aud": ["another-client", "a-third"]}, "another audience"),
    ({"aud": lambda c: [c["aud"], "another-client"], "azp": "another-client"},
     "another audience"),
    ({"iss": "https://idp.evil.example/api/rs256"}, "another issuer"),
    ({"exp": lambda c: int(time.time()) - 120}, "expired"),
    ({"iat": lambda c: int(time.time()) + 3600}, "issued at another time"),
    ({"sub": None}, "without subject"),
])
@pytest.mark.parametrize("kind", ["rs256", "es256"])
def test_claims_are_checked(w, gl, relay, admin_token, kind, claims, reason):
    refused_flow(w, gl, relay, admin_token, pname(kind, "client_secret_basic"),
                 resign(gl, kind, **claims), reason)


def test_a_known_account_with_a_bad_token_is_refused(w, gl, relay, admin_token):
    """The checks hold for accounts that exist, not only for sign-ups."""
    user = new_user(gl, "known-")
    me = signed_in(w, GlewlwydFlow(w, "rs-post", gl, user).run())
    for claims, reason in (({"nonce": "n"}, "another sign-in"),
                           ({"aud": "x"}, "another audience")):
        refused_flow(w, gl, relay, admin_token, "rs-post", resign(gl, "rs256", **claims),
                     reason, user=user)
    assert signed_in(w, GlewlwydFlow(w, "rs-post", gl, user).run())["id"] == me["id"]


def test_several_audiences_with_azp_are_accepted(w, gl, relay):
    user = new_user(gl, "multi-")
    client_id = gl.client("es256", "client_secret_basic")[0]
    relay.token_hook = resign(gl, "es256", aud=[client_id, "another-client"], azp=client_id)
    me = signed_in(w, GlewlwydFlow(w, "es-basic", gl, user).run())
    assert me["email"] == f"{user[0]}@example.org"


# --------------------------------------------------------------- keys


def test_keys_are_cached_and_fetched_again_for_an_unknown_kid(w, gl, relay):
    """A provider rolls its keys: a token names a kid Warren has not seen,
    and Warren fetches the key set once more, then keeps it."""
    signed_in(w, GlewlwydFlow(w, "es-post", gl, new_user(gl, "roll-")).run())
    relay.reset()
    signed_in(w, GlewlwydFlow(w, "es-post", gl, new_user(gl, "roll-")).run())
    assert relay.paths("/jwks") == [], "the key set is cached"
    rolled, kid = new_key("es256"), unique("rolled-")
    relay.jwks_hook = lambda keys: keys + [public_jwk(rolled, kid)]

    def sign_rolled(answer):
        t = Jwt(answer["id_token"])
        t.header["kid"] = kid
        answer["id_token"] = t.sign(rolled)
        return answer
    relay.token_hook = sign_rolled
    signed_in(w, GlewlwydFlow(w, "es-post", gl, new_user(gl, "roll-")).run())
    assert len(relay.paths("/jwks")) == 1
    signed_in(w, GlewlwydFlow(w, "es-post", gl, new_user(gl, "roll-")).run())
    assert len(relay.paths("/jwks")) == 1, "the new key set is cached"


def test_a_kid_the_provider_does_not_publish_is_refused(w, gl, relay, admin_token):
    stray = new_key("rs256")

    def sign_stray(answer):
        t = Jwt(answer["id_token"])
        t.header["kid"] = "nobody-publishes-this"
        answer["id_token"] = t.sign(stray)
        return answer
    refused_flow(w, gl, relay, admin_token, "rs-post", sign_stray,
                 "a key the provider does not publish")
    # A flood of such tokens does not make Warren fetch the set each time.
    n = len(relay.paths("/jwks"))
    assert n <= 1
    refused_flow(w, gl, relay, admin_token, "rs-post", sign_stray,
                 "a key the provider does not publish")
    assert len(relay.paths("/jwks")) == n


# ------------------------------------------------- what providers send


def test_userinfo_completes_an_id_token_without_email(w, gl, relay):
    user = new_user(gl, "terse-")
    relay.token_hook = resign(gl, "rs256", email=None, name=None, email_verified=None)
    me = signed_in(w, GlewlwydFlow(w, "rs-basic", gl, user).run())
    assert me["email"] == f"{user[0]}@example.org" and me["display_name"] == user[0].title()
    assert any(r[0] == "GET" for r in relay.paths("/userinfo"))


def test_without_email_verified_the_default_policy_refuses(w, gl, relay, admin_token):
    user = new_user(gl, "unsure-", email_verified=None)
    refused_flow(w, gl, relay, admin_token, "rs-basic", None, "not verified", user=user)


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("tamper, code", [
    (None, "email-unverified"),
    ("aud", "failed"),
])
def test_a_browser_is_sent_back_to_the_sign_in_page_with_a_code(w, gl, relay, tamper, code):
    """A browser's navigation (Accept: text/html) is not left on a JSON
    page: it goes to the sign-in page, told why by a code from a fixed
    list, and nothing is created."""
    user = new_user(gl, "browser-", email_verified=None if tamper is None else True)
    if tamper:
        relay.token_hook = resign(gl, "rs256", aud="someone-else")
    users = user_count(w)
    f = GlewlwydFlow(w, "rs-basic", gl, user)
    f.start()
    f.authorize()
    f.session.headers["Accept"] = BROWSER_ACCEPT
    r = f.callback()
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == f"{PUBLIC_URL}/?signin_error={code}&provider=rs-basic"
    assert user_count(w) == users
    assert not any(c in r.cookies for c in SESSION_COOKIES)
    # A script (no text/html) still gets the problem.
    f2 = GlewlwydFlow(w, "rs-basic", gl, user)
    r2 = f2.run()
    assert_problem(r2, 403)
    assert r2.json()["type"] == "/problems/signin-failed"


def test_without_email_verified_a_trusting_provider_signs_up(w, gl):
    user = new_user(gl, "trusted-", email_verified=None)
    me = signed_in(w, GlewlwydFlow(w, "trusting", gl, user).run())
    assert me["email"] == f"{user[0]}@example.org"


def test_by_subject_links_the_account_without_email(w, gl):
    victim = ctl_user(w, unique("victim"), email="victim-oidc@example.org")
    user = new_user(gl, "subj-", email="victim-oidc@example.org", email_verified=None)
    me = signed_in(w, GlewlwydFlow(w, "by-subject", gl, user).run())
    assert me["id"] != victim.id and me["email"] is None, me
    again = signed_in(w, GlewlwydFlow(w, "by-subject", gl, user).run())
    assert again["id"] == me["id"]


def test_a_verified_email_of_another_account_does_not_take_it_over(w, gl):
    victim = ctl_user(w, unique("victim"), email="taken-oidc@example.org")
    user = new_user(gl, "taker-", email="Taken-OIDC@example.org")
    me = signed_in(w, GlewlwydFlow(w, "rs-basic", gl, user).run())
    assert me["id"] != victim.id
    assert psql(w, f"SELECT count(*) FROM identities WHERE user_id = '{victim.id}'") == "0"


def test_auto_takes_the_method_from_discovery(w, gl, relay):
    signed_in(w, GlewlwydFlow(w, "auto", gl, new_user(gl, "auto-")).run())
    (_, _, headers, _), = token_requests(relay)
    assert headers.get("Authorization", "").startswith("Basic ")


def test_a_refused_code_exchange_logs_and_audits_the_providers_error(w, gl, relay,
                                                                     admin_token):
    log_at = len(w.log())
    f = refused_flow(w, gl, relay, admin_token, "wrong-secret", None,
                     "the provider refused the authorization code")
    e, = [e for e in audit(w, admin_token, action="auth.oauth_login", limit=50)["items"]
          if e["request_id"] == f.rid]
    assert e["details"]["provider_status"] in (400, 401, 403), e
    assert e["details"]["provider_error"], e
    logged = w.log()[log_at:]
    assert "provider wrong-secret refused the authorization code" in logged
    assert e["details"]["provider_error"] in logged
    assert "not-the-secret" not in logged and "not-the-secret" not in json.dumps(e)


# ------------------------------------------------- provider files


def check_config(w, tmp_path, files):
    d = tmp_path / "providers"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    conf = tmp_path / "warren.conf"
    lines = [ln for ln in w.conf_path.read_text().splitlines()
             if not ln.replace(" ", "").startswith("oidc_provider_dir=")]
    conf.write_text("\n".join(lines) + f"\noidc_provider_dir = {d}\n")
    return subprocess.run([str(CTL_BIN), "-c", str(conf), "check-config"],
                          capture_output=True, text=True, timeout=30)


def test_check_config_lists_the_providers(w, gl, tmp_path):
    r = check_config(w, tmp_path, {"corp.conf": provider_file(gl, "rs256",
                                                               "client_secret_basic")})
    assert r.returncode == 0, r.stderr
    assert f"OpenID Connect provider corp (Glewlwyd RS256 (basic)): {gl.issuer('rs256')}" \
        in r.stdout


@pytest.mark.parametrize("text, message", [
    ("issuer = http://127.0.0.1:1/x\nclient_id = a\nclient_secret = b\n",
     "issuer must be an https URL"),
    ("issuer = https://idp.example\nclient_id = a\nclient_secret = b\n"
     "token_auth_method = private_key_jwt\n", "token_auth_method must be"),
    ("issuer = https://idp.example\nclient_id = a\nclient_secret = b\nscope = x\n",
     "unknown key 'scope'"),
    ("issuer = https://idp.example\nclient_secret = b\n", "client_id"),
    ("issuer = https://idp.example\nclient_id = a\nclient_secret = b\n"
     "without_email_verified = maybe\n", "without_email_verified must be"),
])
def test_check_config_refuses_a_bad_provider_file(w, tmp_path, text, message):
    r = check_config(w, tmp_path, {"bad.conf": text})
    assert r.returncode != 0
    assert message in r.stderr and "bad.conf" in r.stderr, r.stderr


def test_the_google_example_is_a_valid_provider_file(w, tmp_path):
    """Google is one provider file among others: the shipped example."""
    text = (TOP / "etc" / "oidc" / "google.conf.example").read_text()
    r = check_config(w, tmp_path, {"google.conf": text})
    assert r.returncode == 0, r.stderr
    assert "OpenID Connect provider google (Google): https://accounts.google.com" in r.stdout


def test_a_provider_directory_that_cannot_be_read_is_an_error(w, tmp_path):
    conf = tmp_path / "warren.conf"
    lines = [ln for ln in w.conf_path.read_text().splitlines()
             if not ln.replace(" ", "").startswith("oidc_provider_dir=")]
    conf.write_text("\n".join(lines) + f"\noidc_provider_dir = {conf}\n")
    r = subprocess.run([str(CTL_BIN), "-c", str(conf), "check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "Not a directory" in r.stderr, (r.stdout, r.stderr)
    # No directory at all is no provider, and no error.
    conf.write_text("\n".join(lines) + f"\noidc_provider_dir = {tmp_path / 'none'}\n")
    r = subprocess.run([str(CTL_BIN), "-c", str(conf), "check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "OpenID Connect provider" not in r.stdout, r.stderr
