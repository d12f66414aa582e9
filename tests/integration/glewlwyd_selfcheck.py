"""Checks glewlwyd.py against the real Glewlwyd, without Warren:

    /usr/bin/python3 tests/integration/glewlwyd_selfcheck.py

For each instance (rs256, es256) and each client authentication method
(client_secret_basic, client_secret_post): discovery, the authorization
code flow with PKCE (S256), nonce and state, the token exchange (first with
the method the client does not have, which must fail), the ID token's
signature checked against the published key set and its iss, aud, nonce
and exp, then userinfo.  Prints what the tokens carry, then OK.
"""

import base64
import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
import urllib.parse

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glewlwyd import KINDS, METHODS, Glewlwyd, GlewlwydError  # noqa: E402

REDIRECT = "http://127.0.0.1:9/cb"
USER = ("alice", "correct horse battery", "alice@example.org", "Alice Example")


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_key(jwk):
    num = lambda k: int.from_bytes(unb64(jwk[k]), "big")  # noqa: E731
    if jwk["kty"] == "RSA":
        return rsa.RSAPublicNumbers(num("e"), num("n")).public_key()
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256", jwk
    return ec.EllipticCurvePublicNumbers(num("x"), num("y"), ec.SECP256R1()).public_key()


def verify(token, jwks):
    """The ID token's header and claims, once its signature is good."""
    h, c, s = token.split(".")
    header, claims = json.loads(unb64(h)), json.loads(unb64(c))
    jwk = next(k for k in jwks["keys"] if k.get("kid") == header.get("kid"))
    key, data, sig = public_key(jwk), f"{h}.{c}".encode("ascii"), unb64(s)
    if header["alg"] == "RS256":
        key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    elif header["alg"] == "ES256":
        sig = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                   int.from_bytes(sig[32:], "big"))
        key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    else:
        raise AssertionError(f"unexpected alg {header['alg']}")
    try:  # and a tampered token must not verify
        key.verify(sig, data + b"x", *((padding.PKCS1v15(), hashes.SHA256())
                   if header["alg"] == "RS256" else (ec.ECDSA(hashes.SHA256()),)))
        raise AssertionError("a tampered token verified")
    except InvalidSignature:
        pass
    return header, claims, jwk


def same_key(pem, jwk):
    """The PEM private key the harness hands out signs for the published key."""
    priv = serialization.load_pem_private_key(pem, password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return (priv.public_key().public_bytes(der, spki) ==
            public_key(jwk).public_bytes(der, spki))


def token_request(url, client_id, secret, method, data):
    if method == "client_secret_basic":
        return requests.post(url, data=data, auth=(client_id, secret), timeout=30)
    return requests.post(url, data=dict(data, client_id=client_id, client_secret=secret),
                         timeout=30)


def flow(gl, kind, method, user=USER, verified=True):
    issuer = gl.issuer(kind)
    disc = requests.get(issuer + "/.well-known/openid-configuration", timeout=30).json()
    assert disc["issuer"] == issuer, (disc["issuer"], issuer)
    assert disc["authorization_endpoint"].startswith(issuer + "/")
    assert "code" in disc["response_types_supported"], disc["response_types_supported"]
    assert "S256" in disc.get("code_challenge_methods_supported", []), disc
    assert method in disc["token_endpoint_auth_methods_supported"], disc
    alg = kind.upper()
    assert alg in disc["id_token_signing_alg_values_supported"], disc
    jwks = requests.get(disc["jwks_uri"], timeout=30).json()
    assert [k["kid"] for k in jwks["keys"]] == [gl.kid(kind)], jwks

    client_id, secret = gl.client(kind, method)
    browser = requests.Session()
    gl.login(browser, user[0], user[1])
    verifier, state, nonce = (secrets.token_urlsafe(48), secrets.token_urlsafe(16),
                              secrets.token_urlsafe(16))
    challenge = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    auth_url = disc["authorization_endpoint"] + "?" + urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "scope": "openid email profile", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    location = gl.authorize(browser, auth_url)
    assert location.startswith(REDIRECT + "?"), location
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert query["state"] == [state], query
    code = query["code"][0]

    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}
    other = [m for m in METHODS if m != method][0]
    r = token_request(disc["token_endpoint"], client_id, secret, other, data)
    assert r.status_code != 200, f"{other} accepted for a {method} client: {r.text}"
    r = token_request(disc["token_endpoint"], client_id, secret, method,
                      dict(data, code_verifier=secrets.token_urlsafe(48)))
    assert r.status_code != 200, f"a wrong code_verifier was accepted: {r.text}"
    r = token_request(disc["token_endpoint"], client_id, secret, method, data)
    assert r.status_code == 200, f"token endpoint: {r.status_code} {r.text}"
    tokens = r.json()
    r = token_request(disc["token_endpoint"], client_id, secret, method, data)
    assert r.status_code != 200, f"a code was accepted twice: {r.text}"

    header, claims, jwk = verify(tokens["id_token"], jwks)
    assert header["alg"] == alg and header["kid"] == gl.kid(kind), header
    assert same_key(gl.private_key_pem(kind), jwk)
    assert claims["iss"] == issuer, (claims["iss"], issuer)
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert client_id in aud, claims["aud"]
    assert claims["nonce"] == nonce, claims
    assert claims["exp"] > time.time() > claims["iat"] - 60, claims
    assert claims["email"] == user[2] and claims["name"] == user[3], claims
    assert claims["email_verified"] is verified, claims

    r = requests.get(disc["userinfo_endpoint"], timeout=30,
                     headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert r.status_code == 200, f"userinfo: {r.status_code} {r.text}"
    info = r.json()
    assert info["sub"] == claims["sub"] and info["email"] == user[2], info
    assert info["email_verified"] is verified, info

    print(f"{kind} {method}: client {client_id}")
    print(f"  token response keys: {sorted(tokens)}")
    print(f"  ID token header: alg={header['alg']} kid={header['kid']} "
          f"typ={header.get('typ')}")
    print(f"  ID token claims: {sorted(claims)}")
    print(f"  iss={claims['iss']!r} aud={claims['aud']!r} email={claims['email']!r} "
          f"email_verified={claims['email_verified']!r} name={claims['name']!r}")
    print(f"  userinfo keys: {sorted(info)}")


def main():
    with tempfile.TemporaryDirectory(prefix="glewlwyd-") as tmp:
        gl = Glewlwyd(tmp)
        pid = None
        try:
            gl.start()
            pid = gl.proc.pid
            print(f"Glewlwyd at {gl.url} (pid {pid})")
            gl.add_user(*USER)
            gl.add_redirect_uri(REDIRECT)
            gl.add_redirect_uri(REDIRECT)  # twice is harmless
            for kind in KINDS:
                for method in METHODS:
                    flow(gl, kind, method)
            bob = ("bob", "another passphrase", "bob@example.org", "Bob Example")
            gl.add_user(*bob, email_verified=False)
            flow(gl, "es256", "client_secret_post", bob, verified=False)
            try:
                gl.login(requests.Session(), bob[0], "wrong")
                raise AssertionError("a wrong password signed in")
            except GlewlwydError:
                pass
        finally:
            gl.stop()
        if pid is not None:
            try:
                os.kill(pid, 0)
                raise AssertionError(f"glewlwyd (pid {pid}) still runs")
            except ProcessLookupError:
                pass
    print("OK")


if __name__ == "__main__":
    main()
