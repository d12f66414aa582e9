"""A relay in front of a real OpenID Connect provider (Glewlwyd), for the
tests that need a provider to misbehave.

Everything Warren and the browser send to the provider goes through the
relay (the provider's external URL is the relay's), and comes back as the
provider answered, unless a test sets a hook:

    relay.token_hook(answer)  changes the token endpoint's JSON answer (the
                              ID token in it: see Jwt below)
    relay.jwks_hook(keys)     changes the key set the provider publishes

Every request is recorded: (method, path, headers, body).  Jwt takes an ID
token apart and puts it together again, signed with the provider's own key
(so only the claims are wrong), with another key, or not at all.
"""

import base64
import http.client
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from loopback_http import LoopbackServer

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer",
               "upgrade", "proxy-authorization", "proxy-authenticate", "content-length"}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Jwt:
    """A compact JWS: header and claims to change, then sign()."""

    def __init__(self, token):
        h, c, _ = token.split(".")
        self.header = json.loads(unb64url(h))
        self.claims = json.loads(unb64url(c))

    def _input(self):
        return (b64url(json.dumps(self.header).encode()) + "." +
                b64url(json.dumps(self.claims).encode())).encode("ascii")

    def sign(self, key_pem):
        """Signed with the key (PEM) as its header's alg says."""
        key = serialization.load_pem_private_key(key_pem, password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            self.header["alg"] = "RS256"
            data = self._input()
            sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            self.header["alg"] = "ES256"
            data = self._input()
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return data.decode("ascii") + "." + b64url(sig)

    def unsigned(self):
        """alg none, as an attacker sends it."""
        self.header["alg"] = "none"
        return self._input().decode("ascii") + "."


def new_key(kind):
    """A fresh private key (PEM) of the kind the provider uses."""
    if kind == "es256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_jwk(key_pem, kid):
    """The public JWK of a private key (PEM)."""
    key = serialization.load_pem_private_key(key_pem, password=None).public_key()
    if isinstance(key, rsa.RSAPublicKey):
        n = key.public_numbers()
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64url(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}
    n = key.public_numbers()
    return {"kty": "EC", "use": "sig", "alg": "ES256", "crv": "P-256", "kid": kid,
            "x": b64url(n.x.to_bytes(32, "big")), "y": b64url(n.y.to_bytes(32, "big"))}


class Relay(LoopbackServer):
    """start() binds a free port on 127.0.0.1; upstream is set before use."""

    def __init__(self):
        self.lock = threading.Lock()
        self.upstream = None  # (host, port)
        self.server = None
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.token_hook = None
            self.jwks_hook = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def paths(self, suffix):
        """The recorded requests whose path ends with suffix."""
        with self.lock:
            return [r for r in self.requests
                    if urllib.parse.urlsplit(r[1]).path.endswith(suffix)]

    def start(self):
        return self.serve(_Handler, "relay")

    def stop(self):
        self.shutdown()


class _Handler(BaseHTTPRequestHandler):
    relay = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _forward(self):
        relay = self.relay
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        with relay.lock:
            relay.requests.append((self.command, self.path, dict(self.headers), body))
            token_hook, jwks_hook = relay.token_hook, relay.jwks_hook
        conn = http.client.HTTPConnection(*relay.upstream, timeout=30)
        try:
            conn.request(self.command, self.path, body=body or None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            out = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP_HEADERS]
            status = r.status
        finally:
            conn.close()
        path = urllib.parse.urlsplit(self.path).path
        if r.status == 200 and token_hook and path.endswith("/token"):
            data = json.dumps(token_hook(json.loads(data))).encode()
        elif r.status == 200 and jwks_hook and path.endswith("/jwks"):
            doc = json.loads(data)
            doc["keys"] = jwks_hook(doc["keys"])
            data = json.dumps(doc).encode()
        self.send_response(status)
        for k, v in out:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward
