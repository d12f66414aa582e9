"""A real OpenID Connect provider for the sign-in tests: Glewlwyd.

Glewlwyd 2.7 (Debian's package, with its SQLite database) runs on a free
port of 127.0.0.1 from a working directory of its own: the database made by
the package's install script, a copy of the web application (its login page
works in a browser) and a configuration file from the package's template.
start() then configures it through its administration API (as admin):

    two OpenID Connect plugin instances, "rs256" (an RSA 2048 key) and
    "es256" (a P-256 key), each signing with a fresh private JWKS of that
    one key and publishing its public half (with the kid) at its jwks_uri;
    response type code, PKCE (S256) allowed (not required)
    claims: sub, name and email always, in the ID token and at userinfo;
    Glewlwyd has no email_verified of its own, so each instance adds one
    (a boolean) from the user property email_verified, which add_user()
    sets (true unless told otherwise)
    the scopes openid, email and profile, each needing the password
    four confidential clients, one per (instance, method), each accepting
    only its method at the token endpoint (token_endpoint_auth_method
    client_secret_basic or client_secret_post: the other is refused with
    403 unauthorized_client), authorization type code, the scopes above

    gl = Glewlwyd(tmp_path).start()
    gl.add_user("alice", "a passphrase", "alice@example.org", "Alice")
    gl.add_redirect_uri("http://127.0.0.1:9/cb")
    client_id, secret = gl.client("rs256", "client_secret_basic")
    gl.login(session, "alice", "a passphrase")  # and consent, every client
    location = gl.authorize(session, auth_url)  # redirect_uri?state=&code=
    gl.stop()

Glewlwyd's clients are global: client(kind, method) names the one a test
uses at an instance, but any of them works at both.  The issuer of an
instance, issuer(kind), is its "iss" parameter, external URL + "/api/" +
kind, without a trailing slash: the ID tokens carry it as "iss", the
discovery document (issuer + "/.well-known/openid-configuration") as
"issuer"; aud is the client_id (a string).  Given external_url (a relay's),
the discovery documents and the login page name that URL instead of url.
"""

import base64
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.parse

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SHARE = "/usr/share/glewlwyd"
INSTALL_SQL = "/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3"
WEBAPP_CONFIG = "/etc/glewlwyd/config-2.7.json/config.json"
ADMIN = ("admin", "password")  # made by the install script
SCOPES = ("openid", "email", "profile")
KINDS = ("rs256", "es256")
METHODS = ("client_secret_basic", "client_secret_post")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int(i, size=None):
    return b64url(i.to_bytes(size or (i.bit_length() + 7) // 8, "big"))


def private_jwk(key, kid):
    """The private JWK (with alg and kid) Glewlwyd signs with."""
    p = key.private_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        pub = p.public_numbers
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
                "n": _int(pub.n), "e": _int(pub.e), "d": _int(p.d), "p": _int(p.p),
                "q": _int(p.q), "dp": _int(p.dmp1), "dq": _int(p.dmq1),
                "qi": _int(p.iqmp)}
    pub = p.public_numbers
    return {"kty": "EC", "alg": "ES256", "use": "sig", "kid": kid, "crv": "P-256",
            "x": _int(pub.x, 32), "y": _int(pub.y, 32), "d": _int(p.private_value, 32)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GlewlwydError(RuntimeError):
    pass


class Glewlwyd:
    """One Glewlwyd server; start() and stop() it."""

    def __init__(self, workdir, external_url=None):
        self.dir = os.path.abspath(str(workdir))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The URL browsers and relying parties use (a relay's, say); the
        # issuers and the endpoints of the discovery documents start with it.
        self.external_url = (external_url or self.url).rstrip("/")
        self.proc = None
        self.admin = None
        self.keys = {}      # kind -> private key (cryptography)
        self.kids = {}      # kind -> kid
        self.clients = {}   # (kind, method) -> (client_id, client_secret)
        self.redirect_uris = []

    # The server ----------------------------------------------------------

    def _write_files(self):
        d = self.dir
        db = os.path.join(d, "glewlwyd.db")
        with open(INSTALL_SQL, "rb") as sql:
            subprocess.run(["sqlite3", db], stdin=sql, check=True,
                           stdout=subprocess.DEVNULL)
        webapp = os.path.join(d, "webapp")
        shutil.copytree(os.path.join(SHARE, "webapp"), webapp, symlinks=False)
        conf = os.path.join(webapp, "config.json")  # a directory in the package
        if os.path.isdir(conf):
            shutil.rmtree(conf)
        with open(WEBAPP_CONFIG) as f:
            web = json.load(f)
        web["GlewlwydUrl"] = self.external_url + "/"
        with open(conf, "w") as f:
            json.dump(web, f, indent=2)
        with open(os.path.join(SHARE, "templates",
                               "glewlwyd-debian.conf.properties")) as f:
            text = f.read()
        lines = {
            "port": str(self.port),
            "bind_address": '"127.0.0.1"',
            "external_url": f'"{self.external_url}"',
            "static_files_path": f'"{webapp}/"',
            "log_mode": '"file"',
            "log_level": '"INFO"',
            "log_file": f'"{os.path.join(d, "glewlwyd.log")}"',
            "cookie_secure": "0",
        }
        for key, value in lines.items():
            text, n = re.subn(rf"^#?\s*{key}\s*=.*$", f"{key}={value}", text,
                              count=1, flags=re.M)
            if n != 1:
                raise GlewlwydError(f"no {key} line in the configuration template")
        text, n = re.subn(r'^@include .*glewlwyd-db\.conf.*$',
                          f'database = {{ type = "sqlite3" path = "{db}" }};',
                          text, flags=re.M)
        if n != 1:
            raise GlewlwydError("no database @include in the configuration template")
        self.conf = os.path.join(d, "glewlwyd.conf")
        with open(self.conf, "w") as f:
            f.write(text)

    def log(self):
        """The server's log so far (for error messages)."""
        try:
            with open(os.path.join(self.dir, "glewlwyd.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self._write_files()
        out = open(os.path.join(self.dir, "stdout.log"), "wb")
        self.proc = subprocess.Popen(["glewlwyd", "-c", self.conf], stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        try:
            self._wait_ready()
            self._configure()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise GlewlwydError(f"glewlwyd exited ({self.proc.returncode}):\n"
                                    + self.log()[-3000:])
            try:
                if requests.get(self.url + "/config/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise GlewlwydError("glewlwyd did not answer in 30 s:\n" + self.log()[-3000:])

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self.admin is not None:
            self.admin.close()
            self.admin = None

    # The administration API ----------------------------------------------

    def _api(self, method, path, body=None, session=None, ok=(200,)):
        s = session or self.admin
        r = s.request(method, f"{self.url}/api/{path}", json=body, timeout=30)
        if r.status_code not in ok:
            raise GlewlwydError(f"{method} /api/{path}: {r.status_code} {r.text}")
        return r

    def _configure(self):
        self.admin = requests.Session()
        self._api("POST", "auth/", {"username": ADMIN[0], "password": ADMIN[1]})
        # Every scope asks for the password (openid does not by default).
        for name in SCOPES:
            scope = {"name": name, "display_name": name,
                     "description": f"OpenID Connect scope {name}",
                     "password_required": True, "password_max_age": 0, "scheme": {}}
            if name == "openid":
                self._api("PUT", "scope/openid", scope)
            else:
                self._api("POST", "scope/", scope)
        # The database user backend keeps an email_verified property.
        mod = self._api("GET", "mod/user/database").json()
        mod["parameters"].setdefault("data-format", {})["email_verified"] = {
            "multiple": False, "read": True, "write": True,
            "profile-read": True, "profile-write": False}
        self._api("PUT", "mod/user/database", mod)
        self._api("PUT", "mod/user/database/reset")
        for kind in KINDS:
            self._add_plugin(kind)
            for method in METHODS:
                self._add_client(kind, method)

    def _add_plugin(self, kind):
        if kind == "rs256":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        kid = f"{kind}-{secrets.token_hex(4)}"
        self.keys[kind], self.kids[kind] = key, kid
        params = {
            "iss": self.issuer(kind),
            "jwks-private": json.dumps({"keys": [private_jwk(key, kid)]}),
            "default-kid": kid,
            "jwks-show": True,
            "access-token-duration": 3600,
            "refresh-token-duration": 1209600,
            "code-duration": 600,
            "refresh-token-rolling": True,
            "allow-non-oidc": False,
            "auth-type-code-enabled": True,
            "auth-type-token-enabled": False,
            "auth-type-id-token-enabled": True,
            "auth-type-none-enabled": False,
            "auth-type-password-enabled": False,
            "auth-type-client-enabled": False,
            "auth-type-device-enabled": False,
            "auth-type-refresh-enabled": True,
            "subject-type": "public",
            "allowed-scope": list(SCOPES),
            "name-claim": "mandatory",
            "email-claim": "mandatory",
            "scope-claim": "no",
            "address-claim": {"type": "no"},
            "claims": [{"name": "email_verified", "user-property": "email_verified",
                        "type": "boolean", "boolean-value-true": "true",
                        "boolean-value-false": "false", "mandatory": True,
                        "on-demand": False, "scope": []}],
            "pkce-allowed": True,
            "pkce-method-plain-allowed": False,
            "request-parameter-allow": False,
            "session-cookie-name": f"GLEWLWYD2_OIDC_SID_{kind}",
            "session-cookie-expiration": 2419200,
        }
        self._api("POST", "mod/plugin/", {
            "module": "oidc", "name": kind, "display_name": f"OpenID Connect {kind}",
            "enabled": True, "parameters": params})

    def _client_body(self, kind, method):
        client_id, secret = self.clients[(kind, method)]
        return {"client_id": client_id, "name": client_id, "enabled": True,
                "confidential": True, "client_secret": secret,
                "redirect_uri": list(self.redirect_uris),
                "authorization_type": ["code"], "scope": list(SCOPES),
                "token_endpoint_auth_method": [method]}

    def _add_client(self, kind, method):
        client_id = f"warren-{kind}-{method.rsplit('_', 1)[1]}"
        self.clients[(kind, method)] = (client_id, secrets.token_urlsafe(24))
        self._api("POST", "client/", self._client_body(kind, method))

    # What the tests use ----------------------------------------------------

    def issuer(self, kind):
        if kind not in KINDS:
            raise ValueError(f"kind is one of {KINDS}")
        return f"{self.external_url}/api/{kind}"

    def client(self, kind, method):
        return self.clients[(kind, method)]

    def private_key_pem(self, kind):
        return self.keys[kind].private_bytes(serialization.Encoding.PEM,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())

    def kid(self, kind):
        return self.kids[kind]

    def add_redirect_uri(self, uri):
        if uri in self.redirect_uris:
            return
        self.redirect_uris.append(uri)
        for kind, method in self.clients:
            client_id = self.clients[(kind, method)][0]
            self._api("PUT", f"client/{client_id}", self._client_body(kind, method))

    def add_user(self, username, password, email, name, email_verified=True):
        """An enabled user of the database backend with the scopes above, or
        the user of that name changed to these.  email_verified None leaves
        the property out: its ID tokens then carry no email_verified."""
        user = {"username": username, "password": password, "name": name,
                "email": email, "enabled": True, "scope": list(SCOPES)}
        if email_verified is not None:
            user["email_verified"] = "true" if email_verified else "false"
        path = f"user/{urllib.parse.quote(username)}"
        if self._api("GET", path, ok=(200, 404)).status_code == 404:
            self._api("POST", "user/", user)
        else:
            self._api("PUT", path, user)

    def login(self, session, username, password):
        """Signs the user in (the password scheme) in this requests.Session
        and grants every client the scopes, so that /auth asks nothing."""
        self._api("POST", "auth/", {"username": username, "password": password},
                  session=session)
        for client_id, _ in self.clients.values():
            self._api("PUT", f"auth/grant/{urllib.parse.quote(client_id)}",
                      {"scope": " ".join(SCOPES)}, session=session)

    def authorize(self, session, auth_url):
        """GET auth_url (the authorization endpoint) in the signed-in session
        and return the Location it sends the browser to: the redirect_uri
        with code and state.  Glewlwyd 2.7 first sends every browser to its
        login page, even a signed-in one that has consented; the page's
        Continue button goes back to the same URL with g_continue added.
        This does what that button does."""
        r = session.get(auth_url, allow_redirects=False, timeout=30)
        location = r.headers.get("Location", "")
        if r.status_code == 302 and location.startswith(self._login_page()):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
            back = query.get("callback_url", [""])[0]
            if not back:
                raise GlewlwydError(f"GET {auth_url}: the login page without a "
                                    f"callback_url: {location}")
            back += ("&" if "?" in back else "?") + "g_continue"
            r = session.get(back, allow_redirects=False, timeout=30)
            location = r.headers.get("Location", "")
        if r.status_code not in (302, 303) or not location:
            raise GlewlwydError(f"GET {auth_url}: {r.status_code} without a redirect: "
                                f"{r.text}")
        if location.startswith(self._login_page()):
            raise GlewlwydError(f"GET {auth_url}: Glewlwyd still wants a sign-in or "
                                f"consent (was the user signed in with login()?): "
                                f"{location}")
        parts = urllib.parse.urlsplit(location)
        if "code" not in urllib.parse.parse_qs(parts.query):
            raise GlewlwydError(f"GET {auth_url}: redirected without a code (an error "
                                f"is in the query or the fragment): {location}")
        return location

    def _login_page(self):
        return self.external_url + "/login.html"
