"""Issue 4, OpenAPI: GET /api/v1/openapi.json is a structurally valid
OpenAPI 3.1 document that lists exactly the routes of the route table
(`warrenctl routes`) with their methods."""

import re

import pytest

from conftest import run_ctl
from control_util import PUBLIC_URL, close_stack, ok, open_stack
from openapi_util import resolve, walk

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PATH_ITEM_KEYS = METHODS | {"$ref", "summary", "description", "servers", "parameters"}
OPERATION_KEYS = {"tags", "summary", "description", "externalDocs", "operationId",
                  "parameters", "requestBody", "responses", "callbacks", "deprecated",
                  "security", "servers"}
RESPONSE_CODE = re.compile(r"^(default|[1-5]XX|[1-5][0-9][0-9])$")
POLICIES = {"public", "user", "auditor", "template-admin", "admin"}


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("ctl-openapi"), workers=1)
    yield stack
    close_stack(stack)


@pytest.fixture(scope="module")
def doc(w):
    # Public: no credentials needed.
    r = w.get("/api/v1/openapi.json")
    return ok(r)


@pytest.fixture(scope="module")
def routes(w):
    """[(METHOD, pattern, name, policy)] from `warrenctl routes`."""
    r = run_ctl("-c", w.conf_path, "routes", env=w.env)
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        parts = line.split()
        assert len(parts) == 4, line
        out.append(tuple(parts))
    assert len(out) >= 40, out
    return out


def test_top_level_structure(doc):
    assert isinstance(doc["openapi"], str) and re.match(r"^3\.1\.\d+$", doc["openapi"]), doc
    info = doc["info"]
    assert isinstance(info.get("title"), str) and info["title"]
    assert isinstance(info.get("version"), str) and info["version"]
    assert isinstance(doc["paths"], dict) and doc["paths"]
    assert set(doc) <= {"openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks",
                        "components", "security", "tags", "externalDocs"}, set(doc)
    servers = doc.get("servers", [])
    assert all(isinstance(s.get("url"), str) for s in servers)
    assert [s["url"] for s in servers] == [PUBLIC_URL]


def test_every_path_and_operation_is_well_formed(doc):
    op_ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/"), path
        assert set(item) <= PATH_ITEM_KEYS, (path, set(item) - PATH_ITEM_KEYS)
        templated = re.findall(r"\{([^}/]+)\}", path)
        declared = {p["name"] for p in item.get("parameters", []) if p.get("in") == "path"}
        for method in set(item) & METHODS:
            op = item[method]
            assert set(op) <= OPERATION_KEYS | {k for k in op if k.startswith("x-")}, \
                (path, method, set(op))
            assert isinstance(op.get("operationId"), str) and op["operationId"], (path, method)
            op_ids.append(op["operationId"])
            here = declared | {p["name"] for p in op.get("parameters", [])
                               if p.get("in") == "path"}
            # Every {name} in the path is a required path parameter, and
            # no path parameter is declared that the path lacks.
            assert here == set(templated), (path, method, here, templated)
            for p in item.get("parameters", []) + op.get("parameters", []):
                assert p["in"] in {"path", "query", "header", "cookie"}, p
                if p["in"] == "path":
                    assert p.get("required") is True, p
                assert "schema" in p or "content" in p, p
            responses = op["responses"]
            assert isinstance(responses, dict) and responses, (path, method)
            for code, resp in responses.items():
                assert RESPONSE_CODE.match(code), (path, method, code)
                if "$ref" not in resp:
                    assert isinstance(resp.get("description"), str), (path, method, code)
            if "requestBody" in op:
                assert isinstance(op["requestBody"].get("content"), dict), (path, method)
            for req in op.get("security", []):
                for scheme in req:
                    assert scheme in doc["components"]["securitySchemes"], (path, scheme)
    assert len(op_ids) == len(set(op_ids)), sorted(x for x in op_ids if op_ids.count(x) > 1)


def test_refs_resolve(doc):
    refs = [(p, n["$ref"]) for p, n in walk(doc) if "$ref" in n]
    assert refs, "expected the problem schema to be referenced"
    for where, ref in refs:
        target = resolve(doc, ref)
        assert isinstance(target, dict), (where, ref)
    for name, scheme in doc["components"]["securitySchemes"].items():
        assert scheme["type"] in {"apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"}, name
        if scheme["type"] == "apiKey":
            assert scheme["in"] in {"query", "header", "cookie"} and scheme["name"], name
        if scheme["type"] == "http":
            assert scheme["scheme"], name


def test_lists_exactly_the_route_table(doc, routes):
    in_table = {(m.lower(), p) for m, p, _, _ in routes}
    in_doc = {(m, p) for p, item in doc["paths"].items() for m in set(item) & METHODS}
    assert in_doc - in_table == set(), f"documented but not routed: {sorted(in_doc - in_table)}"
    assert in_table - in_doc == set(), f"routed but not documented: {sorted(in_table - in_doc)}"
    # The routes of this issue are among them.
    for m, p in [("post", "/api/v1/templates"), ("post", "/api/v1/templates/{id}/versions"),
                 ("get", "/api/v1/workspaces"), ("post", "/api/v1/workspaces/{id}/builds"),
                 ("put", "/api/v1/workspaces/{id}/ports/{port}"),
                 ("delete", "/api/v1/workspaces/{id}/ports/{port}"),
                 ("post", "/api/v1/workspaces/{id}/extend"), ("get", "/api/v1/builds/{id}/logs"),
                 ("put", "/api/v1/quotas/{scope}/{id}"), ("post", "/api/v1/secrets"),
                 ("get", "/api/v1/openapi.json")]:
        assert (m, p) in in_doc, (m, p)


def test_operations_carry_the_route_names_and_policies(doc, routes):
    for method, pattern, name, policy in routes:
        op = doc["paths"][pattern][method.lower()]
        assert op["operationId"] == name, (method, pattern, op["operationId"])
        assert op.get("x-warren-policy") == policy, (method, pattern)
        assert policy in POLICIES
        if policy == "public":
            assert op.get("security") == [], (method, pattern)
        else:
            assert op.get("security"), (method, pattern)
    names = [r[2] for r in routes]
    assert len(names) == len(set(names)), "route names must be unique (they are operationIds)"


def test_document_is_stable_and_cacheable_json(w, doc):
    r = w.get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/json"
    assert r.json() == doc
