"""Backups keep what they promise (issue 14 point 7): warrenctl backup
takes the database (pg_dump), the keys and every home volume; everything
is then destroyed (containers, volumes, database, keys); warrenctl restore
brings it into a fresh installation (a new, empty database, new key paths),
and its reconciler finds every workspace with its home files, its secrets
and its users' passwords intact.
"""

import os

import pytest

pytest.register_assert_rewrite("docker_util")

from conftest import KEY_FILES, Warren, conf_text, run_ctl, wait_for  # noqa: E402
from docker_util import STACK_CONF, DockerError, Reconciler, Stack  # noqa: E402
from identity_util import call, sign_in  # noqa: E402

pytest_plugins = ["docker_util"]


def exec_out(st, ws, cmd):
    """cmd's output in the workspace's container, None while there is none."""
    try:
        code, out = st.docker.exec(st.cname(ws), cmd)
    except DockerError:
        return None
    return out.strip() if code == 0 else None


def test_backup_everything_restore_into_a_fresh_installation(pg, tmp_path, dockerd, images):
    old = Stack(pg, tmp_path / "old", dockerd)
    new_w = None
    recons = []
    try:
        r = old.reconciler(reconciler_resync=1).start()
        old.api("POST", "/secrets", 201, json={"name": "BK_SECRET", "value": "kept-in-backup"})
        tpl = old.template(secrets=["BK_SECRET"])
        wss = []
        for text in ("one", "two", "three"):
            ws = old.workspace(tpl, name=f"bk-{text}")
            old.wait_build(ws["build_id"], 60, "succeeded")
            code, out = old.docker.exec(old.cname(ws), ["sh", "-c",
                                                        f"mkdir -p /home/dev/d && echo {text} > /home/dev/d/f"])
            assert code == 0, out
            wss.append(ws)
        old.wait_build(old.build(wss[2], "stop")["id"], 30, "succeeded")
        instance = old.instance

        # Back up while it runs.
        dest = tmp_path / "backup"
        b = old.w.ctl("backup", str(dest), timeout=300)
        assert b.returncode == 0, b.stdout + b.stderr
        assert f"backed up instance {instance}: the database, the keys and 3 home volumes" \
            in b.stdout, b.stdout
        assert (dest / "warren.dump").stat().st_size > 0
        assert sorted(p.name for p in (dest / "homes").iterdir()) == \
            sorted(f"{old.vname(ws)}.tar" for ws in wss)
        assert oct((dest / "keys").stat().st_mode & 0o777) == "0o700"
        # A second backup into the same place is refused, and writes nothing.
        again = old.w.ctl("backup", str(dest))
        assert again.returncode == 1 and "is not empty" in again.stderr, again.stderr

        # Everything goes: reconciler, API, database, Docker objects, keys.
        assert r.terminate() == 0
        old.db.close()
        old.w.stop_api()
        pg.psql("postgres", f'DROP DATABASE "{old.w.db}" WITH (FORCE)')
        old.docker.cleanup_warren()
        for key in KEY_FILES:
            os.unlink(old.w.conf[key])
        assert old.docker.warren_containers() == []
        assert old.docker.volumes(["warren.managed=true"]) == []

        # A fresh installation: an empty database, keys not made yet.
        newdir = tmp_path / "new"
        newdir.mkdir()
        db = pg.create_db("restored" + os.urandom(4).hex())
        conf = dict(STACK_CONF)
        conf.update({"docker_host": dockerd.host, "db_conninfo": pg.conninfo(db),
                     "secret_key_file": str(newdir / "secret.key")})
        for key, name in KEY_FILES.items():
            conf[key] = str(newdir / name)
        conf_path = newdir / "warren.conf"
        conf_path.write_text(conf_text(conf))
        rs = run_ctl("-c", conf_path, "restore", str(dest), timeout=300)
        assert rs.returncode == 0, rs.stdout + rs.stderr
        assert "restored 3 home volumes" in rs.stdout, rs.stdout
        # Into a database that holds one already: refused, nothing changed.
        twice = run_ctl("-c", conf_path, "restore", str(dest))
        assert twice.returncode == 1 and "already holds a Warren installation" in twice.stderr

        new_w = Warren(pg, newdir, db, **{k: v for k, v in conf.items() if k != "db_conninfo"})
        token = sign_in(new_w, old.admin_user)["access_token"]
        items = call(new_w, "GET", "/workspaces?limit=100", token).json()["items"]
        assert sorted(w["name"] for w in items) == ["bk-one", "bk-three", "bk-two"], items
        rec = Reconciler(new_w, dockerd.host, reconciler_resync=1)
        recons.append(rec)
        rec.start()
        assert f"installation {instance}" in rec.log()
        view = Stack.__new__(Stack)
        view.docker, view.dockerd = dockerd.client, dockerd
        for ws, text in zip(wss[:2], ("one", "two")):
            wait_for(lambda: exec_out(view, ws, ["cat", "/home/dev/d/f"]) == text, 60,
                     interval=0.2, what=f"{ws['name']} running with its home")
            assert exec_out(view, ws, ["sh", "-c", "echo $BK_SECRET"]) == "kept-in-backup"
        # The stopped one starts with its home.
        r3 = call(new_w, "POST", f"/workspaces/{wss[2]['id']}/builds", token,
                  json={"transition": "start"})
        assert r3.status_code == 201, r3.text
        wait_for(lambda: exec_out(view, wss[2], ["cat", "/home/dev/d/f"]) == "three", 60,
                 interval=0.2, what="the stopped workspace started with its home")
        # Every object of the restored installation carries its id.
        vols = dockerd.client.volumes(["warren.managed=true"])
        assert {v["Labels"]["warren.instance"] for v in vols} == {instance}
        assert "removing" not in rec.log(), rec.log()[-2000:]
    finally:
        for rec in recons:
            rec.close()
        if new_w is not None:
            new_w.close()
        for x in old.recons:
            x.close()
        old.db.close()
        old.w.close()
        dockerd.client.cleanup_warren()
