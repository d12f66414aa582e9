"""Warren's standard workspace images (issue 16, points 1 and 2): built here
by `warrenctl images build` from Debian's packages (images/), cached, each
with its template; and a real IDE through the shipped nginx site: Jupyter
Notebook from Debian runs a cell through its kernel's WebSocket, which it
accepts only when the Host it gets (port included) matches the browser's
Origin.

The images go into the tests' private dockerd.  Root file systems are kept
in WARREN_IMAGE_CACHE when tools/test sets it, so that the sanitizer run
imports them instead of building them again.
"""

import json
import os
import subprocess
import time
import uuid

import pytest

pytest.register_assert_rewrite("routing_util", "docker_util")

import requests  # noqa: E402
import websocket  # noqa: E402

from conftest import CTL_BIN  # noqa: E402
from identity_util import unique  # noqa: E402
from routing_util import host_of, routing_stack  # noqa: E402

pytest_plugins = ["docker_util", "routing_util"]

BUILD_TIMEOUT = 1500


@pytest.fixture(scope="module")
def st(pg, dockerd, tmp_path_factory):
    with routing_stack(pg, tmp_path_factory.mktemp("images"), dockerd) as s:
        yield s


def images(st, *args, timeout=BUILD_TIMEOUT):
    env = dict(st.w.env)
    env.pop("DOCKER_HOST", None)   # warrenctl sets it from docker_host
    # The stack's environment has no WARREN_* variables: the cache's is
    # passed on, so that the sanitizer run and tests/e2e import, not build.
    if os.environ.get("WARREN_IMAGE_CACHE"):
        env["WARREN_IMAGE_CACHE"] = os.environ["WARREN_IMAGE_CACHE"]
    return subprocess.run([str(CTL_BIN), "-c", str(st.w.conf_path), "images", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def label(st, tag):
    return st.docker.image(tag)["Config"]["Labels"]["warren.recipe"]


def test_demo_is_built_then_found_up_to_date(st):
    st.docker.remove_image("warren/demo:1")
    r = images(st, "build", "demo")
    assert r.returncode == 0, r.stderr
    assert ("demo: building the root file system of warren/demo:1" in r.stderr
            or "demo: the root file system of recipe" in r.stderr), r.stderr
    assert "demo: warren/demo:1 built in" in r.stdout, r.stdout
    key = label(st, "warren/demo:1")
    image_id = st.docker.image("warren/demo:1")["Id"]
    # Nothing changed: found, not built.
    r = images(st, "build", "demo")
    assert r.returncode == 0 and r.stdout.strip() == f"demo: warren/demo:1 is up to date (recipe {key})", r
    assert st.docker.image("warren/demo:1")["Id"] == image_id
    r = images(st, "list")
    assert r.returncode == 0, r.stderr
    lines = {ln.split()[0]: ln for ln in r.stdout.splitlines()}
    assert "built, up to date" in lines["demo"] and "warren/demo:1" in lines["demo"], r.stdout
    assert {"demo", "jupyter"} <= set(lines), r.stdout
    # --force builds again, to the same recipe.
    r = images(st, "build", "demo", "--force")
    assert r.returncode == 0 and "built in" in r.stdout, r
    assert label(st, "warren/demo:1") == key


@pytest.mark.parametrize("args, code, message", [
    (["build", "nope"], 1, "no image recipe 'nope'"),
    (["build", "demo", "../etc"], 1, "no image recipe '../etc'"),
    (["build", "demo", "--fast"], 2, "usage"),
    (["build"], 2, "usage"),
    (["template", "nope"], 1, "no image recipe 'nope'"),
    (["frobnicate"], 2, "usage"),
])
def test_bad_requests_build_nothing(st, args, code, message):
    before = {i["Id"] for i in st.docker.call("GET", "/images/json")}
    r = images(st, *args, timeout=60)
    assert r.returncode == code and message in r.stderr, (r.returncode, r.stderr)
    assert {i["Id"] for i in st.docker.call("GET", "/images/json")} == before


def test_templates_are_accepted_by_the_api(st):
    for name in ("demo", "jupyter"):
        r = images(st, "template", name, timeout=60)
        assert r.returncode == 0, r.stderr
        spec = json.loads(r.stdout)
        spec["name"] = unique(f"{name}-")
        t = st.api("POST", "/templates", 201, json=spec).json()
        assert t["active"]["image"] == f"warren/{name}:1", t


# ----------------------------------------------------------------- Jupyter


def kernel_runs(st, ws_host, token, code, check=None):
    """Runs code in a new kernel of the notebook at ws_host through nginx,
    as the notebook's page does: the REST API with its XSRF cookie, then
    the kernel's channels WebSocket with the browser's Origin.  Returns
    what the cell printed; check(kernel_id) runs before the kernel is shut
    down."""
    base = f"http://127.0.0.1:{st.port}"
    s = requests.Session()
    s.headers.update({"Host": ws_host, "Authorization": f"Bearer {token}"})
    r = s.get(base + "/tree", timeout=30)
    assert r.status_code == 200 and "Jupyter" in r.text, (r.status_code, r.text[:300])
    xsrf = s.cookies.get("_xsrf")
    assert xsrf, r.headers
    r = s.post(base + "/api/kernels", json={"name": "python3"}, timeout=60,
               headers={"X-XSRFToken": xsrf, "Origin": f"http://{ws_host}"})
    assert r.status_code == 201, (r.status_code, r.text[:300])
    kernel = r.json()["id"]
    session = uuid.uuid4().hex
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{st.port}/api/kernels/{kernel}/channels?session_id={session}",
        host=ws_host, origin=f"http://{ws_host}", timeout=60,
        header=[f"Authorization: Bearer {token}"], cookie=f"_xsrf={xsrf}")
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "coder", "session": session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False,
                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        out, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline:
            m = json.loads(ws.recv())
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "stream":
                out += m["content"]["text"]
            if m["msg_type"] == "execute_reply":
                assert m["content"]["status"] == "ok", m["content"]
                if check is not None:
                    check(kernel)
                return out
        pytest.fail("no execute_reply within 60 s")
    finally:
        ws.close()
        s.delete(f"{base}/api/kernels/{kernel}", headers={"X-XSRFToken": xsrf}, timeout=30)


def running_workspace(st, image, user, timeout):
    """Builds the image, makes a template of it from its recipe's template,
    and a running workspace of it for a new user: (workspace, token)."""
    r = images(st, "build", image)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    spec = json.loads(images(st, "template", image, timeout=60).stdout)
    tpl = st.api("POST", "/templates", 201, json=spec).json()
    _, token = st.user(user)
    ws = st.as_user(token, "POST", "/workspaces", 201,
                    json={"name": unique(f"{image}-"), "template": tpl["id"]}).json()
    rec = st.reconciler().start()
    try:
        st.wait_build(ws["build_id"], timeout, "succeeded")
    finally:
        rec.close()
    return ws, token


def test_jupyter_runs_a_cell_through_nginx(st):
    ws, ta = running_workspace(st, "jupyter", "alice", 240)
    # The browser's Host on the README's port (not 80): kept by nginx.
    ws_host = f"{host_of(ws)}:{st.port}"
    published = st.port_of(ws, 8888)

    def refused_without_the_port(kernel):
        """What the notebook does with a Host that lost its port (as
        nginx's $host sent it): its WebSocket refuses the browser's
        Origin."""
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(
                f"ws://127.0.0.1:{published}/api/kernels/{kernel}/channels",
                host=host_of(ws), origin=f"http://{ws_host}", timeout=30)
        assert e.value.status_code == 403, e.value

    out = kernel_runs(st, ws_host, ta, "import os\n"
                      "open('/home/coder/from-the-kernel.txt', 'w').write('kept')\n"
                      "print(6 * 7, os.getuid())", check=refused_without_the_port)
    assert out == "42 1000\n", out
    code, text = st.docker.exec(st.cname(ws), ["cat", "/home/coder/from-the-kernel.txt"])
    assert code == 0 and text.strip() == "kept", text


# ------------------------------------------------------------- code-server


def test_code_server_editor_connects_through_nginx(st):
    """code-server from npm (images/code-server.sh): the workbench page, and
    the WebSocket its editor opens to the server, through nginx with the
    browser's Host and Origin; the same handshake with the port lost from
    the Host is refused by code-server."""
    ws, ta = running_workspace(st, "code-server", "carol", 300)
    ws_host = f"{host_of(ws)}:{st.port}"
    base = f"http://127.0.0.1:{st.port}"
    s = requests.Session()
    s.headers.update({"Host": ws_host, "Authorization": f"Bearer {ta}"})
    r = s.get(base + "/", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "./?folder=/home/coder", r.headers
    r = s.get(base + "/?folder=/home/coder", timeout=30)
    assert r.status_code == 200 and "vscode-workbench-web-configuration" in r.text, r.text[:300]
    path = f"/?reconnectionToken={uuid.uuid4()}&reconnection=false&skipWebSocketFrames=false"
    conn = websocket.create_connection(f"ws://127.0.0.1:{st.port}{path}", host=ws_host,
                                       origin=f"http://{ws_host}", timeout=30,
                                       header=[f"Authorization: Bearer {ta}"])
    assert conn.connected
    conn.close()
    published = st.port_of(ws, 8080)
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(f"ws://127.0.0.1:{published}{path}", host=host_of(ws),
                                    origin=f"http://{ws_host}", timeout=30)
    assert e.value.status_code == 403, e.value
    # The image's tools, as the workspace's user, in its home.
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", "id -u; git --version; "
                                              "node --version; touch ~/mine && echo ok"])
    assert code == 0 and out.split()[0] == "1000" and "git version" in out \
        and "v24." in out and out.split()[-1] == "ok", out
