"""A start that fails for a passing reason is tried again (issue 14 point
6): a host port taken between Docker's choice and its bind, an engine too
slow to answer; each try is in the build log, with a pause that doubles,
and the build succeeds.  A permanent failure (an image that does not
exist, a container Docker cannot run as specified) fails the build at once
with a clear message and no second try (the missing image:
test_reconciler_lifecycle.py's test_missing_image_fails_with_clear_error).
"""

import socket

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import metric, wait_for  # noqa: E402
from docker_util import IMAGE, DockerRelay  # noqa: E402

pytest_plugins = ["docker_util"]

# Host ports a start tries before it fails (Docker's bridge driver).
DOCKER_PORT_TRIES = 10


def tries(st, build_id):
    return [line for line in st.log_lines(build_id) if " failed (try " in line]


def next_host_port(st):
    """The port Docker gives the next container publishing on 127.0.0.1:
    it hands them out in order, after the last one it gave."""
    d = st.docker
    cid = d.create("warren-probe-port", {
        "Image": IMAGE, "Cmd": ["sleep", "60"], "ExposedPorts": {"8080/tcp": {}},
        "HostConfig": {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}}})
    try:
        d.start(cid)
        port = d.host_port(cid)
    finally:
        d.rm(cid)
    return port + 1


def test_port_in_use_is_tried_again(st):
    r = st.reconciler(reconciler_resync=1).start()
    tpl = st.template()
    port = next_host_port(st)
    # Something else on this host takes the ports Docker would pick next:
    # Docker tries ten of them, then gives up.
    # (A port already in use is skipped: Docker cannot have it either.)
    taken = []
    try:
        p = port
        while len(taken) < DOCKER_PORT_TRIES:
            s = socket.socket()
            # Despite connections in TIME_WAIT, as Docker's own listener.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", p))
                s.listen(1)
                taken.append(s)
            except OSError:
                s.close()
            p += 1
        ws = st.workspace(tpl)
        st.wait_build(ws["build_id"], 60, "succeeded")
    finally:
        for s in taken:
            s.close()
    lines = tries(st, ws["build_id"])
    assert lines and lines[0].startswith("start failed (try 1 of 4): could not start the "
                                         "container: "), st.log_lines(ws["build_id"])
    assert "address already in use" in lines[0] and lines[0].endswith("trying again in 1 s"), lines
    assert st.port_of(ws) >= p
    assert st.serves(ws, "warren v1")
    # The failed try counts as a failed step (the metrics file follows at
    # the next full pass).
    wait_for(lambda: metric(r.metrics(), "warren_reconciler_actions_total", action="start",
                            result="failure") == 1, 5, what="the failed try in the metrics")


def test_engine_too_slow_is_tried_again(st, tmp_path):
    relay = DockerRelay(st.dockerd.sock, tmp_path / "relay.sock")
    try:
        st.reconciler(docker_host=relay.host, docker_timeout=2000).start()
        relay.arm("POST", "/volumes/create")
        ws = st.workspace(st.template())
        st.wait_build(ws["build_id"], 60, "succeeded")
        assert relay.fired.is_set()
        lines = tries(st, ws["build_id"])
        assert len(lines) == 1, st.log_lines(ws["build_id"])
        assert lines[0].startswith("volume failed (try 1 of 4): could not create the home "
                                   "volume: Docker did not answer POST /volumes/create"), lines
        assert st.serves(ws, "warren v1")
    finally:
        relay.close()


def test_container_docker_refuses_fails_at_once(st):
    """Docker refuses to run the container (a home volume over /proc, from a
    template older than the API's check of home paths): the build fails
    at once; the owner reads Docker's reason without the host's paths, the
    operator finds them in the reconciler's log (issue 15 point 8)."""
    r = st.reconciler().start()
    tpl = st.template()
    st.alter_version(tpl["id"], "home_path", "/proc")
    ws = st.workspace(tpl)
    b = st.wait_build(ws["build_id"], 30, "failed")
    assert b["error"].startswith("could not start the container: "), b["error"]
    assert tries(st, ws["build_id"]) == [], st.log_lines(ws["build_id"])
    assert (b["completed_at"] - b["started_at"]).total_seconds() < 5, b
    data_root = str(st.dockerd.dir)
    shown = [b["error"], *st.log_lines(ws["build_id"]),
             st.get_build(ws["build_id"])["error"]]
    assert not [s for s in shown if data_root in s or "/_data" in s], shown
    assert "<host path>" in b["error"], b["error"]
    assert data_root in r.log(), r.log()[-2000:]
