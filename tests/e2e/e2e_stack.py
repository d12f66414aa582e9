"""A complete Warren for the browser tests, on loopback, from temporary
directories: a private PostgreSQL cluster, warren-api behind the shipped
nginx site, a private Docker Engine and warren-reconciler, so workspaces
really run and really open through the workspace hand-off.

It reuses the integration harness (tests/integration/conftest.py and
docker_util.py): the same classes start the same services.  The Docker
Engine is private on purpose: a reconciler removes every Warren container
its own database does not want, so a shared engine would let this run and
another stack (a developer's, or tests/integration/test_stack.py) remove
each other's workspaces.

public_url is http://warren.localhost:PORT: Chromium sends *.localhost to
loopback without DNS, so the API host and the workspace hosts
(<short_id>.warren.localhost:PORT) are all this nginx.  Scripts here talk to
127.0.0.1:PORT instead (the first server block answers any host).

Run by hand, it brings a stack up and keeps it until ^C:

    /usr/bin/python3 tests/e2e/e2e_stack.py
"""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import requests

HERE = pathlib.Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

import pytest  # noqa: E402

from conftest import (  # noqa: E402  (tests/integration/conftest.py)
    CTL_BIN, HTTP_TIMEOUT, Postgres, Warren, wait_for,
)
from docker_util import Dockerd, Reconciler, build_image  # noqa: E402

DEMO_IMAGE = "warren/demo:1"
DEMO_PAGE = ("<!doctype html><title>Warren demo workspace</title>"
             "<h1>Hello from a Warren workspace</h1>"
             "<p>This page is served by busybox httpd inside the workspace container.</p>\n")
ADMIN_NAME = "admin"
ADMIN_PASSWORD = "e2e-admin-password"

# The API as the tests use it.  Generous sign-in limits: the tests sign in
# many times from one address.  Four workers: a browser following a build
# log holds one for up to the long-poll timeout.
STACK_CONF = {
    "workers": 4,
    "base_domain": "warren.localhost",
    "access_token_ttl": 900,
    "login_failures_per_address": 100000,
    "login_failures_per_account": 100000,
    "token_rate_limit": 1000000,
    "max_concurrent_hashes": 2,
    "docker_publish_address": "127.0.0.1",
    "docker_network": "bridge",
    "reconciler_host_name": "local",
    # A provider configured so that the sign-in page shows its button;
    # nothing follows it (no test leaves this machine).
    "github_client_id": "e2e-client",
    "github_client_secret": "e2e-secret",
    "github_auth_url": "http://127.0.0.1:9/authorize",
    "github_token_url": "http://127.0.0.1:9/token",
    "github_api_url": "http://127.0.0.1:9/api",
}


def demo_version(**over):
    """The demo template's version: busybox httpd on 8080 as 1000:1000."""
    spec = {
        "image": DEMO_IMAGE,
        "ports": [{"port": 8080, "name": "web", "protocol": "http"}],
        "cpu_millis": 500,
        "memory_mb": 128,
        "pids": 64,
        "home_path": "/home/dev",
        "uid": 1000,
        "gid": 1000,
        "probe": {"type": "http", "port": 8080, "path": "/", "timeout": 60},
        "max_share_level": "public",
        "idle_timeout": 7200,
        "parameters": [
            {"name": "GREETING", "type": "string", "default": "hello",
             "description": "A word the workspace is started with"},
        ],
    }
    spec.update(over)
    return spec


class PublicWarren(Warren):
    """The integration harness's Warren, with public_url on
    warren.localhost and the port nginx got."""

    def write_conf(self, conf=None):
        if conf is None:
            self.conf["public_url"] = f"http://warren.localhost:{self.http_port}"
        super().write_conf(conf)


class ApacheWarren(Warren):
    """The integration harness's Warren for the shipped Apache site: its
    public_url on warren.localhost and the port Apache is to listen on."""

    def __init__(self, *args, front_port, **kwargs):
        self.front_port = front_port
        super().__init__(*args, **kwargs)

    def write_conf(self, conf=None):
        if conf is None:
            self.conf["public_url"] = f"http://warren.localhost:{self.front_port}"
        super().write_conf(conf)


class E2EStack:
    """front: the shipped site in front of warren-api, "nginx" or "apache".
    A second stack can share the first's PostgreSQL and Docker Engine (pg,
    dockerd): its own database, API and reconciler, as a second
    installation on the same engine."""

    def __init__(self, front="nginx", pg=None, dockerd=None):
        self.parts = []
        self.front = front
        self.workdir = pathlib.Path(tempfile.mkdtemp(prefix=f"warren-e2e-{front}-", dir="/tmp"))
        try:
            self._start(pg, dockerd)
        except BaseException:
            self.close()
            raise

    def _start(self, pg, dockerd):
        self.pg = pg
        if pg is None:
            self.pg = Postgres()
            self.parts.append(self.pg.close)
        self.dockerd = dockerd
        if dockerd is None:
            self.dockerd = Dockerd()
            self.parts.append(self.dockerd.close)
        build_image(self.dockerd.client, DEMO_IMAGE, DEMO_PAGE)
        conf = dict(STACK_CONF)
        conf["docker_host"] = self.dockerd.host
        conf["secret_key_file"] = str(self.workdir / "api" / "secret.key")
        db = self.pg.create_db(f"e2e_{self.front}")
        if self.front == "apache":
            self._start_apache(db, conf)
        else:
            self.w = PublicWarren(self.pg, self.workdir / "api", db, **conf)
            self.parts.append(self._close_warren)
            self.port = self.w.http_port
        self.url = f"http://warren.localhost:{self.port}"
        self.api_base = f"http://127.0.0.1:{self.port}/api/v1"
        self.recon = Reconciler(self.w, self.dockerd.host, reconciler_resync=10)
        self.recon.start()
        self.parts.append(self.recon.close)
        r = subprocess.run([str(CTL_BIN), "-c", str(self.w.conf_path), "user", "add", ADMIN_NAME,
                            "--admin", "--password-stdin"], input=ADMIN_PASSWORD + "\n",
                           capture_output=True, text=True, env=self.w.env, timeout=60)
        assert r.returncode == 0, f"warrenctl user add: {r.stdout}{r.stderr}"
        self.admin_token = self.login(ADMIN_NAME, ADMIN_PASSWORD)
        self.demo = self.api("POST", "/templates", 201, json={
            "name": "demo", "display_name": "Demo web page",
            "description": "busybox httpd serving a static page on port 8080",
            "version": demo_version()}).json()

    def _start_apache(self, db, conf):
        """warren-api on a socket www-data may reach, its Authorizer on
        TCP, and Apache in front, as tests/integration/test_apache.py
        runs them."""
        from conftest import free_port
        from test_apache import Apache

        # Only root and www-data enter: Apache serves as www-data.
        shutil.chown(self.workdir, "root", "www-data")
        os.chmod(self.workdir, 0o750)
        htdocs = self.workdir / "htdocs"
        shutil.copytree(HERE.parent.parent / "htdocs", htdocs)
        self.port = free_port()
        self.w = ApacheWarren(self.pg, self.workdir / "api", db, front_port=self.port,
                              listen_mode="0666", authorizer_listen=f"127.0.0.1:{free_port()}",
                              **conf)
        self.parts.append(self._close_warren)
        self.apache = Apache(self.workdir / "apache", self.w.sock,
                             self.w.conf["authorizer_listen"], htdocs, port=self.port)
        self.parts.append(self._close_apache)

    def _close_apache(self):
        errors = self.apache.finish()
        if errors:
            raise AssertionError("\n".join(errors))

    def _close_warren(self):
        error = self.w.close()
        if error:
            raise AssertionError(error)

    # API, as a script: bearer tokens, no Origin

    def login(self, name, password):
        r = requests.post(f"{self.api_base}/auth/login", timeout=HTTP_TIMEOUT,
                          json={"username": name, "password": password})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def api(self, method, path, status=None, token=None, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        r = requests.request(method, self.api_base + path, headers={
            "Authorization": f"Bearer {token or self.admin_token}"}, **kwargs)
        if status is not None:
            assert r.status_code == status, (method, path, r.status_code, r.text[:800])
        return r

    def wait_status(self, ws_id, status, timeout):
        def now():
            r = self.api("GET", f"/workspaces/{ws_id}")
            return r.status_code == 200 and r.json()["status"] == status
        wait_for(now, timeout, interval=0.5, what=f"workspace {ws_id} to be {status}")

    def logs(self):
        """The tails of the service logs, for a failing test's report."""
        out = []
        logs = [("warren-api", self.w.log()), ("reconciler", self.recon.log())]
        if self.front == "apache":
            logs.append(("apache", self.apache.log()))
        for name, text in logs:
            out.append(f"--- {name} (last 3000 bytes)\n{text[-3000:]}")
        return "\n".join(out)

    def close(self):
        errors = []
        for stop in reversed(self.parts):
            try:
                stop()
            except Exception as e:  # noqa: BLE001 - stop the rest all the same
                errors.append(f"{stop}: {e}")
        self.parts = []
        shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise AssertionError("; ".join(errors))


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("run as root: PostgreSQL runs as postgres, dockerd needs root")
    try:
        stack = E2EStack()
    except pytest.fail.Exception as e:
        sys.exit(f"the stack did not start: {e}")
    print(f"Warren is up: {stack.url}/  (admin / {ADMIN_PASSWORD})", flush=True)
    print(f"workdir {stack.workdir}; ^C stops it", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    try:
        while not stop:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    stack.close()
