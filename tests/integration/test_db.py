"""Issue 2, item 4: PostgreSQL goes away and comes back mid-run."""

import os
import pathlib
import re
import signal
import threading
import time

import pytest
import requests

from conftest import HTTP_TIMEOUT, Postgres, Warren, assert_problem, metric, wait_for


@pytest.fixture
def own_pg():
    """A cluster of its own: stopping it must not disturb other tests."""
    cluster = Postgres()
    yield cluster
    cluster.close()


@pytest.fixture
def stack(own_pg, tmp_path):
    w = Warren(own_pg, tmp_path / "w", own_pg.create_db("dbtest"), workers=2)
    yield w
    error = w.close()
    if error:
        pytest.fail(error)


def timed_get(w, path):
    t = time.monotonic()
    r = w.get(path)
    return r, time.monotonic() - t


def test_postgres_stop_and_start(stack, own_pg):
    w = stack
    master, workers = w.master, w.workers()
    # Every worker has its connection open before the database goes away.
    for _ in range(10):
        assert w.get("/api/v1/ready").status_code == 200
    errors0 = metric(w.metrics(), "warren_db_errors_total")

    own_pg.stop()
    # /ready: a 503 problem, each answer within 2 s, from every worker.
    for _ in range(8):
        r, took = timed_get(w, "/api/v1/ready")
        assert took < 2.0, f"/ready took {took:.2f} s with the database down"
        assert_problem(r, 503)
    r, took = timed_get(w, "/api/v1/health")
    assert r.status_code == 200 and took < 2.0
    assert metric(w.metrics(), "warren_db_errors_total") > errors0

    own_pg.start()
    # Back to 200 by itself, with the same master and the same workers.
    wait_for(
        lambda: w.get("/api/v1/ready").status_code == 200, 10, interval=0.1, what="/ready == 200"
    )
    for _ in range(10):
        r = w.get("/api/v1/ready")
        assert r.status_code == 200, r.text
    assert w.master == master and w.workers() == workers, "warren-api was restarted"
    assert metric(w.metrics(), "warren_worker_restarts_total") == 0


def test_health_stays_up_while_postgres_is_down(stack, own_pg):
    w = stack
    health, ready = [], []
    stop = threading.Event()

    def poll():
        with requests.Session() as s:
            deadline = time.monotonic() + 15
            while not stop.is_set() and time.monotonic() < deadline:
                t = time.monotonic()
                try:
                    h = s.get(w.url("/api/v1/health"), timeout=HTTP_TIMEOUT).status_code
                except requests.RequestException as e:
                    h = repr(e)
                health.append(h)
                t = time.monotonic()
                try:
                    rr = s.get(w.url("/api/v1/ready"), timeout=HTTP_TIMEOUT)
                    ready.append((rr.status_code, time.monotonic() - t))
                except requests.RequestException as e:
                    ready.append((repr(e), time.monotonic() - t))
                time.sleep(0.02)

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        own_pg.stop()
        time.sleep(1.5)
        own_pg.start()
        wait_for(lambda: ready and ready[-1][0] == 200, 10, what="/ready back to 200")
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=HTTP_TIMEOUT + 5)
    assert health and set(health) == {200}, [h for h in health if h != 200][:5]
    assert {s for s, _ in ready} <= {200, 503}, ready
    assert 503 in {s for s, _ in ready}, "the outage was not seen"
    assert max(t for _, t in ready) < 2.0, max(t for _, t in ready)


def test_ready_503_detail_hides_internals(stack, own_pg):
    w = stack
    own_pg.stop()
    try:
        r = w.get("/api/v1/ready")
        body = assert_problem(r, 503)
        assert str(own_pg.port) not in r.text and own_pg.root not in r.text
        assert "dbname" not in r.text and "host=" not in r.text, body
    finally:
        own_pg.start()


def test_postgres_never_running_at_start(own_pg, tmp_path):
    # warren-api starts (and answers /health) even when the database is
    # down from the beginning; /ready turns 200 once it comes up.
    db = own_pg.create_db("late")
    w = Warren(own_pg, tmp_path / "w", db, workers=2)
    try:
        w.stop_api()
        own_pg.stop()
        w.start_api()
        assert w.get("/api/v1/health").status_code == 200
        r, took = timed_get(w, "/api/v1/ready")
        assert_problem(r, 503)
        assert took < 2.0
        own_pg.start()
        wait_for(lambda: w.get("/api/v1/ready").status_code == 200, 10, interval=0.1,
                 what="/ready == 200")
    finally:
        error = w.close()
    assert not error, error


def backends(pg, db):
    """Connections of warren-api (not warrenctl, not this query) to db."""
    out = pg.psql(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND application_name <> 'warrenctl' "
        "AND backend_type = 'client backend'",
    )
    return int(out)


def test_one_lazy_connection_per_worker_with_prepared_statements(own_pg, tmp_path):
    db = own_pg.create_db("conns")
    # Every statement of this database's sessions goes to the server log,
    # with the protocol step: "parse NAME" once per prepared statement and
    # connection, "execute NAME" per use.
    own_pg.psql("postgres", f"ALTER DATABASE {db} SET log_min_duration_statement = 0")
    w = Warren(own_pg, tmp_path / "w", db, workers=2)
    pg_log = pathlib.Path(own_pg.root) / "postgresql.log"
    mark = pg_log.stat().st_size  # after warrenctl migrate
    try:
        # Lazily: nothing connects before a request needs the database.
        assert w.get("/api/v1/health").status_code == 200
        assert backends(own_pg, db) == 0
        for _ in range(20):
            assert w.get("/api/v1/ready").status_code == 200
        n = backends(own_pg, db)
        assert 1 <= n <= 2, f"{n} connections for 2 workers"
        with open(pg_log, "rb") as f:
            f.seek(mark)
            log = f.read().decode("utf-8", "replace")
        reads = [l for l in log.splitlines() if "warren_schema_migrations" in l]
        executes = [l for l in reads if re.search(r"\bexecute [^<\s]+:", l)]
        parses = [l for l in reads if re.search(r"\bparse [^<\s]+:", l)]
        unnamed = [l for l in reads if "<unnamed>" in l]
        assert len(executes) >= 20, reads[-5:]
        assert 1 <= len(parses) <= n, f"prepared {len(parses)} times over {n} connections"
        assert not unnamed, unnamed[:3]
        # A dead worker's connection goes with it; its successor connects
        # only when it needs to.
        victim = w.workers()[0]
        os.kill(victim, signal.SIGKILL)
        w.wait_workers(2, exclude=[victim])
        wait_for(lambda: backends(own_pg, db) <= 1, 5, what="the dead worker's connection to close")
        for _ in range(20):
            assert w.get("/api/v1/ready").status_code == 200
        assert backends(own_pg, db) <= 2
    finally:
        error = w.close()
    assert not error, error
