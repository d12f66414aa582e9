"""Issue 2, item 8: tools/stack up / status / down, from a private state
directory on free ports (it uses the in-tree build, as README.md says)."""

import os
import shutil
import subprocess
import tempfile

import pytest
import requests

from conftest import HTTP_TIMEOUT, TOP, free_port, sanitizer_reports

STACK = TOP / "tools" / "stack"


pytest_plugins = ["docker_util"]


@pytest.fixture
def stack_env(dockerd):
    if os.geteuid() != 0:
        pytest.fail("tools/stack up needs root (it installs packages and runs PostgreSQL)")
    # As in a clone in root's home: a directory only root may enter (the
    # postgres user cannot reach its cluster there) and a space in the path.
    parent = tempfile.mkdtemp(prefix="warren-stack-", dir="/tmp")
    os.chmod(parent, 0o700)
    state = os.path.join(parent, "state dir")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARREN_")}
    env.update(
        # The tests' own Docker Engine, never the machine's.
        DOCKER_HOST=dockerd.host,
        WARREN_STATE_DIR=state,
        WARREN_HTTP_PORT=str(free_port()),
        WARREN_PG_PORT=str(free_port()),
    )
    yield env
    subprocess.run([str(STACK), "down"], env=env, capture_output=True, timeout=120)
    log = os.path.join(state, "log", "warren-api.log")
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    pg_root = os.path.join(state, "pg-root")
    if os.path.exists(pg_root):
        shutil.rmtree(open(pg_root).read().strip(), ignore_errors=True)
    shutil.rmtree(parent, ignore_errors=True)
    found = sanitizer_reports(text)
    assert not found, text


def stack(env, *args, timeout=600):
    return subprocess.run(
        [str(STACK), *args], env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_stack_up_again_status_down(stack_env):
    port = stack_env['WARREN_HTTP_PORT']
    url = f"http://127.0.0.1:{port}/"
    r = stack(stack_env, "up")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    # The printed URLs use warren.localhost, which needs no DNS in a
    # browser on this machine; requests here go to 127.0.0.1.
    up = next(l for l in r.stdout.splitlines() if l.startswith("Warren is up:"))
    assert f"http://warren.localhost:{port}/" in up, r.stdout[-500:]
    pw = next(l for l in r.stdout.splitlines() if "one-time password" in l).split()[-1]
    assert f"http://<id>.warren.localhost:{port}/" in r.stdout.splitlines()[-1]
    login = requests.post(url + "api/v1/auth/login", json={"username": "admin", "password": pw},
                          timeout=HTTP_TIMEOUT)
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    tpl = requests.get(url + "api/v1/templates", headers={"Authorization": f"Bearer {token}"},
                       timeout=HTTP_TIMEOUT)
    assert [t["name"] for t in tpl.json()["items"]] == ["demo"], tpl.text
    assert requests.get(url + "api/v1/ready", timeout=HTTP_TIMEOUT).status_code == 200
    page = requests.get(url, timeout=HTTP_TIMEOUT)
    assert page.status_code == 200 and "<title>Warren</title>" in page.text
    state = stack_env["WARREN_STATE_DIR"]
    api_pid = open(os.path.join(state, "run", "warren-api.pid")).read().strip()
    # The cluster lives where the postgres user can reach it.
    pg_root = open(os.path.join(state, "pg-root")).read().strip()
    assert pg_root.startswith("/var/lib/warren-local/"), pg_root

    # Again: harmless, starts nothing new.
    r = stack(stack_env, "up")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "already running" in r.stdout
    assert open(os.path.join(state, "run", "warren-api.pid")).read().strip() == api_pid
    assert requests.get(url + "api/v1/ready", timeout=HTTP_TIMEOUT).status_code == 200

    r = stack(stack_env, "status")
    assert r.returncode == 0
    for name in ("postgresql", "warren-api", "reconciler", "nginx"):
        line = next(l for l in r.stdout.splitlines() if l.startswith(name))
        assert "running" in line, r.stdout
    assert "ready:      200" in r.stdout

    r = stack(stack_env, "down")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(f"/proc/{api_pid}")
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=HTTP_TIMEOUT)
    r = stack(stack_env, "status")
    assert "running" not in r.stdout, r.stdout

    # Down again is harmless; up again brings back the same data.
    assert stack(stack_env, "down").returncode == 0
    r = stack(stack_env, "up")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "creating PostgreSQL cluster" not in r.stdout
    assert requests.get(url + "api/v1/ready", timeout=HTTP_TIMEOUT).status_code == 200


def test_stack_restarts_what_died(stack_env):
    r = stack(stack_env, "up")
    assert r.returncode == 0, r.stderr[-2000:]
    state = stack_env["WARREN_STATE_DIR"]
    api_pid = int(open(os.path.join(state, "run", "warren-api.pid")).read())
    os.killpg(api_pid, 9)
    r = stack(stack_env, "up")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "starting warren-api" in r.stdout
    url = f"http://127.0.0.1:{stack_env['WARREN_HTTP_PORT']}/api/v1/ready"
    assert requests.get(url, timeout=HTTP_TIMEOUT).status_code == 200


def test_stack_usage():
    r = subprocess.run([str(STACK), "sideways"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr
