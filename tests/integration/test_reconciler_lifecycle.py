"""warren-reconciler on a real Docker Engine (issue 5): the transitions a
user asks for through the API (start, stop, restart, update, delete), the
container spec as Docker reports it, readiness, images, build logs and
digests, waking on NOTIFY, --once and SIGTERM.

Containers are reached only through the ports they publish on 127.0.0.1.
"""

import concurrent.futures
import os
import time

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import lib, wait_for  # noqa: E402
from docker_util import (  # noqa: E402
    IMAGE, IMAGE2, MISSING_IMAGE, Db, http_get,
)

pytest_plugins = ["docker_util"]

# A server that listens only after a while: readiness must wait for it.
SLOW_HTTPD = ["sh", "-c", "echo preparing; sleep 2; echo listening now;"
              " exec httpd -f -p 8080 -h /www"]


def write_home(st, ws, name="notes.txt", text="kept across transitions"):
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", f"echo '{text}' > /home/dev/{name}"])
    assert code == 0, out
    return text


def read_home(st, ws, name="notes.txt"):
    code, out = st.docker.exec(st.cname(ws), ["cat", f"/home/dev/{name}"])
    assert code == 0, f"cat /home/dev/{name}: {out}"
    return out.strip()


def running_ws(st, tpl, **body):
    ws = st.workspace(tpl, **body)
    st.wait_build(ws["build_id"], 30, "succeeded")
    return ws


def assert_deployment(st, ws, build_number):
    """The deployment row matches what Docker has."""
    c = st.docker.inspect(st.cname(ws))
    assert c is not None and c["State"]["Running"], c and c["State"]
    dep = st.db.one("SELECT * FROM deployments WHERE workspace_id = %s", ws["id"])
    assert dep is not None, "no deployment row"
    assert dep["container_id"] == c["Id"], (dep, c["Id"])
    assert dep["container_name"] == st.cname(ws) and dep["volume_name"] == st.vname(ws), dep
    assert dep["state"] == "running" and dep["build_number"] == build_number, dep
    assert dep["ports"] == {"8080": st.port_of(ws)}, (dep["ports"], st.port_of(ws))
    assert dep["docker_host"] == "local", dep
    return dep


# ------------------------------------------------------------------ start


def test_start_succeeds_only_when_probe_passes_and_logs_stream(st, images):
    st.reconciler().start()
    tpl = st.template(command=SLOW_HTTPD)
    t0 = time.monotonic()
    ws = st.workspace(tpl)
    bid = ws["build_id"]
    assert ws["status"] == "starting", ws

    # While the server is not listening yet: the container runs, its port
    # does not answer, the build is running and its log lines are already
    # readable through the API.
    def waiting():
        lines = [i["line"] for i in st.logs(bid)]
        return lines if any(l.startswith("waiting for the workspace") for l in lines) else None

    lines = wait_for(waiting, 10, interval=0.05, what="the probe's log line through the API")
    b = st.get_build(bid)
    assert b["status"] == "running", b
    assert b["started_at"] and not b["completed_at"], b
    assert lines[0] == "build 1: start", lines
    assert any(l.startswith("created container ") for l in lines), lines
    port = st.port_of(ws)
    # (A TCP connect would succeed: docker-proxy accepts on the host port
    # whether or not the container listens.  HTTP tells them apart.)
    assert port and http_get(port) is None, "the workspace answers before it listens"
    assert st.latest_build(ws)["status"] == "running"

    # Follow mode: the next line arrives while the request waits.
    after = st.logs(bid)[-1]["seq"]
    r = st.api("GET", f"/builds/{bid}/logs?follow=true&after={after}&timeout=15", 200)
    got = [i["line"] for i in r.json()["items"]]
    assert got, r.json()
    b = st.wait_build(bid, 30, "succeeded")
    elapsed = time.monotonic() - t0
    assert elapsed >= 2, f"succeeded after {elapsed:.2f} s, before the server listened"
    assert (b["completed_at"] - b["started_at"]).total_seconds() >= 1.9, b
    lines = st.log_lines(bid)
    assert any(l.startswith("ready after ") for l in lines), lines
    # Reachable on its published port as soon as the build says so.
    assert http_get(port) == (200, "warren v1\n")
    assert_deployment(st, ws, 1)
    assert st.get_build(bid)["image_digest"] == images[IMAGE]["Id"]
    got = st.api("GET", f"/workspaces/{ws['id']}", 200).json()
    assert got["status"] == "running" and got["desired_state"] == "running", got


# ------------------------------------------------------------- transitions


def test_stop_removes_container_keeps_volume_then_start_again(st):
    st.reconciler().start()
    tpl = st.template()
    ws = running_ws(st, tpl)
    text = write_home(st, ws)
    b = st.build(ws, "stop")
    st.wait_build(b["id"], 30, "succeeded")
    assert st.containers_of(ws) == []
    assert st.docker.inspect(st.cname(ws)) is None
    vol = st.docker.volume(st.vname(ws))
    assert vol is not None, "the home volume went with the stop"
    assert vol["Labels"].get("warren.workspace") == ws["id"], vol
    got = st.api("GET", f"/workspaces/{ws['id']}", 200).json()
    assert got["status"] == "stopped", got

    b = st.build(ws, "start")
    st.wait_build(b["id"], 30, "succeeded")
    assert len(st.containers_of(ws)) == 1
    assert read_home(st, ws) == text
    assert st.serves(ws, "warren v1")
    assert_deployment(st, ws, b["number"])


def test_deployment_row_follows_stop(st):
    """deployments is what the reconciler observed: after a stop it must
    not still name a running container that no longer exists."""
    st.reconciler().start()
    ws = running_ws(st, st.template())
    b = st.build(ws, "stop")
    st.wait_build(b["id"], 30, "succeeded")
    dep = st.db.one("SELECT * FROM deployments WHERE workspace_id = %s", ws["id"])
    assert dep is None or dep["state"] != "running", (
        f"after a stop the deployment still says {dep['state']} in container "
        f"{dep['container_id'][:12]}, which is gone")


def test_restart_replaces_container_keeps_volume(st):
    st.reconciler().start()
    ws = running_ws(st, st.template())
    text = write_home(st, ws)
    old = st.docker.inspect(st.cname(ws))["Id"]
    b = st.build(ws, "restart")
    st.wait_build(b["id"], 30, "succeeded")
    cs = st.containers_of(ws)
    assert len(cs) == 1, cs
    assert cs[0]["Id"] != old, "restart kept the old container"
    assert cs[0]["Labels"]["warren.build"] == str(b["number"]), cs[0]["Labels"]
    assert read_home(st, ws) == text
    assert st.serves(ws, "warren v1")
    assert_deployment(st, ws, b["number"])


def test_update_to_new_version_keeps_volume(st, images):
    st.reconciler().start()
    tpl = st.template()
    ws = running_ws(st, tpl)
    text = write_home(st, ws)
    v2 = st.add_version(tpl["id"], image=IMAGE2, env={"LANG": "C", "APP_VERSION_TAG": "v2"})
    assert v2["number"] == 2, v2
    b = st.build(ws, "update", template_version=2)
    st.wait_build(b["id"], 30, "succeeded")
    cs = st.containers_of(ws)
    assert len(cs) == 1, cs
    c = st.docker.inspect(st.cname(ws))
    assert c["Config"]["Image"] == IMAGE2, c["Config"]["Image"]
    assert "APP_VERSION_TAG=v2" in c["Config"]["Env"], c["Config"]["Env"]
    assert read_home(st, ws) == text
    assert st.serves(ws, "warren v2")
    assert st.get_build(b["id"])["image_digest"] == images[IMAGE2]["Id"]
    dep = assert_deployment(st, ws, b["number"])
    assert dep["image_digest"] == images[IMAGE2]["Id"], dep
    got = st.api("GET", f"/workspaces/{ws['id']}", 200).json()
    assert got["template_version"] == 2 and got["status"] == "running", got


def test_delete_removes_container_volume_and_deployment(st):
    st.reconciler().start()
    ws = running_ws(st, st.template())
    write_home(st, ws)
    r = st.api("DELETE", f"/workspaces/{ws['id']}", 202)
    st.wait_build(r.json()["build_id"], 30, "succeeded")
    assert st.containers_of(ws) == []
    assert st.docker.volume(st.vname(ws)) is None, "the home volume outlived the workspace"
    assert st.db.one("SELECT 1 FROM deployments WHERE workspace_id = %s", ws["id"]) is None
    row = st.db.one("SELECT deleted_at, desired_state FROM workspaces WHERE id = %s", ws["id"])
    assert row["deleted_at"] is not None and row["desired_state"] == "deleted", row
    st.api("GET", f"/workspaces/{ws['id']}", 404)


# ---------------------------------------------------------- container spec


def test_limits_and_security_in_docker_inspect(st):
    st.reconciler().start()
    tpl = st.template(cpu_millis=250, memory_mb=48, pids=32,
                      capabilities=["CHOWN", "NET_BIND_SERVICE"],
                      ports=[{"port": 8080, "name": "web", "protocol": "http"},
                             {"port": 2222, "name": "ssh", "protocol": "tcp"}])
    ws = running_ws(st, tpl)
    c = st.docker.inspect(st.cname(ws))
    hc, cfg = c["HostConfig"], c["Config"]
    assert hc["Memory"] == 48 * 1024 * 1024, hc["Memory"]
    assert hc["MemorySwap"] == 48 * 1024 * 1024, hc["MemorySwap"]
    assert hc["NanoCpus"] == 250_000_000, hc["NanoCpus"]
    assert hc["PidsLimit"] == 32, hc["PidsLimit"]
    assert hc["CapDrop"] == ["ALL"], hc["CapDrop"]
    assert sorted(hc["CapAdd"] or []) == ["CHOWN", "NET_BIND_SERVICE"], hc["CapAdd"]
    assert any(o.startswith("no-new-privileges") and not o.endswith("false")
               for o in hc["SecurityOpt"] or []), hc["SecurityOpt"]
    assert cfg["User"] == "1000:1000", cfg["User"]
    assert hc["Privileged"] is False
    # The workspaces' own network, with no traffic between workspaces.
    assert hc["NetworkMode"] == "warren", hc["NetworkMode"]
    net = st.docker.call("GET", "/networks/warren")
    assert net["Options"]["com.docker.network.bridge.enable_icc"] == "false", net
    assert net["Options"]["com.docker.network.bridge.name"] == "wrn-warren", net
    assert net["Labels"]["warren.managed"] == "true", net
    assert list(c["NetworkSettings"]["Networks"]) == ["warren"], c["NetworkSettings"]["Networks"]
    assert hc["PidMode"] == "" and hc["UsernsMode"] == "" and hc["IpcMode"] != "host", hc
    assert not hc.get("Binds") and not hc.get("VolumesFrom") and not hc.get("Devices"), hc
    tmp = (hc["Tmpfs"] or {}).get("/tmp", "")
    assert "noexec" in tmp.split(","), hc["Tmpfs"]
    # Exactly one mount: the named home volume.
    assert [(m["Type"], m["Name"], m["Destination"]) for m in c["Mounts"]] == [
        ("volume", st.vname(ws), "/home/dev")], c["Mounts"]
    # Every port published on 127.0.0.1 only, on an ephemeral host port.
    ports = c["NetworkSettings"]["Ports"]
    assert set(ports) == {"8080/tcp", "2222/tcp"}, ports
    for key, bindings in ports.items():
        assert bindings and all(b["HostIp"] == "127.0.0.1" and int(b["HostPort"]) > 1024
                                for b in bindings), (key, bindings)
    for b in hc["PortBindings"].values():
        assert all(x["HostIp"] == "127.0.0.1" for x in b), hc["PortBindings"]
    labels = cfg["Labels"]
    assert labels["warren.managed"] == "true" and labels["warren.workspace"] == ws["id"], labels
    assert labels["warren.build"] == "1" and labels["warren.short_id"] == ws["short_id"], labels
    dep = st.db.one("SELECT ports FROM deployments WHERE workspace_id = %s", ws["id"])
    assert dep["ports"] == {k.split("/")[0]: int(v[0]["HostPort"]) for k, v in ports.items()}

    # The same, seen from inside the container.
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", "id -u; id -g; grep -E "
                               "'^(CapBnd|CapEff|NoNewPrivs):' /proc/self/status"])
    assert code == 0, out
    lines = out.split()
    assert lines[0:2] == ["1000", "1000"], out
    status = dict(zip(lines[2::2], lines[3::2]))
    # Bounding set: CHOWN (bit 0) and NET_BIND_SERVICE (bit 10) only.
    assert int(status["CapBnd:"], 16) == (1 << 0) | (1 << 10), status
    assert int(status["CapEff:"], 16) == 0, status
    assert status["NoNewPrivs:"] == "1", status
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", "cat /bin/busybox > /tmp/bb &&"
                               " chmod 755 /tmp/bb && /tmp/bb true"])
    assert code != 0 and "ermission denied" in out, f"/tmp allowed exec: {code} {out}"
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", "touch /home/dev/w && echo ok"])
    assert code == 0 and "ok" in out, out
    code, out = st.docker.exec(st.cname(ws), ["cat", "/sys/fs/cgroup/pids/pids.max"])
    if code == 0:  # cgroup v1 layout, as on this host
        assert out.strip() == "32", out


# -------------------------------------------------------------- failures


NEVER_LISTENS = ["sh", "-c", "echo starting up; echo no listener here >&2; exec sleep 3600"]


def test_failed_readiness_logs_container_output_and_stops(st):
    st.reconciler().start()
    tpl = st.template(command=NEVER_LISTENS,
                      probe={"type": "http", "port": 8080, "path": "/", "timeout": 3})
    t0 = time.monotonic()
    ws = st.workspace(tpl)
    b = st.wait_build(ws["build_id"], 30, "failed")
    assert time.monotonic() - t0 < 15
    assert "did not become ready within 3 s" in (b["error"] or ""), b
    logs = st.logs(ws["build_id"])
    lines = [i["line"] for i in logs]
    assert "starting up" in lines and "no listener here" in lines, lines
    assert any(i["stream"] != "system" and i["line"] == "starting up" for i in logs), logs
    assert any("did not become ready" in l for l in lines), lines
    row = st.db.one("SELECT desired_state FROM workspaces WHERE id = %s", ws["id"])
    assert row["desired_state"] == "stopped", row
    got = st.api("GET", f"/workspaces/{ws['id']}", 200).json()
    assert got["status"] == "failed", got
    # A stopped workspace has no container; the reconciler's resync is 30 s
    # here, so this is the failed build's own doing, not a later pass.
    wait_for(lambda: st.containers_of(ws) == [], 10, interval=0.1,
             what="the failed workspace's container to go")
    assert st.docker.volume(st.vname(ws)) is not None


def test_tcp_probe_needs_a_listener(st):
    """Connections to 127.0.0.1:<host port> reach docker-proxy, which
    accepts them whether or not the container listens (and then closes
    them): a bare connect() proves nothing about the workspace."""
    st.reconciler().start()
    tpl = st.template(command=NEVER_LISTENS, probe={"type": "tcp", "port": 8080, "timeout": 3})
    ws = st.workspace(tpl)
    b = st.wait_build(ws["build_id"], 30)
    assert b["status"] == "failed", (
        f"a TCP probe passed against a container that never listens: {st.log_lines(b['id'])}")


def test_container_exiting_during_probe_fails_fast(st):
    st.reconciler().start()
    tpl = st.template(command=["sh", "-c", "echo giving up; sleep 0.5; exit 3"],
                      probe={"type": "http", "port": 8080, "path": "/", "timeout": 60})
    t0 = time.monotonic()
    ws = st.workspace(tpl)
    b = st.wait_build(ws["build_id"], 30, "failed")
    assert time.monotonic() - t0 < 10, "a dead container was probed until the timeout"
    assert "giving up" in st.log_lines(ws["build_id"]), st.log_lines(ws["build_id"])
    assert b["error"], b


def test_container_exiting_at_once_is_reported_with_its_output(st):
    """A command that fails at once (a typo, a missing file): the build
    says so, with the container's output, whatever the timing."""
    st.reconciler().start()
    tpl = st.template(command=["sh", "-c", "echo no such thing >&2; exit 127"],
                      probe={"type": "http", "port": 8080, "path": "/", "timeout": 60})
    wss = [st.workspace(tpl) for _ in range(3)]
    problems = []
    for ws in wss:
        b = st.wait_build(ws["build_id"], 30, "failed")
        lines = st.log_lines(ws["build_id"])
        if "no such thing" not in lines or "not published" in (b["error"] or ""):
            problems.append((b["error"], lines))
    assert not problems, problems


def test_missing_image_fails_with_clear_error(st):
    st.reconciler().start()
    assert st.docker.image(MISSING_IMAGE) is None
    ws = st.workspace(st.template(image=MISSING_IMAGE))
    b = st.wait_build(ws["build_id"], 60, "failed")
    assert MISSING_IMAGE in b["error"] and "not available" in b["error"], b["error"]
    lines = st.log_lines(ws["build_id"])
    assert any(l.startswith("pulling image ") for l in lines), lines
    assert any(l.startswith("error: ") and MISSING_IMAGE in l for l in lines), lines
    # Permanent: no second try.
    assert not any(" failed (try " in l for l in lines), lines
    assert (b["completed_at"] - b["started_at"]).total_seconds() < 5, b
    assert st.containers_of(ws) == []
    api = st.get_build(ws["build_id"])
    assert api["status"] == "failed" and api["error"] == b["error"], api


def test_stuck_build_is_failed(st):
    """A build running past its probe timeout plus grace (a reconciler that
    died in a way no pass could repair) is failed by the next pass."""
    ws = st.workspace(st.template(), start=False)
    b = st.build(ws, "start")
    st.db.exec("UPDATE workspace_builds SET status = 'running',"
               " started_at = now() - interval '1 hour' WHERE id = %s", b["id"])
    st.once(timeout=60)
    row = st.wait_build(b["id"], 1, "failed")
    assert "did not finish in time" in row["error"], row
    assert st.db.value("SELECT desired_state FROM workspaces WHERE id = %s", ws["id"]) == "stopped"
    assert st.containers_of(ws) == []


# ------------------------------------------------------------ the daemon


def test_wakes_on_notify_well_before_resync(st):
    r = st.reconciler(reconciler_resync=300).start()
    # Let its first full pass go by, then ask.
    time.sleep(0.3)
    tpl = st.template()
    times = []
    for _ in range(3):
        t0 = time.monotonic()
        ws = st.workspace(tpl)
        st.wait_build(ws["build_id"], 10, "succeeded")
        times.append(time.monotonic() - t0)
        assert st.serves(ws, "warren v1")
    assert max(times) < 10, f"starts took {times} s with a resync of 300 s"
    assert r.running()


def test_burst_of_starts_all_woken(st):
    """Starts asked for at once run in parallel and all finish."""
    st.reconciler(reconciler_resync=300).start()
    tpl = st.template()
    wss = [st.workspace(tpl, start=False) for _ in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        builds = list(ex.map(lambda ws: st.build(ws, "start"), wss))
    for b in builds:
        st.wait_build(b["id"], 40, "succeeded")
    for ws in wss:
        assert st.serves(ws, "warren v1")


def test_notify_during_a_query_is_not_lost(st):
    """A NOTIFY that reaches the reconciler while its listening session is
    busy comes in with a query's answer, or sits on the socket when its
    next query starts: either way it must still wake a start.  Made to
    happen every time: a lock holds the reconciler's query for workspace A
    (and a second one, A2, waits behind it) while workspace B's start is
    committed and notified."""
    st.reconciler(reconciler_resync=300).start()
    tpl = st.template()
    for others in (1, 2):
        wake = [st.workspace(tpl, start=False)["id"] for _ in range(others)]
        b = st.workspace(tpl, start=False)
        locker = Db(st.w)
        try:
            locker.exec("BEGIN")
            locker.exec("LOCK TABLE template_versions IN ACCESS EXCLUSIVE MODE")
            st.db.exec("SELECT " + ", ".join(["pg_notify('warren_reconcile', %s)"] * others),
                       *wake)
            wait_for(lambda: st.db.value(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND application_name = 'warren-reconciler'"),
                10, interval=0.005, what="the reconciler's query to wait for the lock")
            # B's start, as the API writes it, without touching the locked
            # table (no foreign key checks in this session).
            st.db.exec("SET session_replication_role = replica")
            try:
                st.db.exec("INSERT INTO workspace_builds (workspace_id, number, transition,"
                           " template_version_id) SELECT id, 1, 'start', template_version_id"
                           " FROM workspaces WHERE id = %s", b["id"])
                st.db.exec("UPDATE workspaces SET desired_state = 'running' WHERE id = %s",
                           b["id"])
                st.db.exec("SELECT pg_notify('warren_reconcile', %s)", b["id"])
            finally:
                st.db.exec("SET session_replication_role = DEFAULT")
            time.sleep(0.05)
        finally:
            locker.close()   # releases the lock
        bid = st.latest_build(b)["id"]
        st.wait_build(bid, 10, "succeeded")
        assert st.serves(b, "warren v1")


def test_once_converges_and_exits(st):
    tpl = st.template()
    ws = st.workspace(tpl)
    assert st.latest_build(ws)["status"] == "pending"
    st.once(timeout=60)
    st.wait_build(ws["build_id"], 1, "succeeded")
    assert st.serves(ws, "warren v1")
    b = st.build(ws, "stop")
    st.once(timeout=60)
    st.wait_build(b["id"], 1, "succeeded")
    assert st.containers_of(ws) == []
    # Nothing to do: it still exits, quickly and with 0.
    t0 = time.monotonic()
    st.once(timeout=30)
    assert time.monotonic() - t0 < 5


def test_sigterm_exits_cleanly(st):
    # Idle: exits at once.
    r = st.reconciler().start()
    t0 = time.monotonic()
    assert r.terminate(timeout=10) == 0
    assert time.monotonic() - t0 < 3
    assert "stopped" in r.log().splitlines()[-1], r.log()[-500:]

    # In the middle of a start (waiting for the probe): the wait is cut
    # short, the process exits 0, and what it left is finished by the next
    # one with one container and no failed build.
    r = st.reconciler().start()
    ws = st.workspace(st.template(command=SLOW_HTTPD))
    wait_for(lambda: any(l.startswith("waiting for the workspace")
                         for l in st.log_lines(ws["build_id"])), 10, what="the probe")
    assert r.terminate(timeout=20) == 0, r.log()[-2000:]
    assert "stopped" in r.log().splitlines()[-1], r.log()[-500:]
    st.once(timeout=60)
    st.wait_build(ws["build_id"], 30, "succeeded")
    assert len(st.containers_of(ws)) == 1
    assert st.serves(ws, "warren v1")


# The server listens only once the test says so: until then no probe passes.
GATED_HTTPD = ["sh", "-c", "echo waiting for /tmp/go; while [ ! -e /tmp/go ]; do sleep 0.1;"
               " done; exec httpd -f -p 8080 -h /www"]


def test_sigterm_interrupts_a_readiness_wait(st):
    """SIGTERM while a start waits for a probe that does not pass: the
    reconciler exits at once, not after the probe's timeout, and leaves
    the build running for the next one, which finishes it."""
    r = st.reconciler().start()
    tpl = st.template(command=GATED_HTTPD,
                      probe={"type": "http", "port": 8080, "path": "/", "timeout": 120})
    ws = st.workspace(tpl)
    bid = ws["build_id"]

    def waits():
        return sum(l.startswith("waiting for the workspace") for l in st.log_lines(bid))

    wait_for(lambda: waits() == 1, 20, interval=0.05, what="the probe")
    cid = st.docker.inspect(st.cname(ws))["Id"]
    t0 = time.monotonic()
    assert r.terminate(timeout=60) == 0, r.log()[-2000:]
    took = time.monotonic() - t0
    print(f"exited {took:.2f} s after SIGTERM")
    # Generous: the probe had two minutes left.
    assert took < 5, f"exited {took:.1f} s after SIGTERM: it waited for the probe"
    log = r.log()
    assert f"workspace {ws['short_id']}: probe interrupted: the reconciler is stopping" in log, \
        log[-2000:]
    assert "stopped" in log.splitlines()[-1], log[-500:]

    # Nothing lost or failed: the build still runs, its container is there.
    b = st.latest_build(ws)
    assert b["id"] == bid and b["status"] == "running" and b["error"] is None, b
    assert not any(l.startswith("error: ") for l in st.log_lines(bid)), st.log_lines(bid)
    assert st.docker.inspect(st.cname(ws))["Id"] == cid

    # The next reconciler waits for the same probe again, and finishes the
    # build once the server listens: same container, one build.
    st.reconciler().start()
    wait_for(lambda: waits() == 2, 20, interval=0.05, what="the next reconciler's probe")
    code, out = st.docker.exec(st.cname(ws), ["touch", "/tmp/go"])
    assert code == 0, out
    st.wait_build(bid, 30, "succeeded")
    assert st.serves(ws, "warren v1")
    assert [c["Id"] for c in st.containers_of(ws)] == [cid]
    assert st.db.value("SELECT count(*) FROM workspace_builds WHERE workspace_id = %s",
                       ws["id"]) == 1


def test_demo_image_home_is_the_users(st):
    """tools/stack's demo image (tools/lib.sh): a workspace of it, as uid
    1000, writes its home."""
    env = dict(os.environ, DOCKER_HOST=st.dockerd.host)
    name = "warren/demo-test:1"
    r = lib("warren_demo_image", name, env=env, check=False)
    assert r.returncode == 0, r.stderr
    st.reconciler().start()
    ws = st.workspace(st.template(image=name, command=None, home_path="/home/coder"))
    st.wait_build(ws["build_id"], 60, "succeeded")
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", "id -u; touch /home/coder/mine && echo ok"])
    assert code == 0 and out.split() == ["1000", "ok"], out
