"""Bounded work per request and images from allowed registries (issue 15
points 5 and 7).

A parameter pattern whose compilation grows without bound (repetitions of
repetitions) is refused at once and cheaply; each worker's address space is
capped (worker_memory_limit), so a runaway fails one request.  A template's
image may come only from a public registry name, or from the operator's
list (image_registries): never from loopback, private or link-local
addresses, which would make dockerd call the host's own services; the
reconciler holds to it for templates older than the policy.
"""

import subprocess
import time

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import API_BIN, assert_problem  # noqa: E402
from docker_util import version_spec  # noqa: E402
from identity_util import call, close_stack, ctl_user, open_stack, sign_in, unique  # noqa: E402

pytest_plugins = ["docker_util"]

EXPLOSIVE = "((((a{1,15}){1,15}){1,15}){1,15}){1,15}"


@pytest.fixture(scope="module")
def lim(pg, tmp_path_factory):
    w = open_stack(pg, tmp_path_factory.mktemp("limits"), worker_memory_limit="256m")
    try:
        admin = ctl_user(w, "limadmin", role="admin")
        yield w, sign_in(w, admin)["access_token"]
    finally:
        close_stack(w)


def template(w, token, **version):
    return call(w, "POST", "/templates", token,
                json={"name": unique("lim-"), "version": version_spec(**version)})


def param(pattern):
    return [{"name": "P", "type": "string", "pattern": pattern, "default": "a"}]


@pytest.mark.parametrize("pattern,word", [
    (EXPLOSIVE, "repeats a group that repeats itself"),
    ("(a*)*", "repeats a group that repeats itself"),
    ("(a+|b)+", "repeats a group that repeats itself"),
    ("((a{2}))+", "repeats a group that repeats itself"),
    ("a{1,65}", "beyond 64"),
    ("a{100}", "beyond 64"),
    ("a?" * 17, "too many repetitions"),
    ("x" * 129, "at most 128"),
    ("(a", "unclosed"),
    ("[a", "unclosed"),
])
def test_costly_patterns_refused_at_once(lim, pattern, word):
    w, token = lim
    t0 = time.monotonic()
    r = template(w, token, parameters=param(pattern))
    took = time.monotonic() - t0
    body = assert_problem(r, 400)
    assert word in body["detail"], body
    assert took < 2, took


@pytest.mark.parametrize("pattern", ["^[a-z][a-z0-9-]{0,62}$", "a{1,15}b{1,15}",
                                     "(ab|cd)+", "[(]{2}x", "\\(a*\\)*"])
def test_reasonable_patterns_accepted(lim, pattern):
    w, token = lim
    r = template(w, token, parameters=[{"name": "P", "type": "string", "pattern": pattern}])
    assert r.status_code == 201, r.text


def test_each_worker_has_a_memory_cap(lim):
    w, _ = lim
    asan = "libasan" in subprocess.run(["ldd", str(API_BIN)], capture_output=True,
                                       text=True).stdout
    for pid in w.workers():
        limits = open(f"/proc/{pid}/limits").read()
        line = next(l for l in limits.splitlines() if l.startswith("Max address space"))
        if asan:
            assert "unlimited" in line, line   # AddressSanitizer needs it all
        else:
            assert line.split()[3] == str(256 << 20), line
    # The master, which only forks and watches, keeps none.
    master = open(f"/proc/{w.master}/limits").read()
    assert "unlimited" in next(l for l in master.splitlines()
                               if l.startswith("Max address space"))


@pytest.mark.parametrize("image", [
    "127.0.0.1:2375/x", "127.1:2375/x", "0x7f.0.0.1:2375/x", "localhost:5000/x",
    "registry.localhost/x", "10.0.0.5/x", "192.168.1.2:5000/x", "172.20.1.1/x",
    "169.254.169.254/latest", "registry:5000/x", "nas.local/x",
])
def test_images_from_the_hosts_own_services_refused(lim, image):
    w, token = lim
    body = assert_problem(template(w, token, image=image), 400)
    assert "refused" in body["detail"] and "public name" in body["detail"], body


@pytest.mark.parametrize("image", ["busybox", "ghcr.io/acme/ide:2", "registry.example.org:5000/x",
                                   "172.32.0.1/x"])
def test_images_from_public_names_accepted(lim, image):
    w, token = lim
    r = template(w, token, image=image)
    assert r.status_code == 201, r.text


def test_operators_list_allows_exactly_its_registries(pg, tmp_path):
    w = open_stack(pg, tmp_path / "reglist", image_registries="127.0.0.1:5000 docker.io")
    try:
        token = sign_in(w, ctl_user(w, "regadmin", role="admin"))["access_token"]
        assert template(w, token, image="127.0.0.1:5000/warren/ide:1").status_code == 201
        assert template(w, token, image="busybox").status_code == 201
        body = assert_problem(template(w, token, image="ghcr.io/acme/ide:2"), 400)
        assert "image_registries" in body["detail"], body
        assert_problem(template(w, token, image="127.0.0.1:5001/warren/ide:1"), 400)
    finally:
        close_stack(w)


def test_reconciler_refuses_an_older_templates_image(st):
    """A template made before the policy (its image changed in the
    database): the start fails with the reason, and dockerd is never asked
    for the image."""
    st.reconciler().start()
    tpl = st.template()
    st.alter_version(tpl["id"], "image", "127.0.0.1:2375/warren/x:1")
    ws = st.workspace(tpl)
    b = st.wait_build(ws["build_id"], 30, "failed")
    assert "image 127.0.0.1:2375/warren/x:1 is refused" in b["error"], b
    assert not any(l.startswith("pulling image") for l in st.log_lines(ws["build_id"]))
