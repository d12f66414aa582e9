"""warren-reconciler enforcing schedules (issue 5 point 7) and writing its
metrics (point 8).  Times are moved into the past with SQL; one `--once`
pass then has to act, each action a build with its reason and an audit
entry by warren-reconciler.
"""


import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import metric, wait_for  # noqa: E402
from docker_util import MISSING_IMAGE  # noqa: E402
from identity_util import audit  # noqa: E402

pytest_plugins = ["docker_util"]

DORMANT_AFTER = 7
DELETE_AFTER = 30
DORMANCY = {"dormancy_after_days": DORMANT_AFTER, "dormancy_delete_after_days": DELETE_AFTER}


def started(st, tpl, n, **body):
    out = [st.workspace(tpl, **body) for _ in range(n)]
    st.once(timeout=60)
    for ws in out:
        st.wait_build(ws["build_id"], 1, "succeeded")
    return out


def stopped(st, tpl, n):
    out = started(st, tpl, n)
    builds = [st.build(ws, "stop") for ws in out]
    st.once(timeout=60)
    for b in builds:
        st.wait_build(b["id"], 1, "succeeded")
    return out


def audited(st, ws, action):
    items = audit(st.w, st.token, target=ws["id"], action=action)["items"]
    assert len(items) == 1, (action, items)
    e = items[0]
    assert e["actor_name"] == "warren-reconciler" and e["result"] == "success", e
    assert e["target_type"] == "workspace" and e["target_id"] == ws["id"], e
    return e


def assert_scheduled(st, ws, transition, reason, number=2):
    b = st.latest_build(ws)
    assert b["number"] == number and b["transition"] == transition, b
    assert b["reason"] == reason and b["initiator_id"] is None, b
    assert b["status"] == "succeeded", (b, st.log_lines(b["id"]))
    e = audited(st, ws, f"workspace.{transition}")
    assert e["details"]["reason"] == reason and e["details"]["build_id"] == b["id"], e
    return b


def test_stop_schedules_autostop_idle_lifetime(st):
    tpl = st.template()
    auto, idle, life, fine = started(st, tpl, 4, autostop_ttl=3600, idle_timeout=600)
    for ws in (auto, idle, life, fine):
        row = st.db.one("SELECT deadline, max_deadline FROM workspaces WHERE id = %s", ws["id"])
        assert row["deadline"] and row["max_deadline"], row
    st.db.exec("UPDATE workspaces SET deadline = now() - interval '1 minute' WHERE id = %s",
               auto["id"])
    # 11 minutes without activity: past the workspace's 600 s, not the
    # template's 3600 s.
    st.db.exec("UPDATE workspaces SET last_activity_at = now() - interval '11 minutes'"
               " WHERE id = %s", idle["id"])
    st.db.exec("UPDATE workspaces SET max_deadline = now() - interval '1 minute' WHERE id = %s",
               life["id"])
    st.db.exec("UPDATE workspaces SET last_activity_at = now() - interval '9 minutes'"
               " WHERE id = %s", fine["id"])
    st.once(timeout=60)
    for ws, reason in ((auto, "autostop"), (idle, "idle"), (life, "lifetime")):
        assert_scheduled(st, ws, "stop", reason)
        assert st.containers_of(ws) == [], reason
        assert st.docker.volume(st.vname(ws)) is not None, reason
        got = st.api("GET", f"/workspaces/{ws['id']}", 200).json()
        assert got["status"] == "stopped" and got["desired_state"] == "stopped", got
    assert st.latest_build(fine)["number"] == 1
    assert st.serves(fine, "warren v1")


def test_dormancy_then_auto_delete(st):
    tpl = st.template()
    sleepy, doomed, recent = stopped(st, tpl, 3)
    st.db.exec("UPDATE workspaces SET stopped_at = now() - interval '8 days' WHERE id = %s",
               sleepy["id"])
    st.db.exec("UPDATE workspaces SET stopped_at = now() - interval '40 days',"
               " dormant_at = now() - interval '31 days' WHERE id = %s", doomed["id"])
    st.db.exec("UPDATE workspaces SET stopped_at = now() - interval '6 days' WHERE id = %s",
               recent["id"])
    st.once(timeout=60, **DORMANCY)

    # Stopped for 8 days: dormant, recorded by a stop build with reason
    # dormancy that has nothing to do and ends at once.
    row = st.db.one("SELECT dormant_at, deleted_at FROM workspaces WHERE id = %s", sleepy["id"])
    assert row["dormant_at"] is not None and row["deleted_at"] is None, row
    b = st.latest_build(sleepy)
    assert b["number"] == 3 and b["transition"] == "stop", b
    assert b["reason"] == "dormancy" and b["initiator_id"] is None, b
    assert b["status"] == "succeeded", b
    e = audited(st, sleepy, "workspace.dormant")
    assert e["details"]["reason"] == "dormancy" and e["details"]["build_id"] == b["id"], e
    got = st.api("GET", f"/workspaces/{sleepy['id']}", 200).json()
    assert got["status"] == "dormant", got
    assert st.docker.volume(st.vname(sleepy)) is not None

    # Dormant for 31 days: deleted by a build with reason dormancy.
    assert_scheduled(st, doomed, "delete", "dormancy", number=3)
    row = st.db.one("SELECT deleted_at, deleting_at FROM workspaces WHERE id = %s", doomed["id"])
    assert row["deleted_at"] is not None and row["deleting_at"] is not None, row
    assert st.docker.volume(st.vname(doomed)) is None, "volume of an auto-deleted workspace kept"
    st.api("GET", f"/workspaces/{doomed['id']}", 404)

    # Six days: nothing yet.
    row = st.db.one("SELECT dormant_at FROM workspaces WHERE id = %s", recent["id"])
    assert row["dormant_at"] is None, row
    assert st.latest_build(recent)["number"] == 2
    # Starting a dormant workspace wakes it.
    b = st.build(sleepy, "start")
    st.once(timeout=60, **DORMANCY)
    st.wait_build(b["id"], 1, "succeeded")
    assert st.db.value("SELECT dormant_at FROM workspaces WHERE id = %s", sleepy["id"]) is None


# ---------------------------------------------------------------- metrics


def test_metrics_file(st):
    r = st.reconciler(reconciler_resync=1).start()
    tpl = st.template()
    ok = st.workspace(tpl)
    st.wait_build(ok["build_id"], 30, "succeeded")
    bad = st.workspace(st.template(image=MISSING_IMAGE))
    st.wait_build(bad["build_id"], 60, "failed")
    stop = st.build(ok, "stop")
    st.wait_build(stop["id"], 30, "succeeded")
    again = st.workspace(tpl)
    st.wait_build(again["build_id"], 30, "succeeded")

    # A full pass after all that has written it.
    n0 = metric(r.metrics(), "warren_reconciler_pass_seconds_count")
    wait_for(lambda: metric(r.metrics(), "warren_reconciler_pass_seconds_count") > n0 + 1, 10,
             interval=0.1, what="two more full passes")
    text = r.metrics_text()
    # Written whole (a temporary file beside it, renamed): none is left.
    assert not [p for p in r.metrics_path.parent.iterdir() if p.name.startswith(".warren-")]
    m = r.metrics()  # parses every line, or fails
    for family, kind in (("warren_reconciler_pass_seconds", "histogram"),
                         ("warren_reconciler_actions_total", "counter"),
                         ("warren_reconciler_docker_seconds", "histogram"),
                         ("warren_reconciler_build_seconds", "histogram"),
                         ("warren_workspaces", "gauge")):
        assert f"# TYPE {family} {kind}\n" in text, family
        assert f"# HELP {family} " in text, family

    # Pass duration: a histogram with consistent buckets.
    count = metric(m, "warren_reconciler_pass_seconds_count")
    assert count >= 2 and metric(m, "warren_reconciler_pass_seconds_sum") > 0, text
    buckets = sorted(((float(dict(ls)["le"]), v) for (n, ls), v in m.items()
                      if n == "warren_reconciler_pass_seconds_bucket"), key=lambda x: x[0])
    assert buckets[-1] == (float("inf"), count), buckets
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets

    # Actions by type and result.
    def actions(action, result):
        return metric(m, "warren_reconciler_actions_total", action=action, result=result)

    for action in ("begin", "volume", "create", "start", "probe", "remove", "succeed"):
        assert actions(action, "success") >= 1, (action, text)
    assert actions("create", "failure") >= 1, text
    assert actions("create", "success") == 2, text

    # Docker API latency.
    assert metric(m, "warren_reconciler_docker_seconds_count") >= 10, text
    assert metric(m, "warren_reconciler_docker_seconds_sum") > 0, text

    # Build durations by transition and result.
    def builds(transition, result):
        return metric(m, "warren_reconciler_build_seconds_count", transition=transition,
                      result=result)

    assert builds("start", "succeeded") == 2, text
    assert builds("start", "failed") == 1, text
    assert builds("stop", "succeeded") == 1, text
    assert metric(m, "warren_reconciler_build_seconds_sum", transition="start",
                  result="succeeded") > 0, text

    # Workspaces by status: what the API says about them.
    statuses = {}
    for ws in (ok, bad, again):
        s = st.api("GET", f"/workspaces/{ws['id']}", 200).json()["status"]
        statuses[s] = statuses.get(s, 0) + 1
    assert statuses == {"stopped": 1, "failed": 1, "running": 1}, statuses
    got = {dict(ls)["status"]: v for (n, ls), v in m.items() if n == "warren_workspaces" and v}
    assert got == statuses, (got, statuses)


def test_a_pass_removes_rate_limit_windows_over_a_day_old(st):
    """warren-api's rate-limit windows (rate_windows) are kept in
    PostgreSQL for every API host; a full pass removes those no window is
    long enough to still use."""
    st.db.exec("INSERT INTO rate_windows (key, started_at, count) VALUES"
               " ('old', now() - interval '25 hours', 3),"
               " ('recent', now() - interval '23 hours', 3)")
    st.once(timeout=60)
    keys = [r["key"] for r in st.db.all("SELECT key FROM rate_windows ORDER BY key")]
    assert keys == ["recent"], keys
    st.db.exec("DELETE FROM rate_windows")
