#!/usr/bin/env bash
# Installs the Warren packages on a throw-away copy of this machine and uses
# them as an operator would: install, warrenctl setup, warren-api behind
# nginx and behind Apache, the reconciler's privileges, an upgrade with the
# database down and up, remove, purge.
#
#   unshare --mount --net --pid --fork --mount-proc bash install-test.sh DEBDIR
#
# The copy is an overlay of / whose changes live in a tmpfs of a private
# mount namespace; the network namespace has only its own loopback and the
# PID namespace ends every process started here when the script exits.
# Nothing of it is left on the machine.  Without systemd as PID 1 the
# services are started with the commands their units run.  Prints
# "install test: passed" at the end; any failed check exits non-zero.
set -euo pipefail

if [ "${1:-}" != --inside ]; then
	debs=$(cd "$1" && pwd)
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	base=$(mktemp -d /tmp/warren-install.XXXXXX)
	trap 'cd /; umount -R -l "$base" 2>/dev/null || true; rmdir "$base"' EXIT
	mount --make-rprivate /
	mount -t tmpfs -o size=4g tmpfs "$base"
	mkdir "$base/upper" "$base/work" "$base/root"
	mount -t overlay overlay \
	    -o "lowerdir=/,upperdir=$base/upper,workdir=$base/work" "$base/root"
	R=$base/root
	mount -t proc proc "$R/proc"
	mount --rbind /dev "$R/dev"
	mount --rbind /sys "$R/sys"
	mount -t tmpfs tmpfs "$R/run"
	mount -t tmpfs tmpfs "$R/tmp"
	chmod 1777 "$R/tmp"
	ip link set lo up
	mkdir "$R/tmp/debs"
	for p in warren-common warren-api warren-reconciler; do
		cp "$debs"/${p}_*.deb "$R/tmp/debs/"
	done
	cp "$here/install-test.sh" "$R/tmp/install-test.sh"
	chroot "$R" /bin/bash /tmp/install-test.sh --inside
	exit
fi

# ------------------------------------------------------------ inside
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 HOME=/root
export DEBIAN_FRONTEND=noninteractive
cd /
CONF=/etc/warren/warren.conf

step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
expect() { # expect "what" command...: the command must succeed
	local what=$1
	shift
	"$@" || fail "$what"
	echo "ok: $what"
}
has() { grep -q -- "$2" "$1" || { cat "$1"; fail "$1 lacks: $2"; }; }
lacks() { ! grep -q -- "$2" "$1" || { cat "$1"; fail "$1 has: $2"; }; }
mode() { [ "$(stat -c '%U %G %a' "$1")" = "$2" ] ||
    fail "$1 is $(stat -c '%U %G %a' "$1"), not $2"; echo "ok: $1 $2"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# Services are never started by maintainer scripts here.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
mkdir -p /run/lock /run/user

step "install"
dpkg -i /tmp/debs/warren-common_*.deb /tmp/debs/warren-api_*.deb \
    /tmp/debs/warren-reconciler_*.deb >/tmp/install.log 2>&1 ||
    { cat /tmp/install.log; fail "dpkg -i"; }
cat /tmp/install.log
has /tmp/install.log "run 'warrenctl setup' as root"
expect "warren is only in group warren" [ "$(id -nG warren)" = warren ]
expect "warren-reconciler is in groups docker and warren" \
    sh -c 'id -nG warren-reconciler | tr " " "\n" | sort | tr "\n" " " |
    grep -qx "docker warren warren-reconciler "'
expect "warren has no shell" [ "$(getent passwd warren | cut -d: -f7)" = /usr/sbin/nologin ]
mode /etc/warren "root warren 750"
mode $CONF "root warren 640"
mode /var/lib/warren "root root 755"
mode /var/lib/warren/traefik "warren-reconciler warren-reconciler 755"
expect "Apache site and modules enabled" sh -c \
    'a2query -q -s warren && a2query -q -m proxy_fcgi && a2query -q -m headers'
W=/etc/systemd/system
expect "warren-api.socket and warren-reconciler.service enabled, the timer not" sh -c \
    "test -L $W/sockets.target.wants/warren-api.socket &&
    test -L $W/multi-user.target.wants/warren-reconciler.service &&
    test ! -e $W/timers.target.wants/warren-reconciler-once.timer"

step "PostgreSQL (the machine's main cluster, in this copy)"
install -d -o postgres -g postgres -m 2775 /run/postgresql
pg_ctlcluster 15 main start

step "warrenctl setup"
warrenctl setup --email admin@example.org >/tmp/setup1.log 2>&1 ||
    { cat /tmp/setup1.log; fail "warrenctl setup"; }
cat /tmp/setup1.log
for line in "created role warren" "created database warren" \
    "created role warren-reconciler" "applied 0001_" "created admin admin " \
    "one-time password: " "Next steps"; do
	has /tmp/setup1.log "$line"
done
PW=$(sed -n 's/^one-time password: //p' /tmp/setup1.log)
mode /etc/warren/jwt.keys "root warren 640"
mode /etc/warren/secret.key "root warren 640"
warrenctl setup >/tmp/setup2.log 2>&1 || { cat /tmp/setup2.log; fail "setup again"; }
lacks /tmp/setup2.log "^created"
lacks /tmp/setup2.log "^one-time password: "
has /tmp/setup2.log "(0 applied)"
echo "ok: setup again changed nothing"
expect "warrenctl migrate as warren (peer authentication)" \
    runuser -u warren -- warrenctl -c $CONF migrate --status

step "warren-api, as warren-api.socket and warren-api.service run it"
expect "warren-api -n as warren" \
    runuser -u warren -- env WARREN_LISTEN=inherit warren-api -n -c $CONF
install -d -m 0755 /run/warren
spawn-fcgi -s /run/warren/api.sock -M 0660 -U warren -G www-data \
    -u warren -g warren -P /run/warren/api.pid -- /usr/bin/env WARREN_LISTEN=inherit \
    /usr/sbin/warren-api -c $CONF >/tmp/api.log 2>&1
mode /run/warren/api.sock "warren www-data 660"

step "nginx: /etc/nginx/sites-available/warren"
rm -f /etc/nginx/sites-enabled/default
ln -s /etc/nginx/sites-available/warren /etc/nginx/sites-enabled/warren
nginx -t 2>&1 && nginx
N=http://127.0.0.1:8080
for i in $(seq 50); do curl -fs $N/api/v1/health >/dev/null && break; sleep 0.1; done
expect "ready through nginx" sh -c "curl -fsS $N/api/v1/ready | grep -q '\"status\":\"ready\"'"
curl -fsS -D /tmp/nginx-page.h -o /dev/null $N/
has /tmp/nginx-page.h "Content-Security-Policy: default-src 'self'"
TOKEN=$(curl -fsS -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PW\"}" $N/api/v1/auth/login |
    json '["access_token"]')
expect "the admin signs in through nginx" sh -c "curl -fsS -H 'Authorization: Bearer $TOKEN' \
    $N/api/v1/me | grep -q '\"role\":\"admin\"'"

step "Apache: /etc/apache2/sites-available/warren.conf, enabled by the package"
apache2ctl configtest 2>&1
apache2ctl start
A="curl -fsS -H Host:warren.localhost"
for i in $(seq 50); do $A http://127.0.0.1/api/v1/health >/dev/null 2>&1 && break; sleep 0.1; done
expect "ready through Apache" sh -c "$A http://127.0.0.1/api/v1/ready | grep -q '\"status\":\"ready\"'"
$A -D /tmp/apache-page.h -o /dev/null http://127.0.0.1/
has /tmp/apache-page.h "Content-Security-Policy: default-src 'self'"
TOKEN=$($A -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PW\"}" \
    http://127.0.0.1/api/v1/auth/login | json '["access_token"]')
expect "the admin signs in through Apache" sh -c "$A -H 'Authorization: Bearer $TOKEN' \
    http://127.0.0.1/api/v1/me | grep -q '\"role\":\"admin\"'"
expect "metrics for loopback" sh -c "$A http://127.0.0.1/metrics | grep '^# TYPE' >/dev/null"

step "warren-reconciler's privileges"
# A stand-in for dockerd's socket (root:docker 0660) that hangs up at once.
python3 - <<'EOF' &
import grp, os, socket
s = socket.socket(socket.AF_UNIX)
s.bind("/run/docker.sock")
os.chown("/run/docker.sock", 0, grp.getgrnam("docker").gr_gid)
os.chmod("/run/docker.sock", 0o660)
s.listen(64)
while True:
    s.accept()[0].close()
EOF
for i in $(seq 50); do [ -S /run/docker.sock ] && break; sleep 0.1; done
connect='import socket; socket.socket(socket.AF_UNIX).connect("/run/docker.sock")'
expect "warren-reconciler reaches the Docker socket" \
    runuser -u warren-reconciler -- python3 -c "$connect"
expect "warren (the API) does not" \
    sh -c "! runuser -u warren -- python3 -c '$connect' 2>/dev/null"
expect "warren-reconciler reads the configuration and the secrets key" \
    runuser -u warren-reconciler -- sh -c "warren-reconciler -n -c $CONF && test -r /etc/warren/secret.key"
# One pass as the timer runs it: its own role (peer authentication), the
# Traefik file in its directory.  The stand-in Docker hangs up, so the
# pass itself fails; the database part must not.
runuser -u warren-reconciler -- env WARREN_DOCKER_HOST=unix:///run/docker.sock \
    WARREN_DOCKER_TIMEOUT=1000 WARREN_TRAEFIK_FILE=/var/lib/warren/traefik/warren.yml \
    timeout 60 warren-reconciler --once -c $CONF >/tmp/once.log 2>&1 || true
cat /tmp/once.log
has /tmp/once.log "active reconciler for Docker host"
mode /var/lib/warren/traefik/warren.yml "warren-reconciler warren-reconciler 644"
has /var/lib/warren/traefik/warren.yml "forwardAuth"

step "upgrade with the database down: nothing migrated, the command printed"
pg_ctlcluster 15 main stop
dpkg -i /tmp/debs/warren-api_*.deb >/tmp/upgrade1.log 2>&1 ||
    { cat /tmp/upgrade1.log; fail "upgrade with the database down"; }
cat /tmp/upgrade1.log
has /tmp/upgrade1.log "could not read the schema version"
has /tmp/upgrade1.log "runuser -u warren -- warrenctl -c $CONF migrate && systemctl restart warren-api"

step "upgrade with the database up: migrated, nothing to say"
pg_ctlcluster 15 main start
dpkg -i /tmp/debs/warren-api_*.deb >/tmp/upgrade2.log 2>&1 ||
    { cat /tmp/upgrade2.log; fail "upgrade"; }
cat /tmp/upgrade2.log
lacks /tmp/upgrade2.log "warren-api:"

step "remove: the data stays"
apache2ctl stop
nginx -s stop
kill -TERM "$(cat /run/warren/api.pid)"
dpkg -r warren-reconciler warren-api warren-common >/tmp/remove.log 2>&1 ||
    { cat /tmp/remove.log; fail "dpkg -r"; }
expect "keys, configuration and state kept" \
    test -f /etc/warren/jwt.keys -a -f /etc/warren/secret.key -a -f $CONF -a -d /var/lib/warren
expect "the database kept" sh -c \
    "runuser -u postgres -- psql -Atc \"SELECT 1 FROM pg_database WHERE datname = 'warren'\" | grep -qx 1"

step "purge: what the packages made goes, the database stays and is named"
dpkg -P warren-reconciler warren-api warren-common >/tmp/purge.log 2>&1 ||
    { cat /tmp/purge.log; fail "dpkg -P"; }
cat /tmp/purge.log
expect "/etc/warren and /var/lib/warren gone" test ! -e /etc/warren -a ! -e /var/lib/warren
expect "no stat overrides left" sh -c "! dpkg-statoverride --list | grep -q warren"
expect "no dangling nginx link" test ! -L /etc/nginx/sites-enabled/warren
expect "Apache site gone" sh -c "! a2query -q -s warren"
has /tmp/purge.log "dropdb warren"
expect "the database still there" sh -c \
    "runuser -u postgres -- psql -Atc \"SELECT 1 FROM pg_database WHERE datname = 'warren'\" | grep -qx 1"
pg_ctlcluster 15 main stop

echo
echo "install test: passed"
