"""The Traefik snapshot against Traefik's published schemas (issue 6 point
4): every golden file of tests/unit/golden (the ones traefik_test compares
traefik_render with) loads as YAML, validates against the v2 or v3 file
provider schema with no field the schema does not list, and holds no empty
map.  The file a running reconciler writes is linted the same way in
test_routing_story.py.  The lint itself is shown to reject what Traefik
would reject, so that it cannot pass by accident.
"""

import copy
import re

import pytest

pytest.register_assert_rewrite("routing_util")

from conftest import TOP  # noqa: E402
from routing_util import (  # noqa: E402
    BASE_DOMAIN, SHORT_ID, check_traefik_contract, lint_traefik, traefik_routes,
)

GOLDEN = TOP / "tests" / "unit" / "golden"
FORWARD = "http://127.0.0.1:8080/api/v1/auth/forward"
FILES = sorted(GOLDEN.glob("traefik-*.yml"))


def version_of(path):
    text = path.read_text()
    m = re.search(r"Traefik v(\d)", text.splitlines()[0])
    assert m, f"{path.name}: the first line does not say which Traefik it is for"
    v = int(m.group(1))
    assert ("-v2" in path.name) == (v == 2), f"{path.name} says v{v}"
    return v


def test_golden_files_exist():
    names = {p.name for p in FILES}
    assert {"traefik-empty.yml", "traefik-one.yml", "traefik-shared.yml",
            "traefik-shared-v2.yml"} <= names, names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_golden_lints(path):
    version = version_of(path)
    doc = lint_traefik(path.read_text(), version)
    # The other major version's schema accepts it too: the snapshot uses
    # nothing that differs between them.
    lint_traefik(path.read_text(), 5 - version)
    check_traefik_contract(doc, FORWARD)
    for name, (host, prio, url) in traefik_routes(doc).items():
        label = host[: -len("." + BASE_DOMAIN)]
        assert host.endswith("." + BASE_DOMAIN) and len(label) <= 63, host
        sid, _, port = label.partition("-")
        assert SHORT_ID.match(sid), host
        assert name == f"warren-{label}", (name, host)
        # A shared port's router outranks the main one explicitly.
        assert prio == (200 if port else 100), (name, prio)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url


def host_regexp(rule):
    """The Go regexp of a v3 HostRegexp() rule, as Python's re."""
    m = re.match(r"HostRegexp\(`([^`]+)`\)", rule)
    assert m, rule
    return re.compile(m.group(1))


def test_golden_empty_routes_every_host_to_warren():
    """No workspace runs: no workspace routers, but every workspace host
    (and no other) still reaches Warren's pages and its hand-off."""
    doc = lint_traefik((GOLDEN / "traefik-empty.yml").read_text(), 3)
    check_traefik_contract(doc, FORWARD)
    assert traefik_routes(doc) == {}
    routers = doc["http"]["routers"]
    assert set(routers) == {"warren-any-host", "warren-any-host-handoff"}, routers
    SID = "abcdefgh23"
    any_host = host_regexp(routers["warren-any-host"]["rule"])
    for host in (f"{SID}.{BASE_DOMAIN}", f"{SID}-8080.{BASE_DOMAIN}",
                 f"{SID}-65535.{BASE_DOMAIN}"):
        assert any_host.fullmatch(host), host
    for host in (BASE_DOMAIN, f"x{SID}.{BASE_DOMAIN}", f"{SID}-0.{BASE_DOMAIN}",
                 f"{SID}.{BASE_DOMAIN}.evil.example", f"{SID}xwarren.localhost",
                 f"{SID.upper()}1.{BASE_DOMAIN}"):
        assert not any_host.fullmatch(host), host


def test_v2_host_variables_have_no_capturing_group():
    """Traefik v2's HostRegexp takes {name:regexp} variables, which may not
    hold a capturing group (its router refuses the rule)."""
    doc = lint_traefik((GOLDEN / "traefik-empty-v2.yml").read_text(), 2)
    rules = [r["rule"] for r in doc["http"]["routers"].values()]
    variables = [v for rule in rules for v in re.findall(r"\{[a-z]+:(.*)\}\.", rule)]
    assert len(variables) == 2, rules
    for v in variables:
        assert re.compile(v).groups == 0, v
        assert re.fullmatch(v, "abcdefgh23-8080") and not re.fullmatch(v, "abcdefgh23-0"), v


def test_lint_rejects_what_traefik_rejects():
    """The lint fails on an unknown field (anywhere), on an empty map, and
    on a wrong type: it is not a test that cannot fail."""
    text = (GOLDEN / "traefik-shared.yml").read_text()
    good = lint_traefik(text, 3)
    import yaml

    def bad(mutate):
        doc = copy.deepcopy(good)
        mutate(doc)
        with pytest.raises(AssertionError):
            lint_traefik(yaml.safe_dump(doc), 3)

    bad(lambda d: d["http"].__setitem__("unknown", {"a": 1}))
    bad(lambda d: d["http"]["middlewares"]["warren-auth"]["forwardAuth"]
        .__setitem__("authResponseHeader", ["Cookie"]))
    bad(lambda d: next(iter(d["http"]["routers"].values())).__setitem__("tls", {}))
    bad(lambda d: d["http"].__setitem__("routers", {}))
    bad(lambda d: next(iter(d["http"]["routers"].values())).__setitem__("priority", "high"))
    bad(lambda d: next(iter(d["http"]["services"].values()))["loadBalancer"]
        .__setitem__("servers", []))


def test_handoff_path_is_routed_to_warren():
    doc = lint_traefik((GOLDEN / "traefik-shared.yml").read_text(), 3)
    routers = doc["http"]["routers"]
    handoff = routers["warren-any-host-handoff"]
    assert handoff["rule"].endswith(" && Path(`/_warren/handoff`)"), handoff
    assert "warren-auth" not in handoff["middlewares"], handoff
    for name, (host, _, _) in traefik_routes(doc).items():
        assert host_regexp(handoff["rule"]).fullmatch(host), (host, handoff)
        assert handoff["priority"] > routers[name]["priority"], handoff

