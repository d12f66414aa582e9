"""warren-reconciler and a Docker Engine reached over tcp+TLS (issue 5).

The docker_hosts row of this host ('local') names the endpoint
tcp://127.0.0.1:<port> of the tests' private dockerd, which listens there
with --tlsverify, and the TLS files: the CA that the server certificate
must verify against, and the client certificate and key.  The
reconciler's own docker_host names a unix socket that does not exist, so
whatever it does to Docker goes through TLS.  A client certificate the
engine does not trust, no client certificate at all, or a server the
configured CA did not sign: the handshake fails, the log says why (and
holds no key material), and nothing changes in Docker or the database.

Containers are reached only through the ports they publish on 127.0.0.1.
"""

import re

import pytest

pytest.register_assert_rewrite("docker_util")

from docker_util import CertAuthority, http_get, port_answers  # noqa: E402

pytest_plugins = ["docker_util"]

# What the reconciler can know when the engine refuses its certificate: an
# alert that says so, or (TLS 1.3) a connection closed after the handshake.
CLIENT_REFUSED = re.compile(r"alert bad certificate|may not trust the client certificate")


@pytest.fixture
def tls_row(st, dockerd):
    """Writes this host's docker_hosts row: tls_row(ca, cert, key)."""
    if dockerd.tls_host is None:
        pytest.skip("the Docker Engine was not started by the tests "
                    "(WARREN_TEST_DOCKER_HOST): it has no TLS listener of ours")

    def write(ca, cert, key):
        st.db.exec("INSERT INTO docker_hosts (name, endpoint, tls_ca, tls_cert, tls_key)"
                   " VALUES ('local', %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
                   " endpoint = EXCLUDED.endpoint, tls_ca = EXCLUDED.tls_ca,"
                   " tls_cert = EXCLUDED.tls_cert, tls_key = EXCLUDED.tls_key",
                   dockerd.tls_host, *(str(p) if p else None for p in (ca, cert, key)))

    yield write
    st.db.exec("DELETE FROM docker_hosts WHERE name = 'local'")


def tls_only(st, **conf):
    """A reconciler whose docker_host leads nowhere: the row must be used."""
    return st.reconciler(docker_host=f"unix://{st.w.dir}/no-docker-here.sock", **conf)


def key_material(*paths):
    """The base64 lines of PEM private keys, which no log may show."""
    lines = []
    for p in paths:
        lines += [l for l in p.read_text().splitlines() if l and not l.startswith("-----")]
    assert lines
    return lines


def assert_untouched(st, ws):
    """The start asked for has not happened, in Docker or in PostgreSQL."""
    b = st.latest_build(ws)
    assert b["status"] == "pending" and b["started_at"] is None, b
    assert st.db.one("SELECT 1 FROM deployments WHERE workspace_id = %s", ws["id"]) is None
    assert st.containers_of(ws) == [] and st.docker.inspect(st.cname(ws)) is None
    assert st.docker.volume(st.vname(ws)) is None
    got = st.api("GET", f"/workspaces/{ws['id']}", 200).json()
    assert got["status"] == "starting", got


def refused(st, dockerd, ca, cert, key, tls_row):
    """Starts a reconciler with these TLS files, asks for a start once its
    full pass has failed, and returns (reconciler, workspace, its log,
    dockerd's log meanwhile) once the workspace's own pass has failed."""
    tls_row(ca, cert, key)
    since = len(dockerd.log())
    r = tls_only(st).start(wait_active=False)
    # A full pass has failed: it comes after LISTEN, so the start is heard.
    r.wait_log(r"warning: Docker did not answer: ", 20)
    ws = st.workspace(st.template())
    r.wait_log(rf"workspace {ws['short_id']}: Docker did not answer: ", 20)
    assert r.running(), r.log()[-2000:]
    assert_untouched(st, ws)
    log = r.log()
    for line in key_material(*(p for p in (key, dockerd.server[1], dockerd.ca.key) if p)):
        assert line not in log, "key material in the reconciler's log"
    return r, ws, log, dockerd.log()[since:]


def test_lifecycle_over_tls(st, dockerd, tls_row):
    tls_row(dockerd.ca.cert, *dockerd.tls_client)
    # Its first full pass (listing containers and volumes) is done at start.
    r = tls_only(st).start()
    assert "does not answer" not in r.log(), r.log()[-2000:]
    tpl = st.template()

    ws = st.workspace(tpl)
    st.wait_build(ws["build_id"], 30, "succeeded")
    port = st.port_of(ws)
    assert port and http_get(port) == (200, "warren v1\n")
    dep = st.db.one("SELECT * FROM deployments WHERE workspace_id = %s", ws["id"])
    c = st.docker.inspect(st.cname(ws))
    assert dep["container_id"] == c["Id"] and dep["state"] == "running", dep
    assert dep["docker_host"] == "local" and dep["ports"] == {"8080": port}, dep

    b = st.build(ws, "stop")
    st.wait_build(b["id"], 30, "succeeded")
    assert st.containers_of(ws) == []
    assert not port_answers(port)
    assert st.docker.volume(st.vname(ws)) is not None

    d = st.api("DELETE", f"/workspaces/{ws['id']}", 202).json()
    st.wait_build(d["build_id"], 30, "succeeded")
    assert st.docker.volume(st.vname(ws)) is None
    assert st.db.one("SELECT 1 FROM deployments WHERE workspace_id = %s", ws["id"]) is None

    assert r.running()
    assert "Docker did not answer" not in r.log(), r.log()[-2000:]
    # The port speaks TLS only: plain HTTP is turned away.
    got = http_get(dockerd.tls_port, "/_ping")
    assert got is not None and got[0] == 400 and "HTTPS" in got[1], got


@pytest.mark.parametrize("which", ["client certificate of another CA", "no client certificate"])
def test_untrusted_client_fails_handshake_and_changes_nothing(st, dockerd, tls_row, which):
    if which == "no client certificate":
        cert = key = None
    else:
        rogue = CertAuthority(st.w.dir / "rogue-client-ca", "Rogue CA")
        cert, key = rogue.issue("client", "clientAuth")
    r, ws, log, engine_log = refused(st, dockerd, dockerd.ca.cert, cert, key, tls_row)
    errors = re.findall(r"Docker did not answer: (.*)", log)
    assert errors and all(CLIENT_REFUSED.search(e) for e in errors), errors
    print(f"{which}: {errors[0]}")
    # The engine saw the handshake and refused it.
    assert "TLS handshake error" in engine_log, engine_log[-2000:]

    # Nothing was lost: with the right certificate the same start happens.
    assert r.terminate(timeout=20) == 0
    tls_row(dockerd.ca.cert, *dockerd.tls_client)
    tls_only(st).start()
    st.wait_build(ws["build_id"], 30, "succeeded")
    assert st.serves(ws, "warren v1")


def test_server_not_signed_by_configured_ca_is_refused(st, dockerd, tls_row):
    other = CertAuthority(st.w.dir / "other-server-ca", "Other CA")
    r, ws, log, engine_log = refused(st, dockerd, other.cert, *dockerd.tls_client, tls_row)
    errors = re.findall(r"Docker did not answer: (.*)", log)
    assert errors and all("SSL certificate problem: unable to get local issuer certificate"
                          in e for e in errors), errors
    print(f"server of another CA: {errors[0]}")
    # The reconciler broke off the handshake itself.
    assert "TLS handshake error" in engine_log, engine_log[-2000:]
