"""Issue 2, item 5: warrenctl migrate."""

import subprocess

from conftest import CTL_BIN, TOP, assert_problem, conf_text, run_ctl, sanitizer_reports

TABLE = "warren_schema_migrations"


def migrations():
    """[(version, name)] of sql/NNNN_name.sql."""
    out = []
    for p in sorted((TOP / "sql").glob("[0-9][0-9][0-9][0-9]_*.sql")):
        out.append((int(p.name[:4]), p.stem[5:]))
    return out


def conf_for(pg, db, tmp_path, name="migrate.conf"):
    path = tmp_path / name
    path.write_text(conf_text({"db_conninfo": pg.conninfo(db)}))
    return path


def applied(pg, db):
    rows = pg.psql(db, f"SELECT version, name FROM {TABLE} ORDER BY version")
    return [(int(v), n) for v, n in (line.split("|") for line in rows.splitlines())]


def test_every_sql_file_is_in_the_binary(pg, fresh_db, tmp_path):
    # A file added to sql/ but not to the build would never be applied.
    conf = conf_for(pg, fresh_db(), tmp_path)
    r = run_ctl("-c", conf, "migrate", "--status")
    assert r.returncode == 0, r.stderr
    listed = [l.split()[0] for l in r.stdout.splitlines() if l.strip()]
    assert listed == [f"{v:04d}_{n}" for v, n in migrations()], r.stdout


def test_migrate_applies_in_order_then_noop(pg, fresh_db, tmp_path):
    db = fresh_db()
    conf = conf_for(pg, db, tmp_path)
    want = migrations()
    assert want and [v for v, _ in want] == list(range(1, len(want) + 1))

    r = run_ctl("-c", conf, "migrate")
    assert r.returncode == 0, r.stderr
    for v, name in want:
        assert f"{v:04d}_{name}" in r.stdout, r.stdout
    assert applied(pg, db) == want
    stamps = pg.psql(db, f"SELECT applied_at FROM {TABLE} ORDER BY version")
    # The schema of the first migration is really there.
    assert pg.psql(db, "SELECT count(*) FROM instance") == "1"

    r = run_ctl("-c", conf, "migrate")
    assert r.returncode == 0, r.stderr
    for v, name in want:
        assert f"applied {v:04d}" not in r.stdout, r.stdout
    assert applied(pg, db) == want
    assert pg.psql(db, f"SELECT applied_at FROM {TABLE} ORDER BY version") == stamps
    assert pg.psql(db, "SELECT count(*) FROM instance") == "1"


def test_migrate_status(pg, fresh_db, tmp_path):
    db = fresh_db()
    conf = conf_for(pg, db, tmp_path)
    want = migrations()

    r = run_ctl("-c", conf, "migrate", "--status")
    assert r.returncode == 0, r.stderr
    for v, name in want:
        line = next(l for l in r.stdout.splitlines() if f"{v:04d}_{name}" in l)
        assert "pending" in line, line
    # --status changes nothing.
    assert pg.psql(db, "SELECT to_regclass('instance') IS NULL") == "t"

    assert run_ctl("-c", conf, "migrate").returncode == 0
    r = run_ctl("-c", conf, "migrate", "--status")
    assert r.returncode == 0, r.stderr
    for v, name in want:
        line = next(l for l in r.stdout.splitlines() if f"{v:04d}_{name}" in l)
        assert "pending" not in line, line


def test_concurrent_migrations_apply_once(pg, fresh_db, tmp_path):
    for attempt in range(3):
        db = fresh_db()
        conf = conf_for(pg, db, tmp_path, f"c{attempt}.conf")
        procs = [
            subprocess.Popen(
                [str(CTL_BIN), "-c", str(conf), "migrate"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, err
            assert "error" not in err.lower() and "could not" not in err, err
            assert not sanitizer_reports(out + err), err
        assert applied(pg, db) == migrations()
        # Each migration was applied by exactly one of the two runs.
        for v, name in migrations():
            assert sum(f"applied {v:04d}_{name}" in out for out, _ in outs) == 1, outs
        assert pg.psql(db, "SELECT count(*) FROM instance") == "1"


def test_database_newer_than_binary(pg, fresh_db, tmp_path, make_warren):
    db = fresh_db()
    conf = conf_for(pg, db, tmp_path)
    assert run_ctl("-c", conf, "migrate").returncode == 0
    future = migrations()[-1][0] + 1000
    pg.psql(db, f"INSERT INTO {TABLE} (version, name, checksum) VALUES ({future}, 'from_the_future', 'x')")

    r = run_ctl("-c", conf, "migrate")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "newer" in r.stderr and str(future) in r.stderr, r.stderr
    assert r.stderr.count("\n") <= 3, "one clear message, not a dump"
    r = run_ctl("-c", conf, "migrate", "--status")
    assert r.returncode == 1 and "newer" in r.stderr, r.stderr
    # Nothing was changed by the refusals.
    assert len(applied(pg, db)) == len(migrations()) + 1

    w = make_warren(db=db, migrate=False, workers=1)
    assert_problem(w.get("/api/v1/ready"), 503)
    assert w.get("/api/v1/health").status_code == 200


def test_ready_503_before_migrate(pg, fresh_db, make_warren):
    db = fresh_db()
    w = make_warren(db=db, migrate=False, workers=1)
    assert_problem(w.get("/api/v1/ready"), 503)
    assert w.ctl("migrate").returncode == 0
    assert w.get("/api/v1/ready").status_code == 200


def test_migrate_unreachable_database(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text(
        'db_conninfo = "host=/nonexistent port=1 dbname=warren"\ndb_connect_timeout = 500\n'
    )
    r = run_ctl("-c", conf, "migrate", timeout=30)
    assert r.returncode == 1
    assert "could not connect" in r.stderr, r.stderr
