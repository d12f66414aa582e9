"""Each installation touches only its own Docker objects (issue 14 points 1
to 3): two complete installations on one real dockerd leave each other
alone; objects made before instance labels are adopted when their
workspace is known; home volumes are never removed as orphans; a fuse
holds a pass that would remove too many containers (an older dump, an
empty database) until an operator confirms.
"""

import subprocess
import time
import uuid

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import metric  # noqa: E402
from docker_util import IMAGE, Stack  # noqa: E402

pytest_plugins = ["docker_util"]

PG_BIN = "/usr/lib/postgresql/15/bin"


def running_ws(st, tpl, **body):
    ws = st.workspace(tpl, **body)
    st.wait_build(ws["build_id"], 60, "succeeded")
    return ws


def write_home(st, ws, text):
    code, out = st.docker.exec(st.cname(ws), ["sh", "-c", f"echo {text} > /home/dev/f"])
    assert code == 0, out


def read_home(st, ws):
    code, out = st.docker.exec(st.cname(ws), ["cat", "/home/dev/f"])
    return out.strip() if code == 0 else None


def objects(st):
    """{name: instance label} of every Warren container and volume."""
    out = {}
    for c in st.docker.warren_containers():
        out[c["Names"][0].lstrip("/")] = c["Labels"].get("warren.instance")
    for v in st.docker.volumes(["warren.managed=true"]):
        out[v["Name"]] = (v["Labels"] or {}).get("warren.instance")
    return out


@pytest.fixture
def other(pg, tmp_path, dockerd, images):
    """A second complete installation (its own database, API and
    reconcilers) on the same dockerd."""
    s = Stack(pg, tmp_path / "other", dockerd)
    yield s
    errors = s.close()
    if errors:
        pytest.fail("\n".join(errors))


def test_two_installations_side_by_side(st, other):
    a, b = st, other
    assert a.instance != b.instance
    ra = a.reconciler(reconciler_resync=1).start()
    rb = b.reconciler(reconciler_resync=1).start()
    tpl = {a: a.template(), b: b.template()}
    home = {a: {}, b: {}}       # workspace -> what its home holds
    stopped = {}
    # Rounds of starts, stops and deletes on both, passes every second.
    for rnd in range(3):
        for s in (a, b):
            ws = running_ws(s, tpl[s])
            write_home(s, ws, f"{s.instance[:8]}-{rnd}")
            home[s][ws["id"]] = (ws, f"{s.instance[:8]}-{rnd}")
            if rnd == 1:
                first = next(iter(home[s].values()))[0]
                s.wait_build(s.build(first, "stop")["id"], 30, "succeeded")
                stopped[s] = first
            if rnd == 2:
                ws = list(home[s].values())[1][0]
                s.wait_build(s.build(ws, "delete")["id"], 30, "succeeded")
                del home[s][ws["id"]]
    time.sleep(5)   # more passes of both over each other's objects
    for s, r, o in ((a, ra, b), (b, rb, a)):
        assert r.running(), r.log()[-2000:]
        assert "removing orphan" not in r.log(), r.log()[-3000:]
        for ws, text in home[s].values():
            assert s.docker.volume(s.vname(ws))["Labels"]["warren.instance"] == s.instance
            if ws is not stopped[s]:
                assert read_home(s, ws) == text, ws
        theirs = [n for n, inst in objects(o).items() if inst == o.instance]
        assert metric(r.metrics(), "warren_reconciler_foreign_objects") == len(theirs), \
            (r.metrics_text(), theirs)
        assert "leaving alone" in r.log()
    # Every object carries its installation's id; the stopped ones start
    # again with their homes.
    assert set(objects(a).values()) == {a.instance, b.instance}
    for s in (a, b):
        ws = stopped[s]
        s.wait_build(s.build(ws, "start")["id"], 30, "succeeded")
        assert read_home(s, ws) == home[s][ws["id"]][1]


def test_objects_before_instance_labels_are_adopted_or_left_alone(st):
    d = st.docker
    tpl = st.template()
    st.reconciler().start()
    ws = running_ws(st, tpl)
    write_home(st, ws, "adopted")
    assert st.recons[-1].terminate() == 0
    # As an older Warren made them: no instance label.
    d.rm(st.cname(ws))
    old_labels = {"warren.managed": "true", "warren.workspace": ws["id"], "warren.build": "1"}
    d.start(d.create(st.cname(ws), {"Image": IMAGE, "Cmd": ["sleep", "3600"],
                                    "Labels": old_labels}))
    # Unlabelled, for a workspace this database does not know: not ours.
    stranger = {"warren.managed": "true", "warren.workspace": str(uuid.uuid4())}
    d.start(d.create("warren-stranger1", {"Image": IMAGE, "Cmd": ["sleep", "3600"],
                                          "Labels": stranger}))
    d.call("POST", "/volumes/create", {"Name": "warren-stranger1-home", "Labels": stranger})
    r = st.once(timeout=60)
    assert f"adopting container {d.inspect(st.cname(ws))['Id'][:12]} of workspace {ws['id']}" \
        in r.log(), r.log()[-2000:]
    assert d.inspect("warren-stranger1")["State"]["Running"]
    assert d.volume("warren-stranger1-home") is not None
    assert st.db.value("SELECT count(*) FROM orphan_volumes") == 0
    assert metric(r.metrics(), "warren_reconciler_foreign_objects") == 2, r.metrics_text()
    # The next start makes its container with this installation's label.
    st.reconciler().start()
    st.wait_build(st.build(ws, "restart")["id"], 30, "succeeded")
    c = d.inspect(st.cname(ws))
    assert c["Config"]["Labels"]["warren.instance"] == st.instance
    assert read_home(st, ws) == "adopted"
    d.rm("warren-stranger1")
    d.remove_volume("warren-stranger1-home")


def test_name_taken_by_another_installation_is_not_touched(st, other):
    """A workspace whose container name another installation holds (a
    database restored into a second installation) fails its build; the
    other's container is untouched."""
    st.reconciler(reconciler_resync=1).start()
    ws = running_ws(st, st.template())
    mine = st.docker.inspect(st.cname(ws))["Id"]
    # The other installation gets a workspace of the same short id.
    tpl = other.template()
    twin = other.workspace(tpl, start=False)
    other.db.exec("UPDATE workspaces SET short_id = %s WHERE id = %s", ws["short_id"], twin["id"])
    r = other.reconciler(reconciler_resync=1).start()
    b = other.build(twin, "start")
    row = other.wait_build(b["id"], 30, "failed")
    assert "taken by another Warren installation" in row["error"], row
    assert st.docker.inspect(st.cname(ws))["Id"] == mine
    assert st.docker.inspect(st.cname(ws))["State"]["Running"]
    assert "belongs to another Warren installation" in r.log()


# ------------------------------------------------------------------ fuse


def dump(st, path):
    r = subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_dump", "-Fc",
                        "-h", f"{st.w.pg.root}/sock", "-p", str(st.w.pg.port), "-d", st.w.db],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    path.write_bytes(r.stdout)


def restore(st, path, name):
    """The dump in a new database (owned by warren): its conninfo."""
    db = st.w.pg.create_db(name)
    r = subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_restore", "--no-owner",
                        "--role=warren", "-h", f"{st.w.pg.root}/sock", "-p", str(st.w.pg.port),
                        "-d", db], input=path.read_bytes(), capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return st.w.pg.conninfo(db)


def counts(st):
    return (len(st.docker.warren_containers()), len(st.docker.volumes(["warren.managed=true"])))


def test_fuse_holds_an_older_dump(st, tmp_path):
    st.reconciler(reconciler_resync=1).start()
    tpl = st.template()
    old = [running_ws(st, tpl) for _ in range(2)]
    dump(st, tmp_path / "old.dump")
    newer = [running_ws(st, tpl) for _ in range(6)]
    for ws in newer:
        write_home(st, ws, "newer")
    before = counts(st)
    assert before == (8, 8), before
    conninfo = restore(st, tmp_path / "old.dump", f"old{uuid.uuid4().hex[:8]}")
    r = st.once(db_conninfo=conninfo, timeout=60)
    assert counts(st) == before, "the older dump's reconciler removed something"
    for ws in newer:
        assert read_home(st, ws) == "newer"
    assert "removal fuse: this pass would remove 6 of this installation's 8 containers" \
        in r.log(), r.log()[-2000:]
    assert metric(r.metrics(), "warren_reconciler_removals_held") == 6, r.metrics_text()
    # The newer workspaces' volumes are listed, never removed.
    ctl = st.w.ctl("-c", str(r.conf_path), "status")
    assert ctl.returncode == 0, ctl.stderr
    assert "removals held:  local: 6 of 8 containers" in ctl.stdout, ctl.stdout
    assert "orphan volumes: 6" in ctl.stdout, ctl.stdout
    # The older workspaces are converged as the dump says.
    assert all(st.serves(ws) for ws in old)


def test_fuse_holds_an_empty_database_and_confirm_lets_it_go(st, tmp_path):
    st.reconciler(reconciler_resync=1).start()
    tpl = st.template()
    wss = [running_ws(st, tpl) for _ in range(2)]
    assert st.recons[-1].terminate() == 0
    dump(st, tmp_path / "all.dump")
    conninfo = restore(st, tmp_path / "all.dump", f"empty{uuid.uuid4().hex[:8]}")
    # The same installation with no workspace left: two containers would go.
    db = conninfo.split("dbname=")[1].split()[0]
    st.w.pg.psql(db, "DELETE FROM deployments; DELETE FROM port_shares;"
                 " UPDATE workspaces SET deleted_at = now()")
    r = st.once(db_conninfo=conninfo, timeout=60)
    assert counts(st) == (2, 2)
    assert "the database holds no workspace" in r.log(), r.log()[-2000:]
    # warrenctl: bad input changes nothing; a confirmation lets the next
    # pass remove the containers (never the home volumes).
    conf = str(r.conf_path)
    bad = st.w.ctl("-c", conf, "removals", "confirm", "no-such-host")
    assert bad.returncode == 1 and "no removal is held on no-such-host" in bad.stderr, bad.stderr
    bad = st.w.ctl("-c", conf, "volumes", "remove", "warren-nope-home")
    assert bad.returncode == 1 and "is not an orphan home volume" in bad.stderr, bad.stderr
    ok = st.w.ctl("-c", conf, "removals", "confirm")
    assert ok.returncode == 0 and "removes up to 2 of 2 containers" in ok.stdout, ok.stdout
    r2 = st.once(db_conninfo=conninfo, timeout=60)
    assert "confirmed by warrenctl (" in r2.log(), r2.log()[-2000:]
    assert counts(st) == (0, 2)
    listed = st.w.ctl("-c", conf, "volumes")
    for ws in wss:
        assert st.vname(ws) in listed.stdout, listed.stdout
    assert st.w.ctl("-c", conf, "volumes", "remove", "--all").returncode == 0
    st.once(db_conninfo=conninfo, timeout=60)
    assert counts(st) == (0, 0)
    assert st.w.pg.psql(db, "SELECT count(*) FROM removal_holds") == "0"
    assert st.w.pg.psql(db, "SELECT count(*) FROM audit_log WHERE action IN"
                        " ('removals.confirm', 'volume.remove_request', 'volume.remove')") == "5"


def test_new_empty_installation_touches_nothing(st, tmp_path):
    st.reconciler(reconciler_resync=1).start()
    wss = [running_ws(st, st.template()) for _ in range(2)]
    before = counts(st)
    db = st.w.pg.create_db(f"fresh{uuid.uuid4().hex[:8]}")
    conf = tmp_path / "fresh.conf"
    conf.write_text(f'db_conninfo = "{st.w.pg.conninfo(db)}"\n')
    assert st.w.ctl("-c", str(conf), "migrate").returncode == 0
    r = st.once(db_conninfo=st.w.pg.conninfo(db), timeout=60)
    assert counts(st) == before
    assert metric(r.metrics(), "warren_reconciler_foreign_objects") == sum(before)
    assert metric(r.metrics(), "warren_reconciler_removals_held") == 0
    assert all(st.serves(ws) for ws in wss)
