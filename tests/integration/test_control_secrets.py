"""Issue 4, secrets: user- and organization-scoped, encrypted at rest with
libsodium secretbox under a 0600 key file that `warrenctl keys init`
makes, values never returned, and only their owners (or the owners and
admins of their organization) manage them."""

import os
import stat

import pytest

from control_util import (
    UUID_RE, World, assert_audit, audit_entries, call, close_stack, invalid, make_template,
    make_ws, new_request_id, not_found, ok, open_stack, problem, psql, q, req, ts, unique,
)

META = {"id", "scope", "owner_id", "name", "created_at", "updated_at"}


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("ctl-secrets"))
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def world(w):
    return World(w)


def value_for(tag):
    return f"s3cr3t-{tag}-{unique('v')}-correct-horse-battery-staple"


def create(w, token, name, value, org=None, rid=None):
    body = {"name": name, "value": value}
    if org:
        body["org_id"] = org
    return req(w, "POST", "/secrets", token, rid=rid, json=body)


def listed(w, token):
    r = call(w, "GET", "/secrets", token)
    return ok(r)["items"], r.text


def test_key_file_made_by_keys_init_is_private(w):
    path = w.conf["secret_key_file"]
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert os.path.getsize(path) > 32


def test_user_secret_lifecycle(w, world):
    tok = world.tokens["alice"]
    alice = world.users["alice"]
    value = value_for("user")
    name = unique("GITHUB_TOKEN_")
    rid = new_request_id()
    r = create(w, tok, name, value, rid=rid)
    s = ok(r, 201)
    assert set(s) == META, s
    assert value not in r.text
    assert UUID_RE.match(s["id"]) and s["scope"] == "user" and s["owner_id"] == alice.id
    assert s["name"] == name
    ts(s["created_at"])
    assert_audit(w, world.admin, rid, "secret.create", actor=alice, target_id=s["id"],
                 target_type="secret")

    items, text = listed(w, tok)
    assert [x for x in items if x["id"] == s["id"]] == [s]
    assert all(set(x) == META for x in items)
    assert value not in text

    new_value = value_for("rotated")
    rid = new_request_id()
    r = req(w, "PUT", f"/secrets/{s['id']}", tok, rid=rid, json={"value": new_value})
    u = ok(r)
    assert set(u) == META and new_value not in r.text and value not in r.text
    assert u["name"] == name and ts(u["updated_at"]) >= ts(s["updated_at"])
    assert_audit(w, world.admin, rid, "secret.update", actor=alice, target_id=s["id"])

    rid = new_request_id()
    ok(req(w, "DELETE", f"/secrets/{s['id']}", tok, rid=rid), 204)
    assert_audit(w, world.admin, rid, "secret.delete", actor=alice, target_id=s["id"])
    assert s["id"] not in [x["id"] for x in listed(w, tok)[0]]
    not_found(call(w, "DELETE", f"/secrets/{s['id']}", tok))
    not_found(call(w, "PUT", f"/secrets/{s['id']}", tok, json={"value": "x"}))

    # Neither value appears anywhere an admin can read.
    everything = call(w, "GET", "/audit", world.admin, params={"limit": 200}).text
    assert value not in everything and new_value not in everything


def test_stored_encrypted(w, world):
    value = value_for("cipher")
    s = ok(create(w, world.tokens["alice"], unique("ENC_"), value), 201)
    row = psql(w, f"SELECT length(nonce), length(ciphertext), encode(ciphertext, 'hex'),"
                  f" position(convert_to({q(value)}, 'UTF8') in ciphertext)"
                  f" FROM secrets WHERE id = {q(s['id'])}").split("|")
    nonce_len, cipher_len, cipher_hex, pos = int(row[0]), int(row[1]), row[2], int(row[3])
    assert nonce_len == 24
    assert cipher_len == len(value.encode()) + 16       # the Poly1305 tag
    assert pos == 0
    assert value.encode().hex() not in cipher_hex
    assert value not in psql(w, "SELECT string_agg(t::text, ' ') FROM secrets t")
    # Two secrets with the same value: different nonces and ciphertexts.
    s2 = ok(create(w, world.tokens["alice"], unique("ENC_"), value), 201)
    a, b = (psql(w, f"SELECT encode(nonce, 'hex') || encode(ciphertext, 'hex') FROM secrets"
                    f" WHERE id = {q(x['id'])}") for x in (s, s2))
    assert a != b and a[:48] != b[:48]
    # An update draws a new nonce too.
    before = psql(w, f"SELECT encode(nonce, 'hex') FROM secrets WHERE id = {q(s['id'])}")
    ok(call(w, "PUT", f"/secrets/{s['id']}", world.tokens["alice"], json={"value": value}))
    assert psql(w, f"SELECT encode(nonce, 'hex') FROM secrets WHERE id = {q(s['id'])}") != before


def test_duplicate_name_409(w, world):
    name = unique("DUP_")
    ok(create(w, world.tokens["alice"], name, "one"), 201)
    problem(create(w, world.tokens["alice"], name, "two"), 409, "conflict")
    # Others, and organizations, have their own namespaces.
    ok(create(w, world.tokens["bob"], name, "bob's"), 201)
    ok(create(w, world.tokens["alice"], name, "org's", org=world.org_a), 201)
    problem(create(w, world.tokens["dave"], name, "again", org=world.org_a), 409, "conflict")


@pytest.mark.parametrize("body,word", [
    ({"name": "1ABC", "value": "x"}, "name"),
    ({"name": "HAS-DASH", "value": "x"}, "name"),
    ({"name": "has space", "value": "x"}, "name"),
    ({"name": "", "value": "x"}, "name"),
    ({"name": "N" * 65, "value": "x"}, "name"),
    ({"value": "x"}, "name"),
    ({"name": "OK_NAME"}, "value"),
    ({"name": "OK_NAME", "value": 5}, "value"),
    ({"name": "OK_NAME", "value": "x" * (64 * 1024 + 1)}, "value"),
    ({"name": "OK_NAME", "value": "x", "scope": "global"}, "scope"),
    ({"name": "OK_NAME", "value": "x", "org_id": "nope"}, "org_id"),
])
def test_bad_secret_requests_400(w, world, body, word):
    invalid(call(w, "POST", "/secrets", world.tokens["carol"], json=body), word)
    assert psql(w, f"SELECT count(*) FROM secrets WHERE owner_id = {q(world.id('carol'))}") == "0"


def test_largest_value_accepted(w, world):
    value = "v" * (64 * 1024)
    r = create(w, world.tokens["alice"], unique("BIG_"), value)
    s = ok(r, 201)
    assert value not in r.text
    assert psql(w, f"SELECT length(ciphertext) FROM secrets WHERE id = {q(s['id'])}") == \
        str(64 * 1024 + 16)


def test_other_users_get_404(w, world):
    value = value_for("private")
    s = ok(create(w, world.tokens["alice"], unique("MINE_"), value), 201)
    for who in ("bob", "carol", "tadmin", "auditor"):
        tok = world.tokens[who]
        not_found(call(w, "PUT", f"/secrets/{s['id']}", tok, json={"value": "stolen"}))
        not_found(call(w, "DELETE", f"/secrets/{s['id']}", tok))
        items, text = listed(w, tok)
        assert s["id"] not in [x["id"] for x in items] and value not in text
    not_found(call(w, "PUT", "/secrets/00000000-0000-4000-8000-000000000000",
                   world.tokens["alice"], json={"value": "x"}))
    not_found(call(w, "DELETE", "/secrets/not-an-id", world.tokens["alice"]))
    # Still there, unchanged.
    assert s["id"] in [x["id"] for x in listed(w, world.tokens["alice"])[0]]
    problem(call(w, "GET", "/secrets"), 401)


def test_org_secrets(w, world):
    """Org A: alice owner, dave admin, bob member; carol is in org B."""
    org = world.org_a
    value = value_for("org")
    s = ok(create(w, world.tokens["alice"], unique("ORG_"), value, org=org), 201)
    assert s["scope"] == "org" and s["owner_id"] == org
    by_admin = ok(create(w, world.tokens["dave"], unique("ORG_"), "x", org=org), 201)
    assert by_admin["scope"] == "org"
    # Members see the names, and cannot manage them.
    items, text = listed(w, world.tokens["bob"])
    assert s["id"] in [x["id"] for x in items] and value not in text
    problem(create(w, world.tokens["bob"], unique("ORG_"), "x", org=org), 403, "forbidden")
    problem(call(w, "PUT", f"/secrets/{s['id']}", world.tokens["bob"], json={"value": "y"}),
            403, "forbidden")
    problem(call(w, "DELETE", f"/secrets/{s['id']}", world.tokens["bob"]), 403, "forbidden")
    # Outsiders do not see the organization's secrets at all.
    carol = world.tokens["carol"]
    not_found(create(w, carol, unique("ORG_"), "x", org=org))
    not_found(call(w, "PUT", f"/secrets/{s['id']}", carol, json={"value": "y"}))
    not_found(call(w, "DELETE", f"/secrets/{s['id']}", carol))
    assert s["id"] not in [x["id"] for x in listed(w, carol)[0]]
    not_found(create(w, carol, unique("ORG_"), "x", org="00000000-0000-4000-8000-000000000000"))
    # The org admin rotates, the owner deletes; platform admins may too.
    ok(call(w, "PUT", f"/secrets/{s['id']}", world.tokens["dave"], json={"value": "z"}))
    ok(call(w, "PUT", f"/secrets/{by_admin['id']}", world.admin, json={"value": "w"}))
    rid = new_request_id()
    ok(req(w, "DELETE", f"/secrets/{s['id']}", world.tokens["alice"], rid=rid), 204)
    assert_audit(w, world.admin, rid, "secret.delete", actor=world.users["alice"],
                 target_id=s["id"])
    ok(create(w, world.admin, unique("ORG_"), "by the platform admin", org=org), 201)
    assert psql(w, f"SELECT count(*) FROM secrets WHERE id = {q(s['id'])}") == "0"


def test_values_never_returned_by_any_endpoint(w, world):
    """Every GET a user and an admin can make after creating a secret and
    a workspace that receives it: the value is in none of them."""
    tok = world.tokens["alice"]
    value = value_for("nowhere")
    name = unique("DEPLOY_KEY_")
    s = ok(create(w, tok, name, value), 201)
    t = make_template(w, world.tokens["tadmin"], secrets=[name])
    assert t["active"]["secrets"] == [name]
    ws = make_ws(w, tok, t["id"], secrets=[name])
    assert ws["secrets"] == [name]
    paths = ["/secrets", "/me", "/workspaces", f"/workspaces/{ws['id']}",
             f"/workspaces/{ws['id']}/builds", f"/builds/{ws['build_id']}",
             f"/builds/{ws['build_id']}/logs", "/templates", f"/templates/{t['id']}",
             f"/templates/{t['id']}/versions", "/openapi.json"]
    for token in (tok, world.admin):
        for path in paths:
            r = call(w, "GET", path, token)
            assert r.status_code == 200, (path, r.status_code)
            assert value not in r.text, path
    for path, params in (("/audit", {"limit": 200}), ("/users", {"limit": 200}),
                         (f"/quotas/users/{world.id('alice')}", None)):
        r = call(w, "GET", path, world.admin, params=params)
        assert r.status_code == 200 and value not in r.text, path
    assert not [e for e in audit_entries(w, world.admin, target=s["id"])
                if value in str(e)]


def test_secrets_unavailable_without_a_private_key_file(pg, tmp_path_factory):
    """A key file others can read is refused: warren-api starts, and the
    secrets endpoints answer 503 until the key is fixed."""
    d = tmp_path_factory.mktemp("ctl-badkey")
    key = d / "secret.key"
    key.write_text("A" * 43 + "\n")
    os.chmod(key, 0o644)
    s = open_stack(pg, d, workers=1)
    try:
        world = World(s, members=("alice",))
        tok = world.tokens["alice"]
        problem(create(s, tok, "X", "y"), 503, "not-ready", "secret")
        ok(call(s, "GET", "/secrets", tok))
        assert psql(s, "SELECT count(*) FROM secrets") == "0"
        assert "must not be readable by others" in s.log()
    finally:
        close_stack(s)
