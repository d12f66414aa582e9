"""Every request owns its transaction: whatever a handler answers, no
connection of warren-api is left "idle in transaction" (which would carry
the worker's next requests, hold locks and keep the list cache from its
notifications), and no handler leaves one for the pipeline to roll back.

For every route of the table (`warrenctl routes`), the failing inputs it can
get: a malformed id, an unknown id, another user's resource, no credentials,
a caller without the role, and bad bodies; then PostgreSQL is asked
(pg_stat_activity) and warren-api's log is read for the pipeline's "left a
transaction open" line.
"""

import re
import uuid

import pytest

from docker_util import version_spec
from identity_util import call, close_stack, ctl_user, open_stack, sign_in

PARAM_VALUES = {
    "provider": ["nope", "github"],
    "number": ["abc", "0", "99999", "1"],
    "port": ["abc", "0", "99999", "8080"],
    "scope": ["nope", "users", "orgs"],
}
BODIES = [b"{", b"null", b"[]", b'{"zz": 1}', b"{}", b'{"name": ""}', b'"x"']


@pytest.fixture(scope="module")
def stack(pg, tmp_path_factory):
    w = open_stack(pg, tmp_path_factory.mktemp("tx"))
    try:
        admin = ctl_user(w, "txadmin", role="admin")
        member = ctl_user(w, "txmember")
        tokens = {
            "anonymous": None,
            "member": sign_in(w, member)["access_token"],
            "admin": sign_in(w, admin)["access_token"],
        }
        owned = admin_resources(w, tokens["admin"], admin)
        yield w, tokens, owned
    finally:
        close_stack(w)


def admin_resources(w, token, admin):
    """Real ids of resources the admin owns, for the member to reach for."""
    tpl = call(w, "POST", "/templates", token, json={"name": "txdemo", "version": version_spec()})
    assert tpl.status_code == 201, tpl.text
    ws = call(w, "POST", "/workspaces", token, json={"name": "txws", "template": "txdemo"})
    assert ws.status_code == 201, ws.text
    org = call(w, "POST", "/orgs", token, json={"name": "txorg"})
    assert org.status_code == 201, org.text
    secret = call(w, "POST", "/secrets", token, json={"name": "TX_SECRET", "value": "v"})
    assert secret.status_code == 201, secret.text
    tok = call(w, "POST", "/tokens", token, json={"name": "tx", "scope": "read"})
    assert tok.status_code == 201, tok.text
    return [admin.id, tpl.json()["id"], ws.json()["id"], org.json()["id"],
            secret.json()["id"], tok.json()["id"]]


def route_table(w):
    r = w.ctl("routes")
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        method, pattern, name, policy = line.split()
        out.append((method, pattern, name, policy))
    assert len(out) > 40, r.stdout
    return out


def paths(pattern, owned):
    """The pattern with each {param} filled by failing (and some valid)
    values: one path per value, the other params at their first value."""
    names = re.findall(r"\{(\w+)\}", pattern)
    if not names:
        return [pattern]
    ids = ["not-a-uuid", str(uuid.uuid4()), str(uuid.uuid4()).upper(), *owned]
    values = {n: PARAM_VALUES.get(n, ids) for n in names}
    out = []
    for n in names:
        for v in values[n]:
            p = pattern
            for m in names:
                p = p.replace("{" + m + "}", v if m == n else values[m][0])
            out.append(p)
    return out


def open_transactions(w):
    return int(w.pg.psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE "
                         f"datname = '{w.db}' AND state LIKE 'idle in transaction%'"))


def test_no_route_leaves_a_transaction_open(stack):
    w, tokens, owned = stack
    table = route_table(w)
    offenders = {}
    asked = 0
    for method, pattern, name, policy in table:
        if name in ("auth_logout", "auth_logout_all"):
            continue   # they end the callers' sessions; asked last
        off = w.log_size()
        for path in paths(pattern, owned):
            for who, token in tokens.items():
                bodies = BODIES if method in ("POST", "PUT", "PATCH") else [None]
                for body in bodies:
                    headers = {"Content-Type": "application/json"} if body is not None else {}
                    r = call(w, method, path, token, headers=headers, data=body)
                    asked += 1
                    assert r.status_code < 500 or r.status_code in (502, 503), \
                        (method, path, who, body, r.status_code, r.text[:300])
        left = re.findall(r"bug: .* left a transaction open", w.log_since(off))
        if left or open_transactions(w):
            offenders[f"{method} {pattern}"] = left or ["idle in transaction"]
    for name in ("auth_logout", "auth_logout_all"):
        method, pattern = next((m, p) for m, p, n, _ in table if n == name)
        off = w.log_size()
        for body in [None, *BODIES]:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            call(w, method, pattern, "not-a-token", headers=headers, data=body)
            asked += 1
        if re.search(r"left a transaction open", w.log_since(off)) or open_transactions(w):
            offenders[f"{method} {pattern}"] = ["open"]
    assert not offenders, sorted(offenders)
    assert asked > 1000, asked
    assert open_transactions(w) == 0
