"""The OpenAPI document as a contract (issue "OpenAPI 3.1 generated from the
route rows").

The document validates against the official OpenAPI 3.1 JSON Schemas
(tests/data/openapi) and its component schemas are Draft 2020-12 schemas.
Against a running stack, every route of the document is called with a real
request, by its operationId, through DocClient, which builds URLs from the
document's path templates only; each request body is checked against the
operation's requestBody schema and each answer against the document's
response for its status and content type.  A new route with no entry in
CALLS fails the run.  Last, a client that knows nothing but the document
creates a workspace and reads it back.
"""

import copy
import json
import pathlib
import re
import urllib.parse

import jsonschema
import pytest
import requests

from conftest import HTTP_TIMEOUT
from control_util import (
    BASE_DOMAIN, close_stack, finish_latest, open_stack, q, version_spec,
)
from identity_util import api_user, ctl_user, psql, sign_in, unique
from openapi_util import resolve, walk

OAS_DIR = pathlib.Path(__file__).resolve().parent.parent / "data" / "openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Formats are annotations in 2020-12: checked here, with the API's forms.
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _date_time(value):
    return not isinstance(value, str) or bool(RFC3339.match(value))


@FORMATS.checks("uuid")
def _uuid(value):
    return not isinstance(value, str) or bool(UUID.match(value))


# ------------------------------------------------------------- the document


def oas_store():
    """The OpenAPI 3.1 schemas by $id."""
    store = {}
    for path in sorted(OAS_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        store[schema["$id"]] = schema
    assert len(store) == 4, sorted(store)
    return store


def oas_errors(doc):
    """What the official schema (with its base dialect, which also checks
    every Schema Object) finds wrong with doc."""
    store = oas_store()
    errors = []
    for sid in ("https://spec.openapis.org/oas/3.1/schema/2021-04-15",
                "https://spec.openapis.org/oas/3.1/schema-base/2021-04-15"):
        schema = store[sid]
        resolver = jsonschema.RefResolver(base_uri=sid, referrer=schema, store=store)
        v = jsonschema.Draft202012Validator(schema, resolver=resolver)
        errors += [f"{sid}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                   for e in v.iter_errors(doc)]
    return errors


def validate(doc, schema, instance, what):
    """instance against schema, a part of doc whose $refs point into doc."""
    resolver = jsonschema.RefResolver(base_uri="", referrer=doc)
    v = jsonschema.Draft202012Validator(schema, resolver=resolver, format_checker=FORMATS)
    errors = sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, f"{what}: " + "; ".join(
        f"at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]) + \
        f"\n{json.dumps(instance)[:1500]}"


def generic(schema):
    """The placeholder a request body had before it was declared."""
    return schema in ({}, {"type": "object"})


# --------------------------------------------------------------- the client


class DocClient:
    """Calls operations by operationId: the URL comes from the document's
    server path and path template, the request body is checked against the
    requestBody schema, the answer against the responses."""

    def __init__(self, doc, base):
        self.doc = doc
        self.base = base + urllib.parse.urlsplit(doc["servers"][0]["url"]).path.rstrip("/")
        self.ops = {}
        for template, item in doc["paths"].items():
            for method in METHODS:
                if method in item:
                    op = item[method]
                    params = item.get("parameters", []) + op.get("parameters", [])
                    self.ops[op["operationId"]] = (method, template, op, params)
        self.seen = {}

    def url(self, op_id, params, query):
        method, template, op, declared = self.ops[op_id]
        names = {p["name"]: p for p in declared}
        wanted = set(re.findall(r"\{([^}/]+)\}", template))
        assert set(params) == wanted, (op_id, sorted(params), sorted(wanted))
        path = template
        for name, value in params.items():
            assert names[name]["in"] == "path", (op_id, name)
            path = path.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
        queries = {p["name"]: p for p in declared if p["in"] == "query"}
        for name, value in (query or {}).items():
            # Once the operation declares its query, what is sent is in it.
            if queries:
                assert name in queries, f"{op_id}: query {name} is not documented"
                validate(self.doc, queries[name].get("schema", {}), coerce(
                    queries[name].get("schema", {}), value), f"{op_id} ?{name}")
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return url

    def call(self, op_id, params=None, query=None, json=None, token=None, headers=None,
             expect=None, **kwargs):
        assert op_id in self.ops, f"no operation {op_id} in the document"
        method, template, op, _ = self.ops[op_id]
        if json is not None:
            assert "requestBody" in op, f"{op_id}: a body is sent, none is documented"
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            if not generic(schema):
                validate(self.doc, schema, json, f"{op_id} request body")
        elif op.get("requestBody", {}).get("required"):
            pytest.fail(f"{op_id}: the document requires a body")
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        r = requests.request(method.upper(), self.url(op_id, params or {}, query),
                             json=json, headers=h, timeout=HTTP_TIMEOUT,
                             allow_redirects=False, **kwargs)
        self.check(op_id, op, method, r)
        if expect is not None:
            assert r.status_code == expect, (op_id, r.status_code, r.text[:800])
        return r

    def check(self, op_id, op, method, r):
        """The answer is one the document describes, body and all."""
        status = str(r.status_code)
        rs = op["responses"]
        key = next((k for k in (status, status[0] + "XX", "default") if k in rs), None)
        assert key is not None, f"{op_id}: status {status} is not documented: {r.text[:300]}"
        content = rs[key].get("content")
        if not content or method == "head":
            assert r.content == b"", f"{op_id} {status}: a body where none is documented"
            self.seen.setdefault(op_id, set()).add(r.status_code)
            return
        ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
        assert ctype in content, f"{op_id} {status}: {ctype} is not among {sorted(content)}"
        schema = content[ctype].get("schema", {})
        if ctype == "application/json" or ctype.endswith("+json"):
            body = r.json()
        else:
            body = r.text
        validate(self.doc, schema, body, f"{op_id} {status} {ctype}")
        self.seen.setdefault(op_id, set()).add(r.status_code)


def coerce(schema, value):
    """A query string's value as the type its schema names."""
    types = schema.get("type", [])
    types = types if isinstance(types, list) else [types]
    if "integer" in types and re.fullmatch(r"-?\d+", str(value)):
        return int(value)
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    return str(value)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    # A GitHub client id: the start of a sign-in builds its redirect
    # without asking GitHub anything.
    stack = open_stack(pg, tmp_path_factory.mktemp("openapi-contract"), workers=2,
                       github_client_id="contract-client",
                       github_client_secret="contract-secret")
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def doc(w):
    r = w.get("/api/v1/openapi.json")
    assert r.status_code == 200, r.text[:300]
    return r.json()


@pytest.fixture(scope="module")
def client(w, doc):
    return DocClient(doc, w.base)


class Ctx:
    """What the calls need, made once when first asked for: users signed
    in, a template, workspaces in the states a call needs."""

    def __init__(self, w, c):
        self.w, self.c = w, c
        self.admin_user = ctl_user(w, unique("root"), role="admin")
        self.admin = sign_in(w, self.admin_user)["access_token"]
        name = unique("alice")
        self.alice = api_user(w, self.admin, name, password=f"{name}-password-1")
        self.token = sign_in(w, self.alice)["access_token"]
        self.cache = {}

    def once(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def fresh_user(self):
        name = unique("u")
        u = api_user(self.w, self.admin, name, password=f"{name}-password-1")
        return u, sign_in(self.w, u)

    def template(self):
        return self.once("template", lambda: self.c.call(
            "templates_create", token=self.admin, expect=201,
            json={"name": unique("tpl-"), "display_name": "Contract",
                  "version": version_spec()}).json())

    def workspace(self, key="ws", start=True):
        def make():
            body = {"name": unique("ws-"), "template": self.template()["id"]}
            if not start:
                body["start"] = False
            return self.c.call("workspaces_create", token=self.token, json=body,
                               expect=201).json()
        return self.once(key, make)

    def build(self):
        def make():
            ws = self.workspace("ws-builds", start=False)
            b = self.c.call("builds_create", {"id": ws["id"]}, token=self.token,
                            json={"transition": "start"}, expect=201).json()
            psql(self.w, "INSERT INTO build_logs (build_id, stream, line) VALUES"
                         f" ({q(b['id'])}, 'stdout', 'pulling the image')")
            return b
        return self.once("build", make)

    def org(self):
        return self.once("org", lambda: self.c.call(
            "orgs_create", token=self.admin, json={"name": unique("org-")},
            expect=201).json())

    def host(self):
        return f"{self.workspace()['short_id']}.{BASE_DOMAIN}"


@pytest.fixture(scope="module")
def ctx(w, client):
    return Ctx(w, client)


# ----------------------------------------------------- how to call each route


def c_forward(x):
    # Not running yet: the authorizer's own text/plain refusal.
    r = x.c.call("auth_forward", token=x.token, expect=403,
                 headers={"X-Forwarded-Host": x.host(), "X-Original-URI": "/"})
    assert r.headers["X-Warren-State"] == "starting", r.headers
    x.c.call("auth_forward", headers={"X-Forwarded-Host": "nowhere.example",
                                      "X-Original-URI": "/"}, expect=403)


def c_handoff(x):
    r = x.c.call("auth_handoff", query={"host": x.host(), "path": "/"}, expect=302)
    assert r.headers["Location"], r.headers


def c_redeem(x):
    x.c.call("auth_handoff_redeem", query={"code": "not-a-code", "path": "/"},
             headers={"X-Forwarded-Host": x.host()})


def c_callback(x):
    # A script gets the problem, a browser the sign-in page.
    x.c.call("auth_oauth_callback", {"provider": "github"},
             query={"state": "unknown-state", "code": "c"}, expect=403)
    x.c.call("auth_oauth_callback", {"provider": "github"},
             query={"state": "unknown-state", "code": "c"},
             headers={"Accept": "text/html"}, expect=302)


def c_login(x):
    body = x.c.call("auth_login", json={"username": x.alice.name,
                                        "password": x.alice.password}, expect=200).json()
    assert body["access_token"] and body["refresh_token"], body
    x.c.call("auth_login", json={"username": x.alice.name, "password": "wrong-password"},
             expect=401)


def c_refresh(x):
    _, s = x.fresh_user()
    x.c.call("auth_refresh", json={"refresh_token": s["refresh_token"]}, expect=200)


def c_logout(x):
    _, s = x.fresh_user()
    x.c.call("auth_logout", token=s["access_token"], expect=204)


def c_logout_all(x):
    _, s = x.fresh_user()
    x.c.call("auth_logout_all", token=s["access_token"], expect=204)


def c_session_delete(x):
    s = sign_in(x.w, x.alice)
    x.c.call("me_session_delete", {"id": s["session_id"]}, token=x.token, expect=204)


def c_invitation_revoke(x):
    inv = x.c.call("invitations_create", token=x.admin, json={"role": "member"},
                   expect=201).json()
    x.c.call("invitations_revoke", {"id": inv["id"]}, token=x.admin, expect=204)


def c_users_list(x):
    x.c.call("users_list", token=x.admin, query={"limit": 2}, expect=200)


def c_user_delete(x):
    u = x.c.call("users_create", token=x.admin, json={"username": unique("gone")},
                 expect=201).json()
    x.c.call("users_delete", {"id": u["id"]}, token=x.admin, expect=204)


def c_member_set(x):
    x.c.call("orgs_member_set", {"id": x.org()["id"], "user": x.alice.id}, token=x.admin,
             json={"role": "member"}, expect=200)


def c_members(x):
    c_member_set(x)
    x.c.call("orgs_members", {"id": x.org()["id"]}, token=x.admin, expect=200)


def c_member_remove(x):
    c_member_set(x)
    x.c.call("orgs_member_remove", {"id": x.org()["id"], "user": x.alice.id},
             token=x.admin, expect=204)


def c_org_delete(x):
    o = x.c.call("orgs_create", token=x.admin, json={"name": unique("org-")},
                 expect=201).json()
    x.c.call("orgs_delete", {"id": o["id"]}, token=x.admin, expect=204)


def c_token_revoke(x):
    t = x.c.call("tokens_create", token=x.token,
                 json={"name": unique("t"), "scope": "read"}, expect=201).json()
    x.c.call("tokens_revoke", {"id": t["id"]}, token=x.token, expect=204)


def c_tokens_list(x):
    x.c.call("tokens_create", token=x.token, json={"name": unique("t"), "scope": "full",
                                                   "expires_in_days": 7}, expect=201)
    x.c.call("tokens_list", token=x.token, expect=200)


def c_template_archive(x):
    t = x.c.call("templates_create", token=x.admin, expect=201,
                 json={"name": unique("tpl-"), "version": version_spec()}).json()
    x.c.call("templates_archive", {"id": t["id"]}, token=x.admin, expect=204)


def c_version_create(x):
    return x.once("version", lambda: x.c.call(
        "templates_version_create", {"id": x.template()["id"]}, token=x.admin,
        json=version_spec(pool={"size": 1}), expect=201).json())


def c_version_get(x):
    v = c_version_create(x)
    x.c.call("templates_version_get", {"id": x.template()["id"], "number": v["number"]},
             token=x.token, expect=200)


def c_workspaces_list(x):
    x.workspace()
    x.workspace("ws-stopped", start=False)
    x.c.call("workspaces_list", token=x.token, query={"limit": 1}, expect=200)
    x.c.call("workspaces_list", token=x.token, expect=200)


def c_workspace_get(x):
    ws = x.workspace()
    x.c.call("workspaces_get", {"id": ws["id"]}, token=x.token, expect=200)
    x.c.call("workspaces_get", {"id": "00000000-0000-4000-8000-00000000abcd"},
             token=x.token, expect=404)


def c_workspace_delete(x):
    ws = x.workspace("ws-delete", start=False)
    x.c.call("workspaces_delete", {"id": ws["id"]}, token=x.token, expect=202)


def c_port_unshare(x):
    ws = x.workspace()
    x.c.call("workspaces_port_share", {"id": ws["id"], "port": 2222}, token=x.token,
             json={"level": "owner"}, expect=200)
    x.c.call("workspaces_port_unshare", {"id": ws["id"], "port": 2222}, token=x.token,
             expect=204)


def c_builds_create(x):
    ws = x.workspace("ws-rebuild")
    finish_latest(x.w, ws["id"])
    x.c.call("builds_create", {"id": ws["id"]}, token=x.token,
             json={"transition": "stop"}, expect=201)
    x.c.call("builds_create", {"id": ws["id"]}, token=x.token,
             json={"transition": "start"}, expect=409)


def c_quota_set(x):
    x.c.call("quotas_set", {"scope": "users", "id": x.alice.id}, token=x.admin,
             json={"max_workspaces": 50, "max_running": None}, expect=200)


def c_secret(x):
    return x.once("secret", lambda: x.c.call(
        "secrets_create", token=x.token, json={"name": unique("S_"), "value": "v1"},
        expect=201).json())


def c_secret_delete(x):
    s = x.c.call("secrets_create", token=x.token, json={"name": unique("S_"), "value": "v"},
                 expect=201).json()
    x.c.call("secrets_delete", {"id": s["id"]}, token=x.token, expect=204)


def c_registry(x):
    return x.once("registry", lambda: x.c.call(
        "registries_create", token=x.admin, expect=201,
        json={"registry": f"{unique('r')}.example.org", "username": "u",
              "password": "p"}).json())


def c_registry_delete(x):
    r = x.c.call("registries_create", token=x.admin, expect=201,
                 json={"registry": f"{unique('r')}.example.org", "username": "u",
                       "password": "p"}).json()
    x.c.call("registries_delete", {"id": r["id"]}, token=x.admin, expect=204)


# Every operationId of the document, and how to call it for real; the
# order is the order they run in.
CALLS = {
    "health": lambda x: x.c.call("health", expect=200),
    "ready": lambda x: x.c.call("ready", expect=200),
    "echo": lambda x: x.c.call("echo", json={"a": [1, "two"]}, expect=200),
    "openapi": lambda x: x.c.call("openapi", expect=200),
    "auth_login": c_login,
    "auth_refresh": c_refresh,
    "auth_logout": c_logout,
    "auth_logout_all": c_logout_all,
    "auth_providers": lambda x: x.c.call("auth_providers", expect=200),
    "auth_oauth_start": lambda x: x.c.call("auth_oauth_start", {"provider": "github"},
                                           query={"return_to": "/"}, expect=302),
    "auth_oauth_callback": c_callback,
    "auth_forward": c_forward,
    "auth_handoff": c_handoff,
    "auth_handoff_redeem": c_redeem,
    "invitations_create": lambda x: x.c.call(
        "invitations_create", token=x.admin, expect=201,
        json={"email": f"{unique('i')}@example.org", "role": "auditor",
              "expires_in_hours": 24}),
    "invitations_list": lambda x: x.c.call("invitations_list", token=x.admin, expect=200),
    "invitations_revoke": c_invitation_revoke,
    "me": lambda x: x.c.call("me", token=x.token, expect=200),
    "me_sessions": lambda x: x.c.call("me_sessions", token=x.token, expect=200),
    "me_session_delete": c_session_delete,
    "users_create": lambda x: x.c.call(
        "users_create", token=x.admin, expect=201,
        json={"username": unique("bob"), "email": f"{unique('b')}@example.org",
              "display_name": "Bob", "password": "bob-password-1", "role": "member"}),
    "users_list": c_users_list,
    "users_get": lambda x: x.c.call("users_get", {"id": x.alice.id}, token=x.token,
                                    expect=200),
    "users_update": lambda x: x.c.call("users_update", {"id": x.alice.id}, token=x.token,
                                       json={"display_name": "Alice"}, expect=200),
    "users_delete": c_user_delete,
    "orgs_create": lambda x: x.org(),
    "orgs_list": lambda x: (x.org(), x.c.call("orgs_list", token=x.admin, expect=200)),
    "orgs_get": lambda x: x.c.call("orgs_get", {"id": x.org()["id"]}, token=x.admin,
                                   expect=200),
    "orgs_update": lambda x: x.c.call("orgs_update", {"id": x.org()["id"]}, token=x.admin,
                                      json={"display_name": "Org"}, expect=200),
    "orgs_member_set": c_member_set,
    "orgs_members": c_members,
    "orgs_member_remove": c_member_remove,
    "orgs_delete": c_org_delete,
    "tokens_create": lambda x: x.c.call("tokens_create", token=x.token, expect=201,
                                        json={"name": unique("t"), "scope": "workspace"}),
    "tokens_list": c_tokens_list,
    "tokens_revoke": c_token_revoke,
    "templates_create": lambda x: x.template(),
    "templates_list": lambda x: (x.template(), x.c.call(
        "templates_list", token=x.token, query={"limit": 1}, expect=200)),
    "templates_get": lambda x: x.c.call("templates_get", {"id": x.template()["id"]},
                                        token=x.token, expect=200),
    "templates_update": lambda x: x.c.call(
        "templates_update", {"id": x.template()["id"]}, token=x.admin,
        json={"description": "for the contract"}, expect=200),
    "templates_version_create": c_version_create,
    "templates_versions": lambda x: (c_version_create(x), x.c.call(
        "templates_versions", {"id": x.template()["id"]}, token=x.token, expect=200)),
    "templates_version_get": c_version_get,
    "templates_archive": c_template_archive,
    "workspaces_create": lambda x: x.workspace(),
    "workspaces_list": c_workspaces_list,
    "workspaces_get": c_workspace_get,
    "workspaces_update": lambda x: x.c.call(
        "workspaces_update", {"id": x.workspace()["id"]}, token=x.token,
        json={"autostop_ttl": 3600}, expect=200),
    "workspaces_extend": lambda x: x.c.call(
        "workspaces_extend", {"id": x.workspace()["id"]}, token=x.token,
        json={"hours": 2}, expect=200),
    "workspaces_port_share": lambda x: x.c.call(
        "workspaces_port_share", {"id": x.workspace()["id"], "port": 8080},
        token=x.token, json={"level": "authenticated"}, expect=200),
    "workspaces_port_unshare": c_port_unshare,
    "workspaces_delete": c_workspace_delete,
    "builds_create": c_builds_create,
    "builds_list": lambda x: x.c.call("builds_list", {"id": x.build()["workspace_id"]},
                                      token=x.token, expect=200),
    "builds_get": lambda x: x.c.call("builds_get", {"id": x.build()["id"]},
                                     token=x.token, expect=200),
    "builds_logs": lambda x: x.c.call("builds_logs", {"id": x.build()["id"]},
                                      token=x.token, query={"after": 0}, expect=200),
    "quotas_get": lambda x: x.c.call("quotas_get", {"scope": "users", "id": x.alice.id},
                                     token=x.admin, expect=200),
    "quotas_set": c_quota_set,
    "secrets_create": c_secret,
    "secrets_list": lambda x: (c_secret(x), x.c.call("secrets_list", token=x.token,
                                                     expect=200)),
    "secrets_update": lambda x: x.c.call("secrets_update", {"id": c_secret(x)["id"]},
                                         token=x.token, json={"value": "v2"}, expect=200),
    "secrets_delete": c_secret_delete,
    "registries_create": c_registry,
    "registries_list": lambda x: (c_registry(x), x.c.call("registries_list", token=x.admin,
                                                          expect=200)),
    "registries_update": lambda x: x.c.call(
        "registries_update", {"id": c_registry(x)["id"]}, token=x.admin,
        json={"password": "p2"}, expect=200),
    "registries_delete": c_registry_delete,
    "audit_list": lambda x: x.c.call("audit_list", token=x.admin, query={"limit": 50},
                                     expect=200),
    "metrics": lambda x: x.c.call("metrics", expect=200),
}


# ----------------------------------------------------------------- the tests


def test_document_is_valid_openapi_3_1(doc):
    errors = oas_errors(doc)
    assert not errors, "\n".join(errors[:20])


def test_the_validator_refuses_a_broken_document(doc):
    broken = copy.deepcopy(doc)
    op = broken["paths"]["/api/v1/workspaces/{id}"]["get"]
    op["responses"]["299x"] = {"description": "not a status"}
    del broken["info"]["title"]
    errors = oas_errors(broken)
    assert any("title" in e for e in errors), errors
    assert any("299x" in e for e in errors), errors


def test_refs_resolve_and_component_schemas_are_2020_12(doc):
    refs = [(p, n["$ref"]) for p, n in walk(doc) if isinstance(n.get("$ref"), str)]
    assert len(refs) > 50, refs
    for where, ref in refs:
        assert isinstance(resolve(doc, ref), dict), (where, ref)
    schemas = doc["components"]["schemas"]
    for name in ("Problem", "WorkspaceStatus", "Workspace", "WorkspaceList", "Build",
                 "BuildList", "BuildLogs", "Template", "TemplateVersion", "User", "Me",
                 "Session", "Org", "Member", "Token", "TokenCreated", "Secret",
                 "AuditEntry", "Quota", "Registry", "Health", "Ready", "Invitation",
                 "Providers", "Login", "SignIn"):
        assert name in schemas, name
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
    assert schemas["Workspace"]["properties"]["status"] == {
        "$ref": "#/components/schemas/WorkspaceStatus"}


def test_every_operation_answers_problems_and_examples_match(doc):
    for template, item in doc["paths"].items():
        for method in set(item) & set(METHODS):
            op = item[method]
            rs = op["responses"]
            for rng in ("4XX", "5XX"):
                assert rs[rng]["content"]["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"}, (template, method, rng)
            assert any(k.startswith(("2", "3")) for k in rs), (template, method, sorted(rs))
            for code, resp in rs.items():
                for ctype, media in resp.get("content", {}).items():
                    if "example" in media:
                        validate(doc, media["schema"], media["example"],
                                 f"{op['operationId']} {code} example")


def test_every_route_has_a_call(doc):
    ops = {item[m]["operationId"] for item in doc["paths"].values() for m in METHODS
           if m in item}
    missing = ops - set(CALLS)
    assert not missing, f"routes of the document with no entry in CALLS: {sorted(missing)}"
    assert "workspaces_get" in ops and "workspaces_create" in ops


@pytest.mark.parametrize("route", list(CALLS))
def test_route_answers_as_documented(doc, ctx, route):
    if route not in ctx.c.ops:
        # Test-only routes (echo) are in the document of test builds only.
        assert route == "echo", f"{route} is in CALLS but not in the document"
        pytest.skip("echo is compiled into test builds only")
    CALLS[route](ctx)
    assert route in ctx.c.seen, f"{route} was not called"


def test_an_answer_the_document_does_not_describe_fails(doc, ctx):
    """The checks bite: a member the API does not send, a status it was
    not documented with."""
    ws = ctx.workspace()
    strict = copy.deepcopy(doc)
    strict["components"]["schemas"]["Workspace"]["required"].append("no_such_member")
    with pytest.raises(AssertionError, match="no_such_member"):
        DocClient(strict, ctx.w.base).call("workspaces_get", {"id": ws["id"]},
                                           token=ctx.token)
    del strict["paths"]["/api/v1/workspaces/{id}"]["get"]["responses"]["4XX"]
    with pytest.raises(AssertionError, match="404 is not documented"):
        DocClient(strict, ctx.w.base).call(
            "workspaces_get", {"id": "00000000-0000-4000-8000-00000000abcd"},
            token=ctx.token)


def test_every_documented_route_was_called(doc, ctx):
    missing = set(ctx.c.ops) - set(ctx.c.seen)
    assert not missing, f"never called and checked: {sorted(missing)}"


def test_a_client_from_the_document_creates_and_reads_a_workspace(w, doc):
    """Nothing but the document and operationIds: sign in, make a template,
    create a workspace, read it back."""
    c = DocClient(doc, w.base)
    owner = ctl_user(w, unique("owner"), role="template-admin")
    tokens = c.call("auth_login", json={"username": owner.name, "password": owner.password},
                    expect=200).json()
    token = tokens["access_token"]
    tpl = c.call("templates_create", token=token, expect=201,
                 json={"name": unique("doc-"), "version": version_spec()}).json()
    created = c.call("workspaces_create", token=token, expect=201,
                     json={"name": "from-the-document", "template": tpl["name"]}).json()
    got = c.call("workspaces_get", {"id": created["id"]}, token=token, expect=200).json()
    assert got["id"] == created["id"] and got["name"] == "from-the-document", got
    assert got["template_id"] == tpl["id"] and got["owner_id"] == tokens["user_id"], got
    assert got["status"] == "starting" and got["desired_state"] == "running", got
    listed = c.call("workspaces_list", token=token, expect=200).json()
    assert [x["id"] for x in listed["items"]] == [created["id"]], listed
