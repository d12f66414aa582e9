"""warren-reconciler repairing what others did (issue 5 points 1 and 6):
orphans, containers removed, stopped or exiting behind its back, dockerd
and PostgreSQL restarted under it, and a second reconciler waiting for the
first to die.
"""

import signal
import time
import uuid

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import metric, wait_for  # noqa: E402
from docker_util import IMAGE, DockerRelay  # noqa: E402

pytest_plugins = ["docker_util"]


def running_ws(st, tpl, **body):
    ws = st.workspace(tpl, **body)
    st.wait_build(ws["build_id"], 30, "succeeded")
    return ws


def write_home(st, ws, text="survives"):
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", f"echo {text} > /home/dev/f"])
    assert code == 0, out


def read_home(st, ws):
    code, out = st.docker.exec(st.cname(ws), ["cat", "/home/dev/f"])
    return out.strip() if code == 0 else None


def serving(st, ws):
    """The workspace's one container runs and answers on its port."""
    cs = st.containers_of(ws)
    return len(cs) == 1 and cs[0]["State"] == "running" and st.serves(ws, "warren v1")


# ---------------------------------------------------------------- orphans


def test_orphans_removed_others_left_alone(st):
    """Orphan containers of this installation go; its orphan home volumes
    are kept and listed for the operator; what is not Warren's is never
    touched."""
    d = st.docker
    # A workspace deleted in the database whose container is still there,
    # and one that lives on.
    tpl = st.template()
    st.reconciler().start()
    gone = running_ws(st, tpl)
    kept = running_ws(st, tpl)
    assert st.recons[-1].terminate() == 0
    st.db.exec("UPDATE workspaces SET deleted_at = now() WHERE id = %s", gone["id"])
    # A container and a volume of this installation for no workspace at all.
    ghost = str(uuid.uuid4())
    labels = st.labels(ghost)
    d.start(d.create("warren-orphan1", {"Image": IMAGE, "Cmd": ["sleep", "3600"],
                                        "Labels": labels}))
    d.call("POST", "/volumes/create", {"Name": "warren-orphan1-home", "Labels": labels})
    # Not Warren's: never touched.
    d.start(d.create("not-warren-1", {"Image": IMAGE, "Cmd": ["sleep", "3600"],
                                      "Labels": {"someone.else": "true"}}))
    try:
        r = st.once(timeout=60)
        assert d.inspect("warren-orphan1") is None, "orphan container kept"
        assert st.containers_of(gone) == [], "container of a deleted workspace kept"
        # Home volumes are never removed as orphans: kept and listed.
        assert d.volume("warren-orphan1-home") is not None, "orphan volume removed"
        assert d.volume(st.vname(gone)) is not None, "home volume of a forgotten workspace removed"
        listed = {row["name"]: row for row in st.db.all("SELECT * FROM orphan_volumes")}
        assert set(listed) == {"warren-orphan1-home", st.vname(gone)}, listed
        assert listed[st.vname(gone)]["workspace_id"] == gone["id"]
        assert d.inspect("not-warren-1")["State"]["Running"], "a foreign container was touched"
        assert serving(st, kept)
        m = r.metrics()
        assert metric(m, "warren_reconciler_actions_total", action="remove",
                      result="success") == 2, r.metrics_text()
        assert metric(m, "warren_reconciler_actions_total", action="remove_volume") == 0
        assert metric(m, "warren_reconciler_orphan_volumes") == 2, r.metrics_text()
        assert "keeping 2 home volumes on local whose workspaces this database does not know" \
            in r.log(), r.log()[-2000:]
        # Kept pass after pass.
        st.once(timeout=60)
        assert d.volume("warren-orphan1-home") is not None
    finally:
        d.rm("not-warren-1")


def test_orphan_docker_will_not_remove_is_retried_later(st):
    """An orphan home volume the operator asked to remove and Docker refuses
    to (another container still uses it): the log says why, the next tries
    come after a pause that doubles, other work goes on meanwhile, and the
    volume goes once Docker lets it."""
    d = st.docker
    ghost = str(uuid.uuid4())
    name = "warren-orphan2-home"
    d.call("POST", "/volumes/create", {"Name": name, "Labels": st.labels(ghost)})
    d.start(d.create("not-warren-2", {"Image": IMAGE, "Cmd": ["sleep", "3600"],
                                      "HostConfig": {"Binds": [f"{name}:/data"]}}))
    try:
        st.once(timeout=60)
        assert d.volume(name) is not None
        r = st.w.ctl("volumes", "remove", name)
        assert r.returncode == 0 and "requested the removal of 1 home volume" in r.stdout, \
            r.stdout + r.stderr
        r = st.reconciler(reconciler_resync=1).start()
        r.wait_log(f"could not remove home volume {name}: .*in use.*; next try in 15 s", 10)
        # Passes go on every second; the workspace is served all the same.
        t0 = time.monotonic()
        ws = running_ws(st, st.template())
        assert serving(st, ws)
        time.sleep(max(0.0, 6 - (time.monotonic() - t0)))
        assert r.log().count(f"removing home volume {name}") == 1, r.log()[-2000:]
        assert metric(r.metrics(), "warren_reconciler_actions_total", action="remove_volume",
                      result="failure") == 1, r.metrics_text()
    finally:
        d.rm("not-warren-2")
    # Free now: gone at the next try, 15 s after the first.
    wait_for(lambda: d.volume(name) is None, 25, interval=0.2, what="the orphan volume to go")
    assert r.log().count(f"could not remove home volume {name}") == 1
    assert serving(st, ws)
    wait_for(lambda: st.db.value("SELECT count(*) FROM orphan_volumes") == 0, 5,
             what="the volume off the list")
    audit = st.db.one("SELECT * FROM audit_log WHERE action = 'volume.remove'")
    assert audit and audit["target_id"] == name, audit
    assert audit["details"]["requested_by"].startswith("warrenctl ("), audit


# ------------------------------------------------------------------ drift


def test_hand_made_drift_repaired(st):
    st.reconciler(reconciler_resync=1).start()
    ws = running_ws(st, st.template())
    write_home(st, ws)
    # Removed by hand: a new container, same volume.
    st.docker.rm(st.cname(ws))
    wait_for(lambda: serving(st, ws), 10, interval=0.1, what="the removed container to return")
    assert read_home(st, ws) == "survives"
    # Stopped by hand: started again.
    st.docker.stop(st.cname(ws), t=1)
    assert not st.docker.inspect(st.cname(ws))["State"]["Running"]
    wait_for(lambda: serving(st, ws), 10, interval=0.1, what="the stopped container to run again")
    assert read_home(st, ws) == "survives"
    # The deployment row follows (new ports after re-creation).
    dep = st.db.one("SELECT * FROM deployments WHERE workspace_id = %s", ws["id"])
    c = st.docker.inspect(st.cname(ws))
    assert dep["container_id"] == c["Id"] and dep["ports"] == {"8080": st.port_of(ws)}, dep
    # No build was made for it: the user asked for nothing.
    assert st.db.value("SELECT count(*) FROM workspace_builds WHERE workspace_id = %s",
                       ws["id"]) == 1


def test_exit_recorded_and_fail_policy_stops_workspace(st):
    """A container that exits on its own: with restart_policy "fail" the
    exit code is recorded and the workspace stopped by a build."""
    st.reconciler(reconciler_resync=1).start()
    cmd = ["sh", "-c", "httpd -p 8080 -h /www; while [ ! -e /tmp/die ]; do sleep 0.1; done;"
           " exit 7"]
    ws = running_ws(st, st.template(command=cmd, restart_policy="fail"))
    code, out = st.docker.exec(st.cname(ws), ["touch", "/tmp/die"])
    assert code == 0, out

    def stopped():
        b = st.latest_build(ws)
        return b if b["number"] == 2 and b["status"] == "succeeded" else None

    b = wait_for(stopped, 15, interval=0.1, what="a stop build for the failure")
    assert b["transition"] == "stop" and b["reason"] == "failure", b
    assert st.db.value("SELECT desired_state FROM workspaces WHERE id = %s", ws["id"]) == "stopped"
    dep = st.db.one("SELECT * FROM deployments WHERE workspace_id = %s", ws["id"])
    assert dep["exit_code"] == 7 and dep["state"] != "running", dep
    assert st.containers_of(ws) == []
    assert st.docker.volume(st.vname(ws)) is not None


def test_exit_with_restart_policy_restarts(st):
    r = st.reconciler(reconciler_resync=1).start()
    cmd = ["sh", "-c", "httpd -p 8080 -h /www; while [ ! -e /tmp/die ]; do sleep 0.1; done;"
           " exit 5"]
    ws = running_ws(st, st.template(command=cmd))
    cid = st.docker.inspect(st.cname(ws))["Id"]
    code, out = st.docker.exec(st.cname(ws), ["touch", "/tmp/die"])
    assert code == 0, out
    r.wait_log("container exited with code 5", 10)
    wait_for(lambda: serving(st, ws), 10, interval=0.1, what="the exited container to run again")
    assert st.docker.inspect(st.cname(ws))["Id"] == cid
    assert st.db.value("SELECT desired_state FROM workspaces WHERE id = %s", ws["id"]) == "running"
    assert st.db.value("SELECT count(*) FROM workspace_builds WHERE workspace_id = %s",
                       ws["id"]) == 1


# ------------------------------------------------------- services restart


def test_dockerd_restarted_mid_run(st, dockerd):
    if not dockerd.started:
        pytest.skip("the Docker Engine was not started by the tests "
                    "(WARREN_TEST_DOCKER_HOST): it is not ours to restart")
    r = st.reconciler(reconciler_resync=2).start()
    tpl = st.template()
    ws = running_ws(st, tpl)
    write_home(st, ws)
    later = st.workspace(tpl, start=False)
    dockerd.stop()
    try:
        # While Docker is away a start is asked for: not the build's fault.
        b = st.build(later, "start")
        time.sleep(3)
        row = st.latest_build(later)
        assert row["status"] in ("pending", "running"), row
    finally:
        dockerd.start()
    assert r.running(), r.log()[-2000:]
    st.wait_build(b["id"], 30, "succeeded")
    # The container stopped with the daemon is put back, volume and all.
    wait_for(lambda: serving(st, ws), 20, interval=0.2, what="the workspace after dockerd restart")
    assert read_home(st, ws) == "survives"
    assert serving(st, later)
    assert "Docker did not answer" in r.log()
    assert r.running()


def test_postgresql_restarted_mid_run(st):
    r = st.reconciler(reconciler_resync=60).start()
    tpl = st.template()
    ws = running_ws(st, tpl)
    pid = r.pid
    st.db.close()
    st.w.pg.stop()
    try:
        time.sleep(2)
        # Drift while the database is away: repaired once it is back.
        st.docker.rm(st.cname(ws))
    finally:
        st.w.pg.start()
        t0 = time.monotonic()

        def api_up():
            try:
                return st.api("GET", "/api/v1/ready").status_code == 200
            except Exception:  # noqa: BLE001
                return False

        wait_for(api_up, 20, interval=0.2, what="warren-api after PostgreSQL restart")
    # Well before the next resync (60 s): the reconciler is back at once.
    wait_for(lambda: serving(st, ws), 20, interval=0.2, what="repair after PostgreSQL came back")
    assert r.running() and r.pid == pid, r.log()[-2000:]
    print(f"repaired {time.monotonic() - t0:.1f} s after PostgreSQL was back")
    # NOTIFY works again (LISTEN on the new session): a start is quick.
    t0 = time.monotonic()
    ws2 = st.workspace(tpl)
    st.wait_build(ws2["build_id"], 20, "succeeded")
    assert time.monotonic() - t0 < 15, "the start waited for a resync: LISTEN is gone"
    assert serving(st, ws2)


def test_docker_hosts_row_names_the_endpoint(st):
    """The docker_hosts row of this host's name wins over docker_host."""
    st.db.exec("INSERT INTO docker_hosts (name, endpoint) VALUES ('local', %s)",
               st.dockerd.host)
    try:
        r = st.reconciler(docker_host=f"unix://{st.w.dir}/no-docker-here.sock").start()
        ws = running_ws(st, st.template())
        assert serving(st, ws)
        assert r.running()
        dep = st.db.one("SELECT docker_host FROM deployments WHERE workspace_id = %s", ws["id"])
        assert dep["docker_host"] == "local", dep
    finally:
        st.db.exec("DELETE FROM docker_hosts WHERE name = 'local'")


# ----------------------------------------------------------- leadership


def test_two_reconcilers_one_active_second_takes_over(st):
    # The second talks to Docker through a relay that records its calls.
    relay = DockerRelay(st.dockerd.sock, st.w.dir / "relay.sock")
    try:
        a = st.reconciler(reconciler_resync=2).start()
        b = st.reconciler(docker_host=relay.host, reconciler_resync=2)
        b.start(wait_active=False)
        b.wait_log("another reconciler is active for local: waiting", 10)
        tpl = st.template()
        ws = running_ws(st, tpl)
        time.sleep(0.5)
        assert relay.calls == [], f"the waiting reconciler used Docker: {relay.calls}"
        assert "active reconciler" not in b.log().replace("another reconciler is active", "")
        t0 = time.monotonic()
        a.kill(signal.SIGKILL)
        b.wait_log(r"info: active reconciler for Docker host local", 10)
        took = time.monotonic() - t0
        assert took < 10, took
        # It converges: drift repaired, a new start done.
        st.docker.rm(st.cname(ws))
        ws2 = st.workspace(tpl)
        st.wait_build(ws2["build_id"], 20, "succeeded")
        wait_for(lambda: serving(st, ws), 10, interval=0.2, what="the new leader's repair")
        assert relay.calls, "the new leader made no Docker call"
        assert len(st.containers_of(ws)) == 1 and len(st.containers_of(ws2)) == 1
        print(f"takeover after {took:.2f} s")
    finally:
        relay.close()
