"""Issue 2, item 2: the prefork master: workers, respawn, recycling,
SIGTERM drain, SIGHUP reload."""

import os
import re
import signal
import subprocess
import threading
import time

import pytest
import requests

from conftest import HTTP_TIMEOUT, LIB, Load, alive, metric, wait_for


def hold_migrations_lock(pg, db, seconds):
    """Holds an ACCESS EXCLUSIVE lock on the migrations table for a while,
    so that /ready (which reads it) waits: a slow in-flight request."""
    locker = subprocess.Popen(
        [
            "bash", "-c", '. "$0"; warren_pg_psql "$@"', str(LIB), pg.root, str(pg.port), db,
            "-c", "BEGIN; LOCK TABLE warren_schema_migrations IN ACCESS EXCLUSIVE MODE; "
            f"SELECT pg_sleep({seconds}); COMMIT;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(
        lambda: pg.psql(
            db,
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'warren_schema_migrations' AND l.mode = 'AccessExclusiveLock' "
            "AND l.granted",
        ) == "1",
        5,
        what="the lock on warren_schema_migrations",
    )
    return locker


def test_workers_are_children_of_master(make_warren):
    w = make_warren(workers=4)
    workers = w.workers()
    assert len(workers) == 4
    assert w.master not in workers
    assert w.metrics()[("warren_workers", frozenset())] == 4


def test_sigkill_worker_under_load_respawned(make_warren):
    w = make_warren(workers=3)
    before = w.workers()
    restarts0 = metric(w.metrics(), "warren_worker_restarts_total", reason="crash")
    with Load(w.url("/api/v1/health"), threads=4, duration=8) as load:
        load.wait_until(50)
        victim = before[1]
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        after = w.wait_workers(3, exclude=[victim], timeout=3)
        respawn = time.monotonic() - t0
        n = load.ok
        load.wait_until(n + 100)
    assert respawn < 1.0, f"worker respawned after {respawn:.3f} s"
    assert set(after) - set(before), "no new worker"
    assert len(load.failures) <= 1, load.failures[:5]
    assert alive(w.master)
    restarts1 = metric(w.metrics(), "warren_worker_restarts_total", reason="crash")
    assert restarts1 == restarts0 + 1


def test_sigkill_all_workers_repeatedly(make_warren):
    w = make_warren(workers=2)
    for _ in range(3):
        old = w.workers()
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        w.wait_workers(2, exclude=old, timeout=3)
    assert w.get("/api/v1/health").status_code == 200
    assert metric(w.metrics(), "warren_worker_restarts_total", reason="crash") == 6


def test_recycle_after_max_requests(make_warren):
    w = make_warren(workers=2, max_requests=5)
    before = set(w.workers())
    last = 0.0
    failures = []
    with requests.Session() as s:
        for i in range(60):
            r = s.get(w.url("/api/v1/health"), timeout=HTTP_TIMEOUT)
            if r.status_code != 200:
                failures.append((i, r.status_code, r.text[:100]))
            if i % 10 == 9:
                # Counters survive the workers that counted them.
                m = w.metrics()
                total = metric(m, "warren_http_requests_total", route="health", status="200")
                assert total >= last, "a counter went down across a recycle"
                last = total
    assert not failures, failures
    after = w.wait_workers(2, timeout=3)
    assert before != set(after), "no worker was recycled"
    recycles = metric(w.metrics(), "warren_worker_restarts_total", reason="recycle")
    # 60 health + 6 metrics requests over 2 workers of 5 requests each.
    assert recycles >= 10, recycles
    assert metric(w.metrics(), "warren_worker_restarts_total", reason="crash") == 0


def test_recycle_under_concurrent_load(make_warren):
    w = make_warren(workers=3, max_requests=20)
    before = set(w.workers())
    with Load(w.url("/api/v1/health"), threads=4, duration=10, max_requests=600) as load:
        load.wait_until(300, timeout=20)
    assert not load.failures, load.failures[:5]
    assert not before & set(w.workers())


def test_sigterm_drain_under_load(make_warren):
    w = make_warren(workers=3, shutdown_grace=5)
    master = w.master
    workers = w.workers()

    def check(r):
        # A 5xx from nginx (nothing listens any more) is expected; a 200
        # must be complete.
        if r.status_code >= 500:
            return True
        return r.status_code == 200 and r.json() == {"status": "ok"}

    with Load(w.url("/api/v1/health"), threads=4, duration=6, check=check) as load:
        load.wait_until(100)
        os.kill(master, signal.SIGTERM)
        t0 = time.monotonic()
        try:
            rc = w.proc.wait(timeout=5 + 3)
        except Exception:  # noqa: BLE001
            pytest.fail("master did not exit within shutdown_grace + 3 s")
        elapsed = time.monotonic() - t0
    assert rc == 0, f"master exited with {rc}"
    assert elapsed < 5 + 1
    assert not load.failures, load.failures[:5]
    for pid in workers:
        assert not alive(pid), f"worker {pid} outlived the master"
    assert load.statuses.get(200, 0) >= 100


def test_sigterm_lets_slow_request_finish(make_warren, pg):
    # A /ready held up by a lock on the migrations table is in flight when
    # SIGTERM arrives; it must complete with 200 before the master exits.
    w = make_warren(workers=2, shutdown_grace=10, db_query_timeout=20000)
    locker = hold_migrations_lock(pg, w.db, 2.5)
    try:
        result = {}

        def slow():
            t = time.monotonic()
            try:
                r = requests.get(w.url("/api/v1/ready"), timeout=20)
                result["status"], result["body"] = r.status_code, r.text
            except Exception as e:  # noqa: BLE001
                result["error"] = repr(e)
            result["took"] = time.monotonic() - t

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.5)
        os.kill(w.master, signal.SIGTERM)
        rc = w.proc.wait(timeout=15)
        t.join(timeout=20)
    finally:
        locker.wait(timeout=20)
    assert rc == 0
    assert result.get("status") == 200, result
    assert result["took"] >= 1.0, f"/ready was not held up by the lock: {result}"


def test_sigterm_grace_bounds_shutdown(make_warren, pg):
    # A request held past shutdown_grace is cut off: the master still exits
    # 0 within the grace period (plus a little).
    w = make_warren(workers=1, shutdown_grace=1, db_query_timeout=30000)
    locker = hold_migrations_lock(pg, w.db, 6)
    try:
        t = threading.Thread(
            target=lambda: requests.get(w.url("/api/v1/ready"), timeout=20), daemon=True
        )
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        os.kill(w.master, signal.SIGTERM)
        rc = w.proc.wait(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        locker.wait(timeout=20)
    assert rc == 0
    assert elapsed < 1 + 1.5, f"shutdown took {elapsed:.2f} s with shutdown_grace = 1"


def test_sighup_changes_worker_count_without_failures(make_warren):
    w = make_warren(workers=2)
    old = w.workers()
    with Load(w.url("/api/v1/health"), threads=4, duration=10) as load:
        load.wait_until(50)
        w.reload(workers=4)
        new = w.wait_workers(4, exclude=old, timeout=5)
        n = load.ok
        load.wait_until(n + 50)
        w.reload(workers=1)
        newer = w.wait_workers(1, exclude=new, timeout=5)
        n = load.ok
        load.wait_until(n + 50)
    assert not load.failures, load.failures[:5]
    assert len(newer) == 1
    assert w.metrics()[("warren_workers", frozenset())] == 1


def test_sighup_applies_other_settings(make_warren):
    w = make_warren(workers=2, max_body_size="1m")
    body = b'"' + b"x" * 3000 + b'"'
    hdr = {"Content-Type": "application/json"}
    assert w.request("POST", "/api/v1/echo", data=body, headers=hdr).status_code == 200
    old = w.workers()
    w.reload(max_body_size="2k")
    w.wait_workers(2, exclude=old)
    r = w.request("POST", "/api/v1/echo", data=body, headers=hdr)
    assert r.status_code == 413


def test_sighup_invalid_config_keeps_workers(make_warren):
    w = make_warren(workers=2)
    old = w.workers()
    mark = w.log_size()
    good = w.conf_path.read_text()
    w.conf_path.write_text(good + "no_such_key = 1\n")
    os.kill(w.master, signal.SIGHUP)
    line = len(good.splitlines()) + 1
    wait_for(
        lambda: f"{w.conf_path}:{line}:" in w.log_since(mark), 5, what="the config error in the log"
    )
    assert re.search(r"\b(error|warning)\b", w.log_since(mark)), w.log_since(mark)
    time.sleep(0.5)
    assert w.workers() == old, "workers were replaced on an invalid config"
    assert alive(w.master)
    with Load(w.url("/api/v1/health"), threads=2, duration=2, max_requests=100) as load:
        pass
    assert not load.failures and load.ok > 0
    # Fixed and reloaded again: the change now applies.
    w.reload(workers=3)
    w.wait_workers(3, exclude=old)


def test_sighup_out_of_range_value_keeps_workers(make_warren):
    w = make_warren(workers=2)
    old = w.workers()
    mark = w.log_size()
    w.reload(workers=0)  # out of range 1..128
    wait_for(lambda: f"{w.conf_path}:" in w.log_since(mark), 5, what="the config error in the log")
    time.sleep(0.5)
    assert w.workers() == old
    assert w.get("/api/v1/health").status_code == 200
