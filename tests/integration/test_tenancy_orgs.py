"""Leaving an organization ends access to it (issue 15 point 1).

The policy: when a member leaves (or is removed from) an organization,
their workspaces in it that run are stopped at once; they stay theirs (they
may see and delete them, and keep their home), but none starts again, nor
gets the organization's secrets, until their owner is a member again.  The
organization's owners and admins see and stop every workspace of their
organization.  The reconciler checks membership itself: it never injects an
organization's secret into a workspace whose owner is not a member, and it
stops such a workspace however the membership ended.
"""

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import wait_for  # noqa: E402
from identity_util import api_user, call, sign_in, unique  # noqa: E402

pytest_plugins = ["docker_util"]

PASSWORD = "tenancy-password-1"


def env_of(st, ws, name):
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", f"echo ${name}"])
    return out.strip() if code == 0 else None


@pytest.fixture
def org(st):
    """An organization: owner o, members m and n, an org secret and a
    template that selects it."""
    w = st.w
    users = {}
    for who in ("o", "m", "n"):
        u = api_user(w, st.token, unique(f"ten{who}"), password=PASSWORD)
        users[who] = (u, sign_in(w, u)["access_token"])
    r = call(w, "POST", "/orgs", st.token, json={"name": unique("tenorg-")})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    for who, role in (("o", "owner"), ("m", "member"), ("n", "member")):
        r = call(w, "PUT", f"/orgs/{oid}/members/{users[who][0].id}", st.token,
                 json={"role": role})
        assert r.status_code == 200, r.text
    r = call(w, "POST", "/secrets", users["o"][1],
             json={"name": "ORG_TOKEN", "value": "v1", "org_id": oid})
    assert r.status_code == 201, r.text
    secret_id = r.json()["id"]
    tpl = st.template(secrets=["ORG_TOKEN"])
    return oid, users, tpl, secret_id


def create(st, token, tpl, oid, **body):
    r = call(st.w, "POST", "/workspaces", token,
             json={"name": unique("tenws-"), "template": tpl["id"], "org_id": oid, **body})
    assert r.status_code == 201, r.text
    return r.json()


def test_leaving_an_org_ends_access(st, org):
    oid, users, tpl, secret_id = org
    (o, to), (m, tm), (n, tn) = users["o"], users["m"], users["n"]
    st.reconciler(reconciler_resync=1).start()
    ws = create(st, tm, tpl, oid)
    st.wait_build(ws["build_id"], 60, "succeeded")
    assert env_of(st, ws, "ORG_TOKEN") == "v1"
    # The org's owner sees it and could stop it; the other member cannot.
    assert call(st.w, "GET", f"/workspaces/{ws['id']}", to).status_code == 200
    assert call(st.w, "GET", f"/workspaces/{ws['id']}", tn).status_code == 404
    assert call(st.w, "POST", f"/workspaces/{ws['id']}/builds", tn,
                json={"transition": "stop"}).status_code == 404

    # Removed: stopped at once, by a build that says why.
    r = call(st.w, "DELETE", f"/orgs/{oid}/members/{m.id}", to)
    assert r.status_code == 204, r.text
    b = st.latest_build(ws)
    assert (b["transition"], b["reason"], str(b["initiator_id"])) == ("stop", "membership", o.id), b
    st.wait_build(b["id"], 30, "succeeded")
    assert st.containers_of(ws) == []
    audit = st.db.one("SELECT details FROM audit_log WHERE action = 'org.member_remove'"
                      " ORDER BY id DESC LIMIT 1")
    assert audit["details"]["stopped_workspaces"] == [ws["id"]], audit
    # The secret is rotated after the removal.
    r = call(st.w, "PUT", f"/secrets/{secret_id}", to, json={"value": "v2"})
    assert r.status_code == 200, r.text
    # Still theirs to see, not to start.
    assert call(st.w, "GET", f"/workspaces/{ws['id']}", tm).status_code == 200
    r = call(st.w, "POST", f"/workspaces/{ws['id']}/builds", tm, json={"transition": "start"})
    assert r.status_code == 403 and "not a member" in r.json()["detail"], r.text
    # Nor may an admin start it for them.
    r = call(st.w, "POST", f"/workspaces/{ws['id']}/builds", st.token,
             json={"transition": "start"})
    assert r.status_code == 403, r.text
    # The org's owner sees it.
    assert call(st.w, "GET", f"/workspaces/{ws['id']}", to).json()["status"] == "stopped"

    # A member again: it starts, with the current value.
    r = call(st.w, "PUT", f"/orgs/{oid}/members/{m.id}", to, json={"role": "member"})
    assert r.status_code == 200, r.text
    r = call(st.w, "POST", f"/workspaces/{ws['id']}/builds", tm, json={"transition": "start"})
    assert r.status_code == 201, r.text
    st.wait_build(r.json()["id"], 60, "succeeded")
    assert env_of(st, ws, "ORG_TOKEN") == "v2"


def test_org_owner_stops_a_members_workspace(st, org):
    oid, users, tpl, _ = org
    (o, to), (n, tn) = users["o"], users["n"]
    st.reconciler(reconciler_resync=1).start()
    ws = create(st, tn, tpl, oid)
    st.wait_build(ws["build_id"], 60, "succeeded")
    r = call(st.w, "POST", f"/workspaces/{ws['id']}/builds", to, json={"transition": "stop"})
    assert r.status_code == 201, r.text
    st.wait_build(r.json()["id"], 30, "succeeded")
    assert st.containers_of(ws) == []
    # Stop only: not start, change or delete another member's workspace.
    for method, path, body in (
            ("POST", f"/workspaces/{ws['id']}/builds", {"transition": "start"}),
            ("POST", f"/workspaces/{ws['id']}/builds", {"transition": "delete"}),
            ("PATCH", f"/workspaces/{ws['id']}", {"name": "taken-over"}),
            ("DELETE", f"/workspaces/{ws['id']}", None)):
        r = call(st.w, method, path, to, json=body)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    assert call(st.w, "GET", f"/workspaces/{ws['id']}/builds", to).status_code == 200


def test_reconciler_checks_membership_itself(st, org):
    """Membership ended behind the API's back (in the database): the
    running workspace is stopped by the next full pass, and a start made
    meanwhile gets no org secret (the build fails: the secret does not
    exist for it)."""
    oid, users, tpl, _ = org
    (m, tm) = users["m"]
    r = st.reconciler(reconciler_resync=1).start()
    ws = create(st, tm, tpl, oid)
    st.wait_build(ws["build_id"], 60, "succeeded")
    st.db.exec("DELETE FROM memberships WHERE org_id = %s AND user_id = %s", oid, m.id)

    def stopped():
        b = st.latest_build(ws)
        return b if b["reason"] == "membership" and b["status"] == "succeeded" else None

    wait_for(stopped, 15, interval=0.1, what="the reconciler to stop the workspace")
    assert st.containers_of(ws) == []
    assert "stopping (membership)" in r.log()
    # A start recorded directly in the database, as if the API had let it.
    st.db.exec("INSERT INTO workspace_builds (workspace_id, number, transition, reason,"
               " template_version_id) SELECT id, 99, 'start', 'user', template_version_id"
               " FROM workspaces WHERE id = %s", ws["id"])
    st.db.exec("UPDATE workspaces SET desired_state = 'running' WHERE id = %s", ws["id"])
    st.db.exec("SELECT pg_notify('warren_reconcile', %s)", ws["id"])
    b = st.db.one("SELECT id FROM workspace_builds WHERE workspace_id = %s AND number = 99",
                  ws["id"])
    row = st.wait_build(b["id"], 30, "failed")
    assert "the secret ORG_TOKEN does not exist" in row["error"], row
    assert st.containers_of(ws) == []
