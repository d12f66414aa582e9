"""Token scopes hold on the data plane (issue 15 point 2).  An API token
has one scope: "read" reads the API and opens no workspace; "full" uses
the whole API and opens its owner's workspaces; "workspace" opens them and
has no access to the API at all.  Sessions (cookies, access tokens) do
everything.  Every scope against every door, through nginx.
"""

import pytest

pytest.register_assert_rewrite("docker_util", "routing_util")

from identity_util import call, unique  # noqa: E402
from routing_util import RoutingStack, host_of, served, via_nginx  # noqa: E402

pytest_plugins = ["docker_util", "routing_util"]


@pytest.fixture(scope="module")
def world(pg, tmp_path_factory, dockerd, echo_image):
    st = RoutingStack(pg, tmp_path_factory.mktemp("scopes"), dockerd)
    try:
        st.reconciler(reconciler_resync=5).start()
        user, session = st.user("scoped")
        ws = st.as_user(session, "POST", "/workspaces", 201,
                        json={"name": unique("sc-"), "template": st.echo_template()["id"]}).json()
        st.wait_build(ws["build_id"], 60, "succeeded")
        tokens = {"session": session}
        for scope in ("read", "full", "workspace"):
            r = st.as_user(session, "POST", "/tokens", 201, json={"name": unique(scope),
                                                                   "scope": scope})
            tokens[scope] = r.json()["token"]
        yield st, ws, tokens
    finally:
        errors = st.close()
        if errors:
            pytest.fail("\n".join(errors))


@pytest.mark.parametrize("scope,opens", [("session", True), ("read", False), ("full", True),
                                         ("workspace", True)])
def test_data_plane_by_scope(world, scope, opens):
    st, ws, tokens = world
    for method in ("GET", "POST"):
        r = via_nginx(st, host_of(ws), method=method, token=tokens[scope])
        if opens:
            assert served(r, 8080), (scope, method, r.status_code, r.text[:200])
        else:
            assert r.status_code == 403, (scope, method, r.status_code, r.text[:200])
            assert "port 8080" not in r.text


@pytest.mark.parametrize("scope,reads,writes", [("session", True, True), ("read", True, False),
                                                ("full", True, True),
                                                ("workspace", False, False)])
def test_api_by_scope(world, scope, reads, writes):
    st, ws, tokens = world
    r = call(st.w, "GET", "/me", tokens[scope])
    assert (r.status_code == 200) == reads, (scope, r.status_code, r.text)
    if r.status_code == 200 and scope != "session":
        assert r.json()["token_scope"] == scope
    r = call(st.w, "GET", f"/workspaces/{ws['id']}", tokens[scope])
    assert (r.status_code == 200) == reads, (scope, r.status_code, r.text)
    # A write that changes nothing in the end: extend refuses a stopped
    # workspace; a missing one answers 404 to whoever may write.
    r = call(st.w, "PATCH", "/workspaces/00000000-0000-4000-8000-000000000000",
             tokens[scope], json={"name": "x"})
    assert (r.status_code == 404) == writes, (scope, r.status_code, r.text)
    if not writes:
        assert r.status_code == 403, (scope, r.status_code, r.text)
    if scope == "workspace":
        assert "opens workspaces only" in call(st.w, "GET", "/me", tokens[scope]).json()["detail"]
