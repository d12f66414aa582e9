"""Web IDEs in Chromium through the shipped nginx site and the shipped
Apache site (issue 16 point 5):
code-server's editor loads with its WebSocket connected and no reconnect
dialog, a command typed in its terminal writes a file of the home volume
that survives a stop and a start, and the app it starts on the second
port opens for its owner and, once shared, for another user; Jupyter runs
a notebook cell through its kernel.

The images are Warren's own (images/), imported from the root file
systems tests/e2e/run built before the network namespace was entered.
Each test runs once per front: nginx is the session's stack; Apache is a
second installation on the same PostgreSQL and Docker Engine (its own
database, warren-api and reconciler) behind etc/apache2/warren.conf.
Screenshots: test-output/screenshots/ide-*-FRONT.png.
"""

import json
import os
import subprocess
import time

import pytest

pytest.register_assert_rewrite("e2e_fixtures", "browser")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from browser import Browser, axe_source  # noqa: E402
from conftest import CTL_BIN, TOP, wait_for  # noqa: E402
from e2e_fixtures import sign_in as site_sign_in  # noqa: E402
from e2e_stack import E2EStack  # noqa: E402

pytest_plugins = ["e2e_fixtures"]

DORA, DORA_PW = "dora", "dora-password-1"
ERIC, ERIC_PW = "eric", "eric-password-1"
BOOT = 300   # an IDE's first start on this small machine


def ctl(stack, *args, timeout=900):
    env = dict(stack.w.env)
    env.pop("DOCKER_HOST", None)   # warrenctl uses docker_host
    # Where tests/e2e/run left the root file systems: no registry here.
    env["WARREN_IMAGE_CACHE"] = os.environ.get("WARREN_IMAGE_CACHE",
                                               str(TOP / "test-output" / "image-cache"))
    r = subprocess.run([str(CTL_BIN), "-c", str(stack.w.conf_path), *args],
                       capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, f"warrenctl {' '.join(args)}: {r.stdout}{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module", params=["nginx", "apache"])
def front(request, stack):
    """The stack behind the front under test."""
    if request.param == "nginx":
        yield stack
        return
    s = E2EStack(front="apache", pg=stack.pg, dockerd=stack.dockerd)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def ide(front):
    """The IDE templates, for the module's tests (and archived after them)."""
    ctl(front, "images", "build", "jupyter", "code-server")
    templates = {}
    for name in ("jupyter", "code-server"):
        spec = json.loads(ctl(front, "images", "template", name, timeout=60))
        # This deployment lets owners share a port with every signed-in user.
        spec["version"]["max_share_level"] = "authenticated"
        templates[name] = front.api("POST", "/templates", 201, json=spec).json()
    for name, pw in ((DORA, DORA_PW), (ERIC, ERIC_PW)):
        r = front.api("POST", "/users", json={"username": name, "password": pw})
        assert r.status_code in (201, 409), r.text
    templates["created"] = []
    yield templates
    # The other tests' pages know the demo template only: these go.
    for ws, token in templates["created"]:
        r = front.api("DELETE", f"/workspaces/{ws['id']}", token=token)
        assert r.status_code in (200, 202, 204), r.text
    # Gone before the next front's tests: a container removed while a page
    # loads changes the network under Chromium (ERR_NETWORK_CHANGED).
    for ws, token in templates["created"]:
        wait_for(lambda: front.api("GET", f"/workspaces/{ws['id']}",
                                   token=token).status_code == 404,
                 120, interval=0.5, what=f"workspace {ws['name']} to be deleted")
    for name in ("jupyter", "code-server"):
        r = front.api("DELETE", f"/templates/{templates[name]['id']}")
        assert r.status_code in (200, 204), r.text


@pytest.fixture
def b(front):
    """A browser of its own: the other tests' browser keeps its session."""
    br = Browser(front.url, axe_source())
    try:
        yield br
    finally:
        br.quit()


def sign_in(b, name, password):
    """Signs in on the site, as nobody else first (every host's cookies
    gone, the workspace hosts' too)."""
    b.d.execute_cdp_cmd("Network.clearBrowserCookies", {})
    site_sign_in(b, name, password)


def running(front, token, template, name, **body):
    ws = front.api("POST", "/workspaces", 201, token=token,
                   json={"name": name, "template": template["id"], **body}).json()

    def settled():
        got = front.api("GET", f"/workspaces/{ws['id']}", 200, token=token).json()
        return got if got["status"] in ("running", "failed") else None

    try:
        got = wait_for(settled, BOOT, interval=0.5, what=f"workspace {name} to start")
    except pytest.fail.Exception:
        got = front.api("GET", f"/workspaces/{ws['id']}", 200, token=token).json()
    if got["status"] != "running":
        log = front.api("GET", f"/builds/{got['build_id']}/logs?limit=1000", 200).json()
        pytest.fail(f"{name} did not start: " + "\n".join(l["line"] for l in log["items"])
                    + "\n" + front.logs())
    return got


def host_of(ws, port=None):
    host = ws["url"].split("//")[1].rstrip("/")
    if port is None:
        return host
    label, rest = host.split(".", 1)
    return f"{label}-{port}.{rest}"


def open_in_browser(b, front, host, path="/"):
    b.d.get(f"{front.url}/api/v1/auth/handoff?host={host}&path={path.replace('/', '%2F')}")


def in_home(front, ws, path):
    code, out = front.dockerd.client.exec(f"warren-{ws['short_id']}", ["cat", path])
    return out.strip() if code == 0 else None


def starter_file(front, token, ws, path):
    """path in the workspace's home, read through Docker's exec; an exec
    Docker could not run is tried again for a few seconds, and a failure
    says what the exec and the build's log said."""
    deadline = time.monotonic() + 10
    while True:
        code, out = front.dockerd.client.exec(f"warren-{ws['short_id']}", ["cat", path])
        if code == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if code != 0:
        log = front.api("GET", f"/builds/{ws['build_id']}/logs?limit=1000", 200,
                        token=token).json()
        pytest.fail(f"cat {path}: exit {code}: {out}\nbuild log:\n"
                    + "\n".join(l["line"] for l in log["items"]))
    return out


def keys(b, *seq):
    chain = ActionChains(b.d)
    for k in seq:
        chain = chain.send_keys(k)
    chain.perform()


def no_reconnect_dialog(b):
    text = b.text("body")
    return "Cannot reconnect" not in text and "Attempting to reconnect" not in text


def test_code_server_in_the_browser(b, front, ide):
    token = front.login(DORA, DORA_PW)
    ws = running(front, token, ide["code-server"], "vscode", starter="flask")
    ide["created"].append((ws, token))
    # The template's Flask starter, put in the home by the first start.
    assert "Flask(__name__)" in starter_file(front, token, ws, "/home/coder/app.py")
    host = host_of(ws)
    sign_in(b, DORA, DORA_PW)
    open_in_browser(b, front, host)
    b.wait(lambda: b.present(".monaco-workbench"), "the code-server workbench", 120)
    # Connected: the explorer lists the home folder, which the server sends
    # over the WebSocket, and no reconnect dialog comes in the next seconds.
    b.wait(lambda: b.present(".explorer-folders-view, .explorer-viewlet"),
           "the explorer, from the server", 120)
    time.sleep(5)
    assert no_reconnect_dialog(b), b.text("body")[:1500]
    b.screenshot(f"ide-code-server-{front.front}")
    # A terminal (Ctrl+`), and a command typed into it.
    body = b.d.find_element("css selector", ".monaco-workbench")
    ActionChains(b.d).move_to_element(body).click().perform()
    ActionChains(b.d).key_down(Keys.CONTROL).send_keys("`").key_up(Keys.CONTROL).perform()
    b.wait(lambda: b.present(".xterm-helper-textarea"), "the terminal", 60)
    b.wait(lambda: b.d.execute_script(
        "return document.activeElement && document.activeElement.classList"
        ".contains('xterm-helper-textarea');"), "the terminal to have the focus", 30)
    time.sleep(2)   # the shell's prompt
    keys(b, "echo typed in the terminal > ~/typed.txt", Keys.ENTER)
    b.wait(lambda: in_home(front, ws, "/home/coder/typed.txt") == "typed in the terminal",
           "the typed command's file in the home volume", 60)
    # The app on the second port, started in the same terminal.
    keys(b, "python3 -m http.server 3000 --directory ~ >/dev/null 2>&1 &", Keys.ENTER)
    b.screenshot(f"ide-code-server-terminal-{front.front}")
    app = host_of(ws, 3000)
    open_in_browser(b, front, app)
    b.wait(lambda: "typed.txt" in b.text("body"), "the app on port 3000 for its owner", 60)
    # Another user: refused until the owner shares the port.
    front.api("PUT", f"/workspaces/{ws['id']}/ports/3000", 200, token=token,
              json={"level": "authenticated"})
    sign_in(b, ERIC, ERIC_PW)
    open_in_browser(b, front, app)
    b.wait(lambda: "typed.txt" in b.text("body"), "the shared app for another user", 60)
    b.screenshot(f"ide-code-server-shared-port-{front.front}")
    # Stop and start: the file is still in the home volume.
    for transition in ("stop", "start"):
        front.api("POST", f"/workspaces/{ws['id']}/builds", 201, token=token,
                  json={"transition": transition})
        front.wait_status(ws["id"], "stopped" if transition == "stop" else "running", BOOT)
    assert in_home(front, ws, "/home/coder/typed.txt") == "typed in the terminal"
    sign_in(b, DORA, DORA_PW)
    open_in_browser(b, front, host)
    b.wait(lambda: b.present(".monaco-workbench"), "the workbench after the restart", 120)
    b.wait(lambda: "typed.txt" in b.text(".explorer-folders-view"),
           "the explorer listing the kept file", 120)
    assert no_reconnect_dialog(b)


NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
               "source": "import os\nprint(6 * 7, os.getuid())"}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_jupyter_runs_a_cell_in_the_browser(b, front, ide):
    token = front.login(DORA, DORA_PW)
    ws = running(front, token, ide["jupyter"], "notebook")
    ide["created"].append((ws, token))
    code, out = front.dockerd.client.exec(
        f"warren-{ws['short_id']}",
        ["sh", "-c", f"cat > /home/coder/hello.ipynb <<'EOF'\n{json.dumps(NOTEBOOK)}\nEOF"],
        user="1000:1000")
    assert code == 0, out
    sign_in(b, DORA, DORA_PW)
    open_in_browser(b, front, host_of(ws), "/notebooks/hello.ipynb")
    b.wait(lambda: b.present("#notebook-container .cell .CodeMirror"), "the notebook", 120)
    b.wait(lambda: b.present("#kernel_indicator_icon.kernel_idle_icon"),
           "the kernel, idle, over its WebSocket", 120)
    b.d.find_element("css selector", "#notebook-container .cell .CodeMirror").click()
    ActionChains(b.d).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    b.wait(lambda: b.text("#notebook-container .output_area") == "42 1000",
           "the cell's output from the kernel", 60)
    b.screenshot(f"ide-jupyter-{front.front}")
