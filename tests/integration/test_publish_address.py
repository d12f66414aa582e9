"""Each Docker host's publish address (issue 19 point 2): the forward
decision names the upstream on the workspace's own host, from its
docker_hosts row (publish_address), or docker_publish_address for a host
without one; an address that is every address of a host (0.0.0.0, ::) is
refused by the database and by the configuration check."""

import pytest

from conftest import run_ctl
from control_util import (
    BASE_DOMAIN, World, close_stack, make_template, open_stack, psql_fails, q,
    running_ws,
)
from identity_util import psql
from routing_util import forward


@pytest.fixture(scope="module")
def w(pg, tmp_path_factory):
    stack = open_stack(pg, tmp_path_factory.mktemp("publish"), workers=1)
    yield stack
    close_stack(stack)


class _St:
    """What routing_util.forward needs of a stack."""

    def __init__(self, w):
        self.w = w


def host_of(ws):
    return f"{ws['short_id']}.{BASE_DOMAIN}"


def deployed(w, token, tpl, host, port):
    """A running workspace whose container runs on Docker host host, its
    port 8080 published on port."""
    ws = running_ws(w, token, tpl)
    psql(w, "INSERT INTO deployments (workspace_id, docker_host, container_name,"
            f" volume_name, state, ports) VALUES ({q(ws['id'])}, {q(host)}, 'c', 'v',"
            f" 'running', '{{\"8080\": \"{port}\"}}')")
    return ws


def test_the_upstream_is_on_the_workspaces_own_host(w):
    x = World(w, members=("alice",))
    token = x.tokens["alice"]
    tpl = make_template(w, x.tokens["tadmin"])["id"]
    psql(w, "INSERT INTO docker_hosts (name, endpoint, publish_address) VALUES"
            " ('far', 'tcp://10.0.0.2:2376', '10.0.0.2'),"
            " ('six', 'tcp://[fd00::6]:2376', 'fd00::6'),"
            " ('plain', 'tcp://10.0.0.3:2376', NULL)")
    st = _St(w)
    for host, port, want in (("far", 32001, "10.0.0.2:32001"),
                             ("six", 32002, "[fd00::6]:32002"),
                             ("plain", 32003, "127.0.0.1:32003"),
                             ("unlisted", 32004, "127.0.0.1:32004")):
        ws = deployed(w, token, tpl, host, port)
        r = forward(st, host_of(ws), token=token)
        assert r.status_code == 200, (host, r.status_code, r.text)
        assert r.headers["X-Warren-Upstream"] == want, (host, r.headers)
    # An operator moves a host's address: the next decision follows.
    psql(w, "UPDATE docker_hosts SET publish_address = '10.0.0.9' WHERE name = 'far'")
    ws = deployed(w, token, tpl, "far", 32005)
    r = forward(st, host_of(ws), token=token)
    assert r.headers["X-Warren-Upstream"] == "10.0.0.9:32005", r.headers


@pytest.mark.parametrize("addr", ["0.0.0.0", "::", "10.0.0.0/8", "fd00::/64"])
def test_a_host_is_never_published_on_every_address(w, addr):
    err = psql_fails(w, "INSERT INTO docker_hosts (name, endpoint, publish_address)"
                         f" VALUES ('any', 'tcp://10.0.0.4:2376', {q(addr)})")
    assert "check" in err, err


@pytest.mark.parametrize("addr", ["0.0.0.0", "::", "localhost"])
def test_the_configuration_refuses_every_address(w, tmp_path, addr):
    conf = tmp_path / "warren.conf"
    conf.write_text(w.conf_path.read_text() + f"\ndocker_publish_address = {addr}\n")
    r = run_ctl("-c", str(conf), "check-config", env=w.env)
    assert r.returncode != 0, r.stdout
    assert "docker_publish_address" in r.stderr + r.stdout, r.stderr
