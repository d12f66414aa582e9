"""The shipped Traefik examples (etc/traefik/) agree with what the reconciler
writes and with Traefik's published schema.

The dynamic example must be byte for byte what src/recon/traefik.c renders
for the routes it describes: a small program links the real renderer and
prints its output.  Both syntaxes it can write (v3 and v2) are checked
against the JSON schemas of Traefik's file provider (tests/data/traefik,
copied from SchemaStore: see its NOTICE).
"""

import os
import re
import shlex
import subprocess

import jsonschema
import pytest
import yaml

from conftest import BUILD, TOP

EXAMPLES = TOP / "etc" / "traefik"
SCHEMAS = TOP / "tests" / "data" / "traefik"
MARK = "# Written by warren-reconciler"
ROUTES = [("k7qzv2m4xa", 0, "127.0.0.1:32768"), ("k7qzv2m4xa", 8080, "127.0.0.1:32769")]
BASE_DOMAIN = "warren.example.org"
FORWARD_URL = "http://127.0.0.1:8080/api/v1/auth/forward"

RENDER_C = r"""
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include "arena.h"
#include "traefik.h"

static const struct traefik_route r[] = { %(routes)s };

int
main(int argc, char **argv)
{
	struct arena *a = arena_new(65536);

	fputs(traefik_render(a, r, atoi(argv[2]), "%(domain)s", "%(forward)s",
	    atoi(argv[1])), stdout);
	arena_free(a);
	return 0;
}
"""


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    """render(version, n) -> the reconciler's text for the first n routes."""
    d = tmp_path_factory.mktemp("traefik-render")
    src = d / "render.c"
    routes = ", ".join(f'{{ "{i}", {p}, "{u}" }}' for i, p, u in ROUTES)
    src.write_text(RENDER_C % {"routes": routes, "domain": BASE_DOMAIN, "forward": FORWARD_URL})
    cmd = [
        os.environ.get("CC", "cc"), "-std=gnu11",
        f"-I{BUILD}", f"-I{TOP}/src/lib", f"-I{TOP}/src/recon",
        str(src), str(TOP / "src" / "recon" / "traefik.c"),
        str(BUILD / "libwarren.a"), "-o", str(d / "render"),
    ]
    # An ASan build's library needs the sanitizers at link time too.
    cflags = re.search(r"^CFLAGS = (.*)$", (BUILD / "Makefile").read_text(), re.M)
    cmd[1:1] = [f for f in (cflags.group(1).split() if cflags else []) if f.startswith("-fsanitize")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{shlex.join(cmd)}\n{r.stderr}"

    def run(version, n=len(ROUTES)):
        out = subprocess.run([str(d / "render"), str(version), str(n)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout

    return run


def schema(version):
    path = SCHEMAS / f"traefik-v{version}-file-provider.schema.json"
    assert path.exists(), f"{path} is missing"
    return yaml.safe_load(path.read_text())


def test_dynamic_example_is_what_the_reconciler_writes(render):
    text = (EXAMPLES / "warren-dynamic.example.yml").read_text()
    assert MARK in text
    head, body = text.split(MARK, 1)
    assert all(l.startswith("#") or not l.strip() for l in head.splitlines()), head
    assert MARK + body == render(3)
    assert BASE_DOMAIN in head and "k7qzv2m4xa" in head


@pytest.mark.parametrize("version", [3, 2])
@pytest.mark.parametrize("n", [0, 2])
def test_rendered_files_match_traefik_schema(render, version, n):
    doc = yaml.safe_load(render(version, n))
    jsonschema.validate(doc, schema(version))
    assert set(doc["http"]["middlewares"]) == {"warren-auth", "warren-pending",
                                               "warren-strip", "warren-handoff"}
    # A router per route, and two for every workspace host: the end of the
    # hand-off, and Warren's pages for a host without a router.
    assert len(doc["http"]["routers"]) == n + 2


def test_static_example_watches_the_reconcilers_directory():
    static = yaml.safe_load((EXAMPLES / "traefik.yml").read_text())
    assert static["providers"]["file"]["watch"] is True
    directory = static["providers"]["file"]["directory"]
    assert directory == "/var/lib/warren/traefik"
    assert static["entryPoints"], static
    # The comment shows a traefik_file inside that directory, and the
    # reconciler's unit may write there.
    text = (EXAMPLES / "traefik.yml").read_text()
    assert f"traefik_file = {directory}/" in text
    unit = (TOP / "etc" / "systemd" / "warren-reconciler.service").read_text()
    assert re.search(r"^StateDirectory=.*\bwarren/traefik\b", unit, re.M), unit
