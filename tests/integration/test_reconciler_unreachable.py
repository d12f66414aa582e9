"""Status tells the truth while the Docker host does not answer (issue 14
point 5): with the tests' private dockerd stopped, a running workspace is
"unknown" with a reason in the API (its object and its owner's list), in
the reconciler's metrics and on the data plane (nginx answers 503 saying
the host does not answer, not 502); a workspace started meanwhile waits
visibly (its build log says why) and starts when the host is back, as does
the first one.
"""

import pytest

pytest.register_assert_rewrite("docker_util", "routing_util")

from conftest import metric, wait_for  # noqa: E402
from identity_util import unique  # noqa: E402
from routing_util import RoutingStack, host_of, served, via_nginx  # noqa: E402

pytest_plugins = ["docker_util", "routing_util"]


@pytest.fixture
def rst(pg, tmp_path, dockerd, echo_image):
    if not dockerd.started:
        pytest.skip("the Docker Engine was not started by the tests "
                    "(WARREN_TEST_DOCKER_HOST): it is not ours to stop")
    st = RoutingStack(pg, tmp_path / "unreachable", dockerd)
    yield st
    if dockerd.proc is None or dockerd.proc.poll() is not None:
        dockerd.start()
    errors = st.close()
    if errors:
        pytest.fail("\n".join(errors))


def get(st, ws):
    return st.api("GET", f"/workspaces/{ws['id']}", 200).json()


def listed(st, ws):
    items = st.api("GET", "/workspaces?limit=100", 200).json()["items"]
    return next(w for w in items if w["id"] == ws["id"])


def test_status_while_docker_does_not_answer(rst, dockerd):
    st = rst
    r = st.reconciler(reconciler_resync=1).start()
    tpl = st.echo_template()
    ws = st.workspace(tpl, name=unique("up-"))
    st.wait_build(ws["build_id"], 60, "succeeded")
    host = host_of(ws)
    assert served(via_nginx(st, host, token=st.token), 8080)
    # Read once, so that the owner's list is cached by the workers.
    assert listed(st, ws)["status"] == "running"
    assert get(st, ws)["status_reason"] is None

    dockerd.stop()
    try:
        wait_for(lambda: get(st, ws)["status"] == "unknown", 15, interval=0.1,
                 what="the workspace to be unknown")
        got = get(st, ws)
        assert got["status_reason"] == "the Docker host local does not answer", got
        assert listed(st, ws)["status"] == "unknown"
        assert [w["id"] for w in st.api("GET", "/workspaces?status=unknown", 200).json()["items"]] \
            == [ws["id"]]
        # The data plane says what it is.
        resp = via_nginx(st, host, token=st.token)
        assert resp.status_code == 503, (resp.status_code, resp.text)
        assert "Docker host does not answer" in resp.text, resp.text
        assert resp.headers.get("Retry-After") == "5"
        # The reconciler's metrics.
        wait_for(lambda: metric(r.metrics(), "warren_reconciler_docker_up") == 0, 10,
                 what="the metric to say Docker is down")
        m = r.metrics()
        assert metric(m, "warren_workspaces", status="unknown") == 1, r.metrics_text()
        assert metric(m, "warren_workspaces", status="running") == 0, r.metrics_text()
        # Started meanwhile: it waits, and says why.
        later = st.workspace(tpl, name=unique("later-"))
        wait_for(lambda: any("waiting for the Docker host local" in line
                             for line in st.log_lines(later["build_id"])), 15, interval=0.1,
                 what="the waiting line in the build log")
        got = get(st, later)
        assert got["status"] == "starting" and got["build_status"] in ("pending", "running"), got
        assert st.db.value("SELECT reachable FROM docker_host_status WHERE name = 'local'") is False
    finally:
        dockerd.start()
    # Back: both run, the first one reached again through nginx.
    st.wait_build(later["build_id"], 60, "succeeded")
    wait_for(lambda: get(st, ws)["status"] == "running", 30, interval=0.1,
             what="the first workspace to be running again")
    assert get(st, ws)["status_reason"] is None
    wait_for(lambda: served(via_nginx(st, host, token=st.token), 8080), 30, interval=0.2,
             what="the first workspace to answer through nginx")
    assert served(via_nginx(st, host_of(later), token=st.token), 8080)
    lines = st.log_lines(later["build_id"])
    assert sum("waiting for the Docker host" in line for line in lines) == 1, lines
    assert "Docker host local answers again" in r.log()
    assert metric(r.metrics(), "warren_reconciler_docker_up") == 1
