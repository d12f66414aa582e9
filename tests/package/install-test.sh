#!/usr/bin/env bash
# Installs the Warren packages on a throw-away copy of this machine and uses
# them as an operator would: install, warrenctl setup, warren-api behind
# nginx and behind Apache (its unix socket for the API, authorizer_listen
# for the workspace hosts), a Docker Engine and warren-reconciler as its
# unit runs it, a workspace created through Apache and reached by its host
# name through nginx and Apache, an upgrade with the database down and up,
# remove, purge.
#
#   unshare --mount --net --pid --fork --mount-proc bash install-test.sh DEBDIR
#
# The copy is an overlay of / whose changes live in a tmpfs of a private
# mount namespace; the network namespace has only its own loopback and the
# PID namespace ends every process started here when the script exits.
# Nothing of it is left on the machine: the Docker Engine started here
# has its socket, data, state and bridge in the copy and the namespaces,
# and its containers' cgroups are removed when it has stopped.  Without
# systemd as PID 1 the services are started with the commands their units
# run.  Prints "install test: passed" at the end; any failed check exits
# non-zero.
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
# A process started here is alive (not only a zombie not yet waited for).
alive() {
	local state
	state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) ||
	    return 1
	[ -n "$state" ] && [ "$state" != Z ]
}
stop_pid() { # stop_pid PID NAME: SIGTERM, then up to 60 s for the exit
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 600); do
		alive "$1" || { wait "$1" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	echo "$2 (pid $1) did not stop within 60 s"
	return 1
}

# The Docker Engine of this copy.  Its socket is where warren.conf's
# docker_host points (/run is this copy's own tmpfs); its data and state
# are in this copy's /tmp, not in the machine's /var/lib/docker (the
# overlay's lower layer); its bridge is in this network namespace and it
# adds no iptables rules.  Its containers' cgroups are the only thing
# outside the namespaces, under a parent of their own, removed at the end.
DOCKER_SOCK=/var/run/docker.sock
DOCKER_DIR=/tmp/docker
DOCKER_BRIDGE=wbr-install
DOCKER_CGROUP=warren-install-test
export DOCKER_HOST=unix://$DOCKER_SOCK
DOCKERD='' RECON=''
cleanup() {
	if [ -n "$RECON" ]; then stop_pid "$RECON" warren-reconciler || true; fi
	if [ -n "$DOCKERD" ]; then stop_pid "$DOCKERD" dockerd || true; fi
	rmdir /sys/fs/cgroup/*/$DOCKER_CGROUP /sys/fs/cgroup/$DOCKER_CGROUP \
	    2>/dev/null || true
}
trap cleanup EXIT

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
    'a2query -q -s warren && for m in proxy_fcgi proxy_http headers rewrite authnz_fcgi unique_id;
    do a2query -q -m $m || exit 1; done'
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
# The Apache site's workspace hosts: its Authorizer listener, off as shipped.
has $CONF '^authorizer_listen = ""$'
sed -i 's/^authorizer_listen = .*/authorizer_listen = 127.0.0.1:9000/' $CONF
has $CONF '^authorizer_listen = 127.0.0.1:9000$'
# The name people use (setup's step 1): the Apache site's ServerName, on
# nginx's port.  One site with two front ends: nginx holds that port here,
# Apache is on port 80 and its browser reaches it as through a port forward.
SITE=http://warren.localhost:8080
has $CONF '^public_url = http://127.0.0.1:8080$'
sed -i "s|^public_url = .*|public_url = $SITE|" $CONF
has $CONF "^public_url = $SITE\$"
expect "warren-api -n as warren" \
    runuser -u warren -- env WARREN_LISTEN=inherit warren-api -n -c $CONF
install -d -m 0755 /run/warren
spawn-fcgi -s /run/warren/api.sock -M 0660 -U warren -G www-data \
    -u warren -g warren -P /run/warren/api.pid -- /usr/bin/env WARREN_LISTEN=inherit \
    /usr/sbin/warren-api -c $CONF >/tmp/api.log 2>&1
mode /run/warren/api.sock "warren www-data 660"
for _ in $(seq 50); do ss -Hltn 'sport = :9000' | grep -q . && break; sleep 0.1; done
expect "warren-api, as warren, listens on 127.0.0.1:9000 (authorizer_listen)" sh -c \
    "ss -Hltnp 'sport = :9000' | grep -q '127.0.0.1:9000 .*\"warren-api\"' &&
    [ \$(ss -Hltn 'sport = :9000' | wc -l) = 1 ] &&
    ps -o user= -p \$(cat /run/warren/api.pid) | grep -qx warren"

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
ATOKEN=$($A -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$PW\"}" \
    http://127.0.0.1/api/v1/auth/login | json '["access_token"]')
expect "the admin signs in through Apache" sh -c "$A -H 'Authorization: Bearer $ATOKEN' \
    http://127.0.0.1/api/v1/me | grep -q '\"role\":\"admin\"'"
expect "metrics for loopback" sh -c "$A http://127.0.0.1/metrics | grep '^# TYPE' >/dev/null"
# A workspace host: mod_authnz_fcgi asks warren-api on authorizer_listen.
curl -sS -o /tmp/apache-ws.body -D /tmp/apache-ws.h -H Host:aaaaaaaaaa.warren.localhost \
    http://127.0.0.1/ || fail "a workspace host through Apache"
has /tmp/apache-ws.h "^HTTP/1.1 404"
has /tmp/apache-ws.body "No such workspace."
echo "ok: Apache asks warren-api about a workspace host"
# Only the Authorizer there: a FastCGI Responder request gets 403.
python3 - <<'EOF' || fail "the API is served on authorizer_listen"
import socket, struct
def rec(t, c):
    return struct.pack(">BBHHBx", 1, t, 1, len(c), 0) + c
p = b"".join(bytes([len(k), len(v)]) + k + v for k, v in
             ((b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/api/v1/health")))
s = socket.create_connection(("127.0.0.1", 9000), timeout=10)
s.sendall(rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, p) + rec(4, b"") + rec(5, b""))
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
assert b"Status: 403" in out and b'"ok"' not in out, out
print("ok: the API is not served on authorizer_listen (403)")
EOF

step "Docker: a dockerd of this copy, on the socket warren.conf names"
install -d -m 0700 $DOCKER_DIR
echo '{}' >$DOCKER_DIR/daemon.json
ip link add $DOCKER_BRIDGE type bridge
ip addr add 10.231.251.1/24 dev $DOCKER_BRIDGE
ip link set $DOCKER_BRIDGE up
dockerd --host "$DOCKER_HOST" --group docker --data-root $DOCKER_DIR/data \
    --exec-root $DOCKER_DIR/x --pidfile $DOCKER_DIR/docker.pid \
    --config-file $DOCKER_DIR/daemon.json --bridge $DOCKER_BRIDGE \
    --iptables=false --ip-masq=false --cgroup-parent /$DOCKER_CGROUP \
    --shutdown-timeout 5 </dev/null >/tmp/dockerd.log 2>&1 &
DOCKERD=$!
for _ in $(seq 600); do
	docker version >/dev/null 2>&1 && break
	alive $DOCKERD || break
	sleep 0.1
done
docker version >/dev/null 2>&1 ||
    { tail -n 40 /tmp/dockerd.log; fail "dockerd does not answer on $DOCKER_SOCK"; }
echo "ok: dockerd answers on $DOCKER_SOCK"
mode $DOCKER_SOCK "root docker 660"

step "a workspace image made here from busybox-static (no registry)"
IMAGE=warren/install-test:1
MARK=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
r=/tmp/image-root
mkdir -p $r/bin $r/etc $r/www $r/tmp $r/home/dev
chmod 1777 $r/tmp
cp /bin/busybox $r/bin/busybox
for a in sh httpd; do ln -s busybox $r/bin/$a; done
printf 'root:x:0:0:root:/root:/bin/sh\ndev:x:1000:1000:dev:/home/dev:/bin/sh\n' >$r/etc/passwd
printf 'root:x:0:\ndev:x:1000:\n' >$r/etc/group
chown 1000:1000 $r/home/dev
echo "workspace page $MARK" >$r/www/index.html
tar -C $r -c . | docker import -c 'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]' \
    -c 'ENV PATH=/bin' - $IMAGE >/dev/null || fail "docker import of $IMAGE"
expect "image $IMAGE in this Docker Engine" sh -c "docker image inspect $IMAGE >/dev/null"

step "warren-reconciler's privileges"
ping="curl -fsS --unix-socket $DOCKER_SOCK http://docker/_ping"
expect "warren-reconciler reaches the Docker socket" \
    runuser -u warren-reconciler -- sh -c "$ping | grep -qx OK"
expect "warren (the API) does not" \
    sh -c "! runuser -u warren -- $ping >/dev/null 2>&1"
expect "warren-reconciler reads the configuration and the secrets key" \
    runuser -u warren-reconciler -- sh -c "warren-reconciler -n -c $CONF && test -r /etc/warren/secret.key"
# One pass as the timer runs it: its own role (peer authentication), the
# Docker host of warren.conf, the Traefik file in its directory.
runuser -u warren-reconciler -- env WARREN_TRAEFIK_FILE=/var/lib/warren/traefik/warren.yml \
    timeout 120 warren-reconciler --once -c $CONF >/tmp/once.log 2>&1 ||
    { cat /tmp/once.log; fail "one pass of warren-reconciler --once"; }
cat /tmp/once.log
has /tmp/once.log "active reconciler for Docker host"
mode /var/lib/warren/traefik/warren.yml "warren-reconciler warren-reconciler 644"
has /var/lib/warren/traefik/warren.yml "forwardAuth"

step "warren-reconciler, as warren-reconciler.service runs it"
# User=, Group=, SupplementaryGroups= (its groups in /etc/group),
# NoNewPrivileges= and UMask= of the unit.
(umask 0022 && exec setpriv --reuid=warren-reconciler --regid=warren-reconciler \
    --init-groups --no-new-privs -- /usr/sbin/warren-reconciler -c $CONF) \
    </dev/null >/tmp/reconciler.log 2>&1 &
RECON=$!
for _ in $(seq 600); do
	grep -q "active reconciler for Docker host" /tmp/reconciler.log && break
	alive $RECON || break
	sleep 0.1
done
alive $RECON || { cat /tmp/reconciler.log; fail "warren-reconciler exited"; }
has /tmp/reconciler.log "active reconciler for Docker host"
who=$(ps -o euser:32=,egroup:32= -p $RECON | tr -s ' ')
groups=$(ps -o supgrp:200= -p $RECON | tr -d ' ' | tr , '\n' | sort | tr '\n' ' ')
[ "$who" = "warren-reconciler warren-reconciler" ] ||
    fail "warren-reconciler runs as $who, not warren-reconciler warren-reconciler"
[ "$groups" = "docker warren warren-reconciler " ] ||
    fail "warren-reconciler has the groups $groups, not docker warren warren-reconciler"
echo "ok: warren-reconciler runs as warren-reconciler, in groups docker and warren"

step "a workspace, created through Apache, reached by its host name through nginx and Apache"
$A -H "Authorization: Bearer $ATOKEN" -H 'Content-Type: application/json' \
    -d "{\"name\":\"install-test\",\"version\":{\"image\":\"$IMAGE\",
    \"ports\":[{\"port\":8080,\"name\":\"web\",\"protocol\":\"http\"}],
    \"cpu_millis\":500,\"memory_mb\":64,\"home_path\":\"/home/dev\",
    \"probe\":{\"type\":\"http\",\"port\":8080,\"path\":\"/\",\"timeout\":120}}}" \
    http://127.0.0.1/api/v1/templates >/tmp/template.json ||
    { cat /tmp/template.json; fail "create the template through Apache"; }
echo "ok: template install-test ($IMAGE) created through Apache"
$A -H "Authorization: Bearer $ATOKEN" -H 'Content-Type: application/json' \
    -d '{"name":"first","template":"install-test"}' \
    http://127.0.0.1/api/v1/workspaces >/tmp/workspace.json ||
    { cat /tmp/workspace.json; fail "create the workspace through Apache"; }
WS=$(json '["id"]' </tmp/workspace.json)
WS_URL=$(json '["url"]' </tmp/workspace.json)
WS_HOST=$(printf '%s\n' "$WS_URL" | sed -n 's|^http://\([a-z2-7]\{10\}\.warren\.localhost\):8080/\{0,1\}$|\1|p')
[ -n "$WS_HOST" ] || fail "workspace URL $WS_URL is not http://<id>.warren.localhost:8080/"
echo "ok: workspace $WS created through Apache, at $WS_URL"
# nginx and Apache in front of it ask warren-api about every request.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $WS_HOST:8080" $N/)
[ "$code" = 401 ] || fail "without credentials $WS_HOST answers $code, not 401"
echo "ok: without credentials $WS_HOST answers 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $WS_HOST" http://127.0.0.1/)
[ "$code" = 401 ] || fail "through Apache, without credentials $WS_HOST answers $code, not 401"
echo "ok: through Apache, without credentials $WS_HOST answers 401"
# A browser per front end, each with its own cookie jar and User-Agent:
# signed in on the API host (public_url's), it opens the workspace URL and
# follows the hand-off to the host's own cookie.  Both use the site's URLs
# (port 8080): nginx's browser connects to nginx there, Apache's to Apache
# on port 80 whatever the URL, as through a port forward.
browser() { # browser FRONT curl-args...: curl as the browser of FRONT
	local front=$1
	shift
	case $front in
	nginx) set -- --resolve warren.localhost:8080:127.0.0.1 \
	    --resolve "$WS_HOST:8080:127.0.0.1" "$@" ;;
	apache) set -- --connect-to ::127.0.0.1:80 "$@" ;;
	esac
	curl -A "install-test-browser-$front" -c "/tmp/$front.jar" -b "/tmp/$front.jar" "$@"
}
signin() { # signin FRONT: the browser of FRONT signs in on public_url's host
	browser "$1" -fsS -o /dev/null -H "Origin: $SITE" -H 'Content-Type: application/json' \
	    -d "{\"username\":\"admin\",\"password\":\"$PW\"}" $SITE/api/v1/auth/login ||
	    fail "the browser signs in on $SITE through $1"
	echo "ok: the browser signs in on $SITE through $1"
}
browse() { # browse FRONT: the workspace URL, redirects followed; prints the status
	browser "$1" -sS -L --max-redirs 5 -H 'Accept: text/html' -o "/tmp/$1-page" \
	    -w '%{http_code}' "http://$WS_HOST:8080/" 2>"/tmp/$1-curl.err" || true
}
reach() { # reach FRONT: the workspace's page, after the hand-off, through FRONT
	local code=
	signin $1
	# The workspace answers 503 while it starts; the probe allows 120 s.
	for _ in $(seq 1500); do
		code=$(browse $1)
		[ "$code" = 200 ] && break
		alive $RECON || break
		sleep 0.1
	done
	if [ "$code" != 200 ] || ! grep -qx "workspace page $MARK" /tmp/$1-page; then
		cat /tmp/$1-page /tmp/$1-curl.err /tmp/reconciler.log
		docker ps -a
		fail "$WS_URL answers $code through $1, not the workspace's page"
	fi
	echo "ok: $WS_URL serves the workspace's page through $1"
	has /tmp/$1.jar "^\(#HttpOnly_\)\{0,1\}${WS_HOST}[[:space:]].*[[:space:]]warren_ws[[:space:]]"
	echo "ok: the browser of $1 has $WS_HOST's own cookie from the hand-off"
}
reach nginx
reach apache
# Every request of Apache's browser, sign-in and hand-off included, went
# to Apache (its vhost_combined log names the virtual host), none to nginx.
L=/var/log/apache2/other_vhosts_access.log
has $L '^warren\.localhost:[0-9]* .*"POST /api/v1/auth/login HTTP/1\.1" 200 .*install-test-browser-apache'
has $L '^warren\.localhost:[0-9]* .*"GET /api/v1/auth/handoff?host=.* 302 .*install-test-browser-apache'
has $L '^workspaces\.warren\.localhost:[0-9]* .*"GET /_warren/handoff?code=.* 302 .*install-test-browser-apache'
has $L '^workspaces\.warren\.localhost:[0-9]* .*"GET / HTTP/1\.1" 200 .*install-test-browser-apache'
lacks /var/log/nginx/access.log install-test-browser-apache
has /var/log/nginx/access.log install-test-browser-nginx
echo "ok: Apache's browser went through Apache only"
expect "its container runs in this Docker Engine, labelled with the workspace" \
    sh -c "docker ps -q --filter label=warren.workspace=$WS | grep -q ."

step "the workspace stops"
$A -H "Authorization: Bearer $ATOKEN" -H 'Content-Type: application/json' \
    -d '{"transition":"stop"}' "http://127.0.0.1/api/v1/workspaces/$WS/builds" \
    >/tmp/stop.json || { cat /tmp/stop.json; fail "stop the workspace through Apache"; }
for _ in $(seq 1200); do
	st=$($A -H "Authorization: Bearer $ATOKEN" "http://127.0.0.1/api/v1/workspaces/$WS" |
	    json '["status"]') || st=unknown
	[ "$st" = stopped ] && break
	alive $RECON || break
	sleep 0.1
done
[ "$st" = stopped ] || { cat /tmp/reconciler.log; fail "workspace $WS is $st, not stopped"; }
echo "ok: workspace $WS stopped"
# warren-api may answer from its one-second cache of forward decisions:
# until then the front end finds no container (nginx 502, Apache its own
# 503 page), then warren-api's own 503 "stopped" page.
stopped_page() { # stopped_page FRONT: warren-api's "stopped" page through FRONT
	[ "$(browse $1)" = 503 ] && grep -q "This workspace is stopped" /tmp/$1-page
}
for front in nginx apache; do
	for _ in $(seq 300); do
		stopped_page $front && break
		sleep 0.1
	done
	stopped_page $front || {
		cat /tmp/$front-page /tmp/$front-curl.err
		fail "the stopped workspace does not answer 503 \"stopped\" through $front"
	}
	echo "ok: through $front the stopped workspace answers 503 \"This workspace is stopped\""
done
expect "no container of it runs" \
    sh -c "! docker ps -q --filter label=warren.workspace=$WS | grep -q ."

step "warren-reconciler and dockerd stop"
stop_pid $RECON warren-reconciler || fail "warren-reconciler does not stop"
RECON=''
cat /tmp/reconciler.log
has /tmp/reconciler.log "info: stopped"
stop_pid $DOCKERD dockerd || fail "dockerd does not stop"
DOCKERD=''
rmdir /sys/fs/cgroup/*/$DOCKER_CGROUP /sys/fs/cgroup/$DOCKER_CGROUP 2>/dev/null || true
expect "no cgroup of its containers left" \
    sh -c "! ls -d /sys/fs/cgroup/$DOCKER_CGROUP /sys/fs/cgroup/*/$DOCKER_CGROUP 2>/dev/null | grep -q ."

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
