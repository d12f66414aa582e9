"""Private registries (issue 16, point 4), against a real one: Debian's
docker-registry (distribution 2.8) on 127.0.0.1 with TLS from a test CA and
htpasswd (bcrypt) authentication.  An image is pushed to it through the
Engine API, and a workspace of a template naming it is started by a
reconciler that must pull it: refused without credentials, refused with a
wrong password (a clear message, at once), pulled with the right one, its
progress in the build log.  Admins store the credentials; the password is
encrypted at rest and never comes back.

dockerd treats registries on 127.0.0.0/8 as insecure: it speaks TLS to
this one without checking the test CA (no file is written to the
machine's /etc/docker/certs.d).
"""

import base64
import json
import pathlib
import shutil
import socket
import subprocess
import tempfile
import urllib.parse

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import free_port, wait_for  # noqa: E402
from docker_util import CertAuthority, Stack, build_image, version_spec  # noqa: E402
from identity_util import api_user, call, sign_in, unique  # noqa: E402

pytest_plugins = ["docker_util"]

USER, PASSWORD = "ci-puller", "correct horse battery staple"
WRONG = "not the password"
PAGE = "pulled from a private registry\n"


class Registry:
    def __init__(self, d):
        self.dir = pathlib.Path(d)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        ca = CertAuthority(self.dir / "ca")
        cert, key = ca.issue("registry", "serverAuth", "IP:127.0.0.1")
        htpasswd = self.dir / "htpasswd"
        r = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        htpasswd.write_text(r.stdout)
        conf = self.dir / "config.yml"
        conf.write_text(json.dumps({   # YAML is a superset of JSON
            "version": 0.1,
            "log": {"level": "info"},
            "storage": {"filesystem": {"rootdirectory": str(self.dir / "data")}},
            "http": {"addr": self.host, "tls": {"certificate": str(cert), "key": str(key)}},
            "auth": {"htpasswd": {"realm": "warren-test", "path": str(htpasswd)}},
        }))
        self.log_path = self.dir / "registry.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(["docker-registry", "serve", str(conf)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

        def up():
            assert self.proc.poll() is None, self.log()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, 30, interval=0.05, what="docker-registry to listen")

    def log(self):
        return self.log_path.read_text(errors="replace")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def registry_auth(username, password, server):
    return base64.urlsafe_b64encode(json.dumps(
        {"username": username, "password": password, "serveraddress": server}).encode()).decode()


@pytest.fixture(scope="module")
def registry():
    d = tempfile.mkdtemp(prefix="warren-registry-", dir="/tmp")
    reg = Registry(d)
    try:
        yield reg
    finally:
        reg.close()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pushed(registry, dockerd):
    """An image in the registry, and not in the engine."""
    client = dockerd.client
    local = "warren/registry-test:1"
    ref = f"{registry.host}/team/app:1"
    build_image(client, local, PAGE)
    client.call("POST", f"/images/{urllib.parse.quote(local, safe='')}/tag?" +
                urllib.parse.urlencode({"repo": f"{registry.host}/team/app", "tag": "1"}),
                ok=(201,))
    status, data = client.request(
        "POST", f"/images/{urllib.parse.quote(registry.host + '/team/app', safe='')}/push?tag=1",
        headers={"X-Registry-Auth": registry_auth(USER, PASSWORD, registry.host)}, timeout=120)
    text = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
    assert status == 200 and '"error"' not in text, (status, text[-500:], registry.log()[-2000:])
    client.remove_image(ref)
    client.remove_image(local)
    assert client.image(ref) is None
    return ref


@pytest.fixture(scope="module")
def stack(pg, tmp_path_factory, dockerd, registry):
    s = Stack(pg, tmp_path_factory.mktemp("registries"), dockerd,
              image_registries=registry.host)
    yield s
    errors = s.close()
    if errors:
        pytest.fail("\n".join(errors))


def started(st, ws):
    """Runs reconciler passes until the workspace's latest build ended."""
    b = st.latest_build(ws)
    st.once(timeout=300)
    return st.wait_build(b["id"], 180)


def test_pull_needs_the_registrys_credentials(stack, registry, pushed, dockerd):
    st = stack
    tpl = st.template(image=pushed)
    ws = st.workspace(tpl)
    # No credentials stored: the registry says no, and the owner is told
    # who can fix it.
    b = started(st, ws)
    assert b["status"] == "failed", b
    assert f"the registry {registry.host} refused to serve the image without " \
           "credentials (an admin stores them with POST /api/v1/registries)" in b["error"], b
    # A wrong password: refused at once, not tried again.
    r = st.api("POST", "/registries", 201, json={
        "registry": registry.host, "username": USER, "password": WRONG})
    cred = r.json()
    assert set(cred) == {"id", "registry", "username", "created_at", "updated_at"}, cred
    st.build(ws, "start")
    b = started(st, ws)
    assert b["status"] == "failed", b
    assert f"the registry {registry.host} refused the credentials stored for it" in b["error"], b
    assert st.db.value("SELECT count(*) FROM workspace_builds WHERE workspace_id = %s",
                       ws["id"]) == 2
    # The right one: pulled, with the steps in the build log, and served.
    st.api("PUT", f"/registries/{cred['id']}", 200, json={"password": PASSWORD})
    st.build(ws, "start")
    b = started(st, ws)
    assert b["status"] == "succeeded", (b, st.log_lines(b["id"]))
    lines = st.log_lines(b["id"])
    assert f"pulling image {pushed} with the credentials stored for {registry.host}" in lines, lines
    assert any(ln.startswith("pull: ") and ln.endswith(": Pull complete") for ln in lines), lines
    assert any(ln.startswith("pull: Status: Downloaded newer image") for ln in lines), lines
    assert dockerd.client.image(pushed) is not None
    wait_for(lambda: st.serves(ws, PAGE.strip()), 30, what="the pulled workspace to serve")
    # The password is nowhere to be read: not in the API, the database's
    # columns, the build log, the audit log or the reconciler's log.
    listed = st.api("GET", "/registries", 200).text
    rows = json.dumps(st.db.all("SELECT * FROM registry_credentials"), default=str)
    audit = json.dumps(st.db.all("SELECT * FROM audit_log WHERE target_type = 'registry'"),
                       default=str)
    for secret in (PASSWORD, WRONG):
        for where, text in (("the API", listed), ("the table", rows), ("the audit", audit),
                            ("the build log", "\n".join(lines)),
                            ("the reconciler's log", "".join(r.log() for r in st.recons))):
            assert secret not in text, f"the password is in {where}"
    assert [a["action"] for a in st.db.all(
        "SELECT action FROM audit_log WHERE target_type = 'registry' ORDER BY id")] == [
        "registry.create", "registry.update"]


@pytest.mark.parametrize("body, word", [
    ({"registry": "Registry.Example.com", "username": "u", "password": "p"}, "registry"),
    ({"registry": "https://registry.example.com", "username": "u", "password": "p"},
     "registry"),
    ({"registry": "registry.example.com/team", "username": "u", "password": "p"}, "registry"),
    ({"registry": "registry.example.com:0", "username": "u", "password": "p"}, "registry"),
    ({"registry": "registry.example.com:65536", "username": "u", "password": "p"}, "registry"),
    ({"registry": "-bad.example", "username": "u", "password": "p"}, "registry"),
    ({"registry": "registry.example.com", "username": "", "password": "p"}, "username"),
    ({"registry": "registry.example.com", "username": "u"}, "password"),
    ({"registry": "registry.example.com", "username": "u", "password": "p", "email": "x"},
     "email"),
    ({"registry": "registry.example.com", "username": "u", "password": 5}, "password"),
])
def test_bad_credentials_are_refused(stack, body, word):
    st = stack
    before = st.db.value("SELECT count(*) FROM registry_credentials")
    r = st.api("POST", "/registries", json=body)
    assert r.status_code == 400 and word in r.text, (r.status_code, r.text)
    assert st.db.value("SELECT count(*) FROM registry_credentials") == before


def test_only_admins_manage_registries(stack):
    """For anyone else the routes do not exist (404, as for every admin
    route), and nothing changes."""
    st = stack
    user = api_user(st.w, st.token, unique("member"), password="member-password-1")
    token = sign_in(st.w, user)["access_token"]
    for method, path, body in (("GET", "/registries", None),
                               ("POST", "/registries", {"registry": "r.example", "username": "u",
                                                        "password": "p"}),
                               ("DELETE", f"/registries/{'0' * 8}-0000-0000-0000-{'0' * 12}",
                                None)):
        r = call(st.w, method, path, token, json=body)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    assert "r.example" not in st.api("GET", "/registries", 200).text


def test_conflict_unknown_and_delete(stack):
    st = stack
    name = f"{unique('reg').lower().replace('_', '-')}.example.com:5000"
    cred = st.api("POST", "/registries", 201, json={
        "registry": name, "username": "u", "password": "p"}).json()
    r = st.api("POST", "/registries", json={"registry": name, "username": "v", "password": "q"})
    assert r.status_code == 409, r.text
    missing = "00000000-0000-0000-0000-000000000000"
    assert st.api("PUT", f"/registries/{missing}", json={"password": "x"}).status_code == 404
    assert st.api("PUT", "/registries/not-an-id", json={"password": "x"}).status_code == 404
    assert st.api("DELETE", f"/registries/{missing}").status_code == 404
    st.api("DELETE", f"/registries/{cred['id']}", 204)
    assert name not in st.api("GET", "/registries", 200).text
