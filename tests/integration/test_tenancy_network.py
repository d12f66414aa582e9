"""Workspaces cannot reach each other (issue 15 point 3), on a Docker Engine
set up as on a production host: its packet filter on, in a network
namespace of its own (the tests' usual engine runs without one, so as not
to touch the machine's rules).

Every workspace is on the network docker_network names, which the
reconciler makes with inter-container traffic off: a workspace reaches
another neither by address nor by name, on any port.  Both still reach what
they are meant to: their own published port (the reconciler's readiness
probe, on the host's 127.0.0.1) and the world beyond the host.  The host's
own services are the operator's to allow: with the README's two firewall
rules, a workspace reaches the one allowed port of the host and no other.
"""

import pathlib
import subprocess
import tempfile

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import wait_for  # noqa: E402
from identity_util import unique  # noqa: E402

pytest_plugins = ["docker_util"]


@pytest.fixture
def engine(netns_engine):
    return netns_engine


@pytest.fixture
def nst(netns_stack):
    return netns_stack


@pytest.fixture
def serve(engine):
    """serve(where, address:port, text): busybox httpd in a namespace,
    stopped at the end of the test."""
    procs = []

    def start(where, listen, text):
        www = pathlib.Path(tempfile.mkdtemp(prefix="www-", dir=engine.dir))
        (www / "index.html").write_text(text)
        procs.append(subprocess.Popen(["nsenter", f"--net=/run/netns/{where}", "--", "busybox",
                                       "httpd", "-f", "-p", listen, "-h", str(www)]))
        wait_for(lambda: engine.run("sh", "-c", f"echo | busybox nc {listen.replace(':', ' ')}",
                                    where=where).returncode == 0 or procs[-1].poll() is not None,
                 10, what=f"httpd on {listen}")
        assert procs[-1].poll() is None, f"httpd on {listen} exited"

    yield start
    for p in procs:
        p.kill()
        p.wait(timeout=10)


def fetch(st, ws, host, port):
    """An HTTP request from inside the workspace (busybox nc): (0, the
    answer) when it answered, else (non-zero, what nc said)."""
    code, out = st.docker.exec(st.cname(ws), [
        "sh", "-c", f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host} {port}"
        " || echo nc-failed"])
    return (1 if "nc-failed" in out or " 200 OK" not in out else 0), out


def address(st, ws):
    c = st.docker.inspect(st.cname(ws))
    return c["NetworkSettings"]["Networks"]["warren"]["IPAddress"]


def test_workspaces_cannot_reach_each_other(nst, engine, serve):
    st = nst
    st.reconciler(reconciler_resync=5).start()
    tpl = st.template()
    a, b = (st.workspace(tpl, name=unique(n)) for n in ("neta-", "netb-"))
    for ws in (a, b):
        # Ready: the reconciler's probe reached it on the host's 127.0.0.1.
        st.wait_build(ws["build_id"], 60, "succeeded")
    # The world beyond the host answers.
    serve(engine.outside, f"{engine.outside_addr}:80", "the world\n")
    for me, other in ((a, b), (b, a)):
        code, out = fetch(st, me, engine.outside_addr, 80)
        assert code == 0 and "the world" in out, out
        # Not the other, by address or by either of its names.
        for target in (address(st, other), st.cname(other), other["short_id"]):
            code, out = fetch(st, me, target, 8080)
            assert code != 0 and "warren v1" not in out, (target, out)
        # Its own server answers inside it.
        code, out = fetch(st, me, "127.0.0.1", 8080)
        assert code == 0 and "warren v1" in out, out


def test_host_services_only_as_the_operator_allows(nst, engine, serve):
    st = nst
    st.reconciler(reconciler_resync=5).start()
    ws = st.workspace(st.template(), name=unique("nethost-"))
    st.wait_build(ws["build_id"], 60, "succeeded")
    c = st.docker.inspect(st.cname(ws))
    gateway = c["NetworkSettings"]["Networks"]["warren"]["Gateway"]
    for port in (9000, 9001):
        serve(engine.netns, f"0.0.0.0:{port}", "a host service\n")
    # Without rules, the host's services answer on the bridge's address.
    assert fetch(st, ws, gateway, 9000)[0] == 0
    # The README's rules: workspaces reach the host on the allowed port only.
    for rule in (["-I", "INPUT", "-i", "wrn-+", "-j", "DROP"],
                 ["-I", "INPUT", "-i", "wrn-+", "-p", "tcp", "--dport", "9001",
                  "-j", "ACCEPT"]):
        r = engine.run("iptables", *rule)
        assert r.returncode == 0, r.stderr
    code, out = fetch(st, ws, gateway, 9001)
    assert code == 0 and "a host service" in out, out
    code, out = fetch(st, ws, gateway, 9000)
    assert code != 0 and "a host service" not in out, out
