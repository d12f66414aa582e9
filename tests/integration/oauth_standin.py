"""A stand-in OAuth 2.0 / OpenID Connect provider for the sign-in tests.

One http.server in a thread on 127.0.0.1 answers like GitHub's OAuth 2.0
endpoints, which cannot be reached from the tests (OpenID Connect is tested
against a real provider, Glewlwyd: see glewlwyd.py):

    GET  /github/authorize    redirects back with code and state (or with
                              error=access_denied when told to deny)
    POST /github/token        {"access_token": ...} or {"error": "invalid_grant"}
    GET  /github/api/user     {"id": <int>, "login": ..., "name": ...}
    GET  /github/api/user/emails
                              [{"email", "primary", "verified", "visibility"}]


The token endpoint checks what a real one checks: grant_type, client_id,
client_secret, redirect_uri (the one given at the authorize step), that the
code is known and unused (codes are one-time: a replay is invalid_grant)
and that the PKCE code_verifier hashes (S256) to the code_challenge seen at
the authorize step.  Every request is recorded for the tests to inspect.

Each test sets the signed-in user with `standin.user(provider, ...)`: the
subject, login, e-mail and its verified flag.
"""

import base64
import hashlib
import json
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from loopback_http import LoopbackServer

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier):
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


class Profile:
    """Who signs in at a provider, and how the provider describes them."""

    def __init__(self, subject, login=None, email=None, verified=True, name=None,
                 primary=True):
        self.subject = subject
        self.login = login
        self.email = email
        self.verified = verified
        self.name = name if name is not None else (login or "Stand-in User")
        self.primary = primary


class StandIn(LoopbackServer):
    """The provider: start() binds a free port; stop() shuts it down."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clients = {
            "github": ("gh-client-id", "gh-client-secret"),
        }
        self.server = None
        self.thread = None
        self.reset()

    # ------------------------------------------------------------ control

    def reset(self):
        """Forgets users, codes, records and switches (between tests)."""
        with self.lock:
            self.profiles = {"github": None}
            self.deny = False
            self.codes = {}  # code -> dict
            self.tokens = {}  # access token -> Profile
            self.authorize_requests = []  # (provider, query dict, headers)
            self.token_requests = []  # (provider, form dict, answer dict)
            self.api_requests = []  # (path, authorization header)

    def user(self, provider, subject, **kwargs):
        """The next sign-ins at provider are by this user."""
        p = Profile(subject, **kwargs)
        with self.lock:
            self.profiles[provider] = p
        return p

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def conf(self):
        """The Warren configuration keys that point at this stand-in."""
        gh_id, gh_secret = self.clients["github"]
        return {
            "github_client_id": gh_id,
            "github_client_secret": gh_secret,
            "github_auth_url": self.url("/github/authorize"),
            "github_token_url": self.url("/github/token"),
            "github_api_url": self.url("/github/api"),
        }

    def start(self):
        return self.serve(_Handler, "standin")

    def stop(self):
        assert self.shutdown(), "stand-in provider did not stop"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------ answers

    def authorize(self, provider, q):
        """(status, headers, body) for GET /<provider>/authorize."""
        with self.lock:
            self.authorize_requests.append((provider, dict(q)))
            redirect_uri = q.get("redirect_uri")
            state = q.get("state")
            client_id, _ = self.clients[provider]
            if q.get("client_id") != client_id or not redirect_uri:
                return 400, {}, {"error": "invalid_request",
                                 "error_description": "unknown client or no redirect_uri"}
            if q.get("response_type") != "code":
                return 400, {}, {"error": "unsupported_response_type"}
            sep = "&" if "?" in redirect_uri else "?"
            if self.deny:
                back = {"error": "access_denied",
                        "error_description": "The user has denied your application access."}
                if state is not None:
                    back["state"] = state
                return 302, {"Location": redirect_uri + sep + urllib.parse.urlencode(back)}, None
            profile = self.profiles[provider]
            if profile is None:
                return 500, {}, {"error": "server_error",
                                 "error_description": "no user set in the stand-in"}
            code = secrets.token_urlsafe(20)
            self.codes[code] = {
                "provider": provider,
                "redirect_uri": redirect_uri,
                "challenge": q.get("code_challenge"),
                "method": q.get("code_challenge_method"),
                "nonce": q.get("nonce"),
                "profile": profile,
                "used": False,
            }
            back = {"code": code}
            if state is not None:
                back["state"] = state
            return 302, {"Location": redirect_uri + sep + urllib.parse.urlencode(back)}, None

    def token(self, provider, form):
        """(status, headers, body) for POST /<provider>/token."""
        with self.lock:
            status, body = self._token(provider, form)
            self.token_requests.append((provider, dict(form), body))
            return status, {}, body

    def _token(self, provider, form):
        # GitHub answers errors with 200 and an "error" member.
        err = 200
        client_id, client_secret = self.clients[provider]
        if form.get("grant_type") != "authorization_code":
            return err, {"error": "unsupported_grant_type"}
        if form.get("client_id") != client_id or form.get("client_secret") != client_secret:
            return err, {"error": "invalid_client"}
        code = self.codes.get(form.get("code", ""))
        if code is None or code["provider"] != provider:
            return err, {"error": "invalid_grant", "error_description": "unknown code"}
        if code["used"]:
            return err, {"error": "invalid_grant", "error_description": "code already used"}
        code["used"] = True
        if form.get("redirect_uri") != code["redirect_uri"]:
            return err, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}
        verifier = form.get("code_verifier")
        if code["method"] != "S256" or not verifier or s256(verifier) != code["challenge"]:
            return err, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        profile = code["profile"]
        access = "gho_" + secrets.token_urlsafe(24)
        self.tokens[access] = profile
        return 200, {"access_token": access, "token_type": "bearer",
                     "scope": "read:user,user:email"}

    def api(self, path, authorization):
        """(status, headers, body) for the GitHub REST API."""
        with self.lock:
            self.api_requests.append((path, authorization))
            token = None
            if authorization and authorization.lower().startswith(("bearer ", "token ")):
                token = authorization.split(" ", 1)[1].strip()
            p = self.tokens.get(token)
            if p is None:
                return 401, {}, {"message": "Bad credentials"}
            if path == "/github/api/user":
                return 200, {}, {"id": int(p.subject), "login": p.login, "name": p.name,
                                 "type": "User"}
            if path == "/github/api/user/emails":
                if p.email is None:
                    return 200, {}, []
                return 200, {}, [
                    {"email": "noreply-%s@users.noreply.standin.test" % p.subject,
                     "primary": False, "verified": True, "visibility": None},
                    {"email": p.email, "primary": p.primary, "verified": p.verified,
                     "visibility": "private"},
                ]
            return 404, {}, {"message": "Not Found"}


class _Handler(BaseHTTPRequestHandler):
    standin = None  # set on a subclass per server
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, headers, body):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self):
        u = urllib.parse.urlsplit(self.path)
        return u.path, dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))

    def do_GET(self):
        path, q = self._route()
        s = self.standin
        if path == "/github/authorize":
            self._send(*s.authorize("github", q))
        elif path.startswith("/github/api/"):
            self._send(*s.api(path, self.headers.get("Authorization")))
        else:
            self._send(404, {}, {"error": "not_found"})

    def do_POST(self):
        path, _ = self._route()
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype != "application/x-www-form-urlencoded":
            self._send(400, {}, {"error": "invalid_request",
                                 "error_description": "form body expected"})
            return
        form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        if path == "/github/token":
            self._send(*self.standin.token("github", form))
        else:
            self._send(404, {}, {"error": "not_found"})
