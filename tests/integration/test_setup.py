"""warrenctl setup on a fresh PostgreSQL: role, database, keys, schema and
first admin in one command; a second run changes nothing.

The cluster is the harness's private one (conftest's pg fixture); setup
runs as root, as an operator would, and makes the role and database as the
postgres OS user over the cluster's unix socket.  The result is then used
for real: warren-api behind nginx, sign-in as the new admin.
"""

import grp
import os
import pathlib
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile

import pytest
import requests

from conftest import CTL_BIN, HTTP_TIMEOUT, KEY_FILES, TOP, conf_text, run_ctl

PASSWORD_RE = re.compile(r"^one-time password: (\S+)$", re.M)


def setup_env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("WARREN_", "PG"))}


def key_paths(conf):
    return [pathlib.Path(conf[k]) for k in KEY_FILES]


def assert_key_modes(paths):
    """0640 root:warren where group warren exists, else 0600."""
    try:
        gid = grp.getgrnam("warren").gr_gid
    except KeyError:
        gid = None
    for p in paths:
        st = p.stat()
        mode = stat.S_IMODE(st.st_mode)
        if gid is None:
            assert mode == 0o600, (p, oct(mode))
        else:
            assert (mode, st.st_gid) == (0o640, gid), (p, oct(mode), st.st_gid)


@pytest.fixture
def names():
    n = f"wsetup{os.getpid()}x{os.urandom(3).hex()}"
    return n, n + "db"


def test_setup_fresh_then_again(pg, tmp_path, names, make_warren):
    role, db = names
    conninfo = f"host={pg.root}/sock port={pg.port} dbname={db} user={role}"
    conf = {
        "db_conninfo": conninfo,
        "public_url": "http://warren.test",
        "base_domain": "ws.warren.test",
    }
    for key, name in KEY_FILES.items():
        conf[key] = str(tmp_path / name)
    conf_path = tmp_path / "warren.conf"
    conf_path.write_text(conf_text(conf))

    r = run_ctl("-c", conf_path, "setup", "--email", "root@warren.test", env=setup_env(), timeout=120)
    out = r.stdout
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"created role {role}" in out, out
    assert f"created database {db}" in out, out
    assert "applied 0001_" in out, out
    assert re.search(r"^created admin admin ", out, re.M), out
    m = PASSWORD_RE.search(out)
    assert m, out
    password = m.group(1)
    for p in key_paths(conf):
        assert f"created {p}" in out, out
    assert "Next steps" in out and "public_url (now http://warren.test)" in out, out
    # db_conninfo was set: the file is left alone.
    assert conf_path.read_text() == conf_text(conf)

    # What it made, seen as the superuser.
    assert pg.psql("postgres", f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'") == role
    assert pg.psql("postgres", f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{role}'") == "t"
    assert pg.psql(db, "SELECT username || ' ' || role || ' ' || email FROM users") == "admin admin root@warren.test"
    assert pg.psql(db, "SELECT tableowner FROM pg_tables WHERE tablename = 'users'") == role
    versions = int(pg.psql(db, "SELECT count(*) FROM warren_schema_migrations"))
    assert versions >= 1
    assert_key_modes(key_paths(conf))
    keys_before = [p.read_bytes() for p in key_paths(conf)]

    # Again: everything is there, nothing changes, no new password.
    r = run_ctl("-c", conf_path, "setup", env=setup_env(), timeout=120)
    out = r.stdout
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"database {db} is reachable as {role}" in out, out
    assert "(0 applied)" in out, out
    assert "admin admin exists: keeping it" in out, out
    assert not PASSWORD_RE.search(out), out
    assert not re.search(r"^(created|added) ", out, re.M), out
    for p in key_paths(conf):
        assert f"{p} exists: keeping it" in out, out
    assert [p.read_bytes() for p in key_paths(conf)] == keys_before
    assert pg.psql(db, "SELECT count(*) FROM users WHERE username NOT LIKE 'warren-pool.%'") == "1"
    assert int(pg.psql(db, "SELECT count(*) FROM warren_schema_migrations")) == versions
    assert conf_path.read_text() == conf_text(conf)

    # The result works: warren-api on this database and these keys, and
    # the admin signs in with the one-time password.
    w = make_warren(db=db, migrate=False, **conf)
    login = requests.post(
        w.url("/api/v1/auth/login"),
        json={"username": "admin", "password": password},
        timeout=HTTP_TIMEOUT,
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    me = w.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin", me.json()


def test_setup_writes_missing_conninfo(pg, names):
    """Without db_conninfo in the file, setup writes the default one (once).

    Run as the postgres OS user (not root), so that the default
    "dbname=warren" connects as that user through PGHOST/PGPORT to the
    private cluster, whatever OS users this machine has.
    """
    role, db = "postgres", "warren"
    d = tempfile.mkdtemp(prefix="warren-setup-")
    try:
        os.chmod(d, 0o755)
        conf_path = pathlib.Path(d) / "warren.conf"
        conf = {k: f"{d}/{name}" for k, name in KEY_FILES.items()}
        conf_path.write_text(conf_text(conf))
        # The postgres user may not reach the build tree (a clone in
        # root's 0700 home): it runs a copy of the program.
        ctl = pathlib.Path(d) / "warrenctl"
        shutil.copy2(CTL_BIN, ctl)
        subprocess.run(["chown", "-R", "postgres:", d], check=True)
        env = setup_env()
        env.update(PGHOST=f"{pg.root}/sock", PGPORT=str(pg.port), HOME="/")
        cmd = ["runuser", "-u", "postgres", "--", str(ctl), "-c", str(conf_path), "setup"]
        outs = []
        for _ in range(2):
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", timeout=120)
            assert r.returncode == 0, r.stdout + r.stderr
            outs.append(r.stdout)
        text = conf_path.read_text()
        assert text.count("db_conninfo") == 1, text
        assert re.search(r'^db_conninfo = "dbname=warren"$', text, re.M), text
        assert "added db_conninfo" in outs[0] and "added db_conninfo" not in outs[1], outs
        assert f"created database {db}" in outs[0] or f"database {db} is reachable" in outs[0], outs[0]
        assert PASSWORD_RE.search(outs[0]) and not PASSWORD_RE.search(outs[1]), outs
        assert pg.psql(db, "SELECT count(*) FROM users WHERE role = 'admin'") == "1"
        for name in KEY_FILES.values():
            st = (pathlib.Path(d) / name).stat()
            assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == pwd.getpwnam(role).pw_uid
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_setup_fails_clearly_without_postgres(tmp_path):
    """No server: setup says what to run, and fails."""
    conf = {k: str(tmp_path / n) for k, n in KEY_FILES.items()}
    conf["db_conninfo"] = f"host={tmp_path} port=1 dbname=nowhere user=nobody"
    conf_path = tmp_path / "warren.conf"
    conf_path.write_text(conf_text(conf))
    r = run_ctl("-c", conf_path, "setup", env=setup_env(), timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "could not connect to PostgreSQL as postgres" in r.stderr, r.stderr
    assert "createuser nobody" in r.stderr and "createdb -O nobody nowhere" in r.stderr, r.stderr


def test_keys_shared_through_group_warren(tmp_path):
    """Where group warren exists, root makes the keys root:warren 0640 (both
    services read them), and a rotation keeps owner, group and mode; a
    0600 file stays 0600.  The group exists only inside a private mount
    namespace, over a copy of /etc/group."""
    group = tmp_path / "group"
    text = pathlib.Path("/etc/group").read_text()
    used = {int(l.split(":")[2]) for l in text.splitlines() if l.count(":") >= 3}
    gid = next(g for g in range(990, 100, -1) if g not in used)
    if not re.search(r"^warren:", text, re.M):
        text += f"warren:x:{gid}:\n"
    else:
        gid = grp.getgrnam("warren").gr_gid
    group.write_text(text)
    conf = {k: str(tmp_path / n) for k, n in KEY_FILES.items()}
    conf_path = tmp_path / "warren.conf"
    conf_path.write_text(conf_text(conf))
    ctl = f"{shlex.quote(str(CTL_BIN))} -c {shlex.quote(str(conf_path))}"
    script = f"""set -e
mount --bind {group} /etc/group
{ctl} keys init
stat -c '%n %u %g %a' {' '.join(conf.values())}
{ctl} keys rotate
stat -c '%n %u %g %a' {conf['jwt_key_file']}
chmod 0600 {conf['jwt_key_file']}
chgrp 0 {conf['jwt_key_file']}
{ctl} keys rotate
stat -c '%n %u %g %a' {conf['jwt_key_file']}
"""
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       env=setup_env(), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    stats = [l.split() for l in r.stdout.splitlines() if l.startswith(str(tmp_path))]
    want = [[p, "0", str(gid), "640"] for p in conf.values()]
    jwt = conf["jwt_key_file"]
    want += [[jwt, "0", str(gid), "640"], [jwt, "0", "0", "600"]]
    assert stats == want, r.stdout


def test_setup_without_user_makes_the_reconcilers_role(pg, names):
    """With no user in db_conninfo (peer authentication: each service
    connects as its own OS user), setup also makes the role of
    warren-reconciler, a member of warren-api's role, so that one
    db_conninfo serves both."""
    if any(u.pw_name == "warren" for u in pwd.getpwall()):
        pytest.skip("this machine has an OS user warren: setup would connect as it")
    _, db = names
    d = tempfile.mkdtemp(prefix="warren-setup-")
    try:
        conf_path = pathlib.Path(d) / "warren.conf"
        conf = {k: f"{d}/{n}" for k, n in KEY_FILES.items()}
        conf["db_conninfo"] = f"host={pg.root}/sock port={pg.port} dbname={db}"
        conf_path.write_text(conf_text(conf))
        for _ in range(2):
            r = run_ctl("-c", conf_path, "setup", env=setup_env(), timeout=120)
            assert r.returncode == 0, r.stdout + r.stderr
        assert pg.psql("postgres", f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'") == "warren"
        member = pg.psql(
            "postgres",
            "SELECT r.rolcanlogin FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid"
            " WHERE r.rolname = 'warren-reconciler' AND m.roleid = 'warren'::regrole",
        )
        assert member == "t", member
        assert "role warren-reconciler exists: keeping it" in r.stdout, r.stdout
        # The reconciler's role reads what warren-api's role owns.
        rows = pg.psql(db, "SET ROLE \"warren-reconciler\"; SELECT count(*) FROM users WHERE role = 'admin'")
        assert rows == "1", rows
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_readme_leads_with_the_two_commands_as_root():
    """README.md opens with exactly two commands, which run as root on a
    fresh Debian 12 (no sudo there); it says how a user with sudo runs them."""
    text = (TOP / "README.md").read_text()
    head = text.split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", head, re.S)
    assert [b.strip() for b in blocks] == ["tools/stack up", "tools/test"], blocks
    assert "as root" in head and "sudo" in head, head
    for cmd in ("tools/stack", "tools/test"):
        assert os.access(TOP / cmd, os.X_OK), cmd
        assert "sudo" not in (TOP / cmd).read_text(), f"{cmd} runs sudo"
