# shellcheck shell=bash
# Shared by tools/stack, tools/test and the integration tests
# (tests/integration/conftest.py calls the nginx and PostgreSQL helpers).
# Source it; it defines functions and variables only.

WARREN_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WARREN_PG_BIN=/usr/lib/postgresql/15/bin
WARREN_NGINX_SITE=$WARREN_TOP/etc/nginx/warren.conf

# Every Debian 12 package a fresh machine needs to build Warren, run the
# local stack and run all tests.  "a|b" means: either one will do, install a.
WARREN_PACKAGES=(
	build-essential autoconf automake pkg-config
	libfcgi-dev libjson-c-dev libpq-dev libcurl4-openssl-dev libjwt-dev
	libsodium-dev libssl-dev
	postgresql-15 "nginx-light|nginx-core|nginx-full|nginx-extras"
	spawn-fcgi curl procps
	python3 python3-pytest python3-pytest-timeout python3-requests
	clang libclang-rt-14-dev wrk
	docker.io busybox-static python3-yaml python3-jsonschema
	# the Debian packages (tests/package), the Apache site, man pages
	debhelper apache2-dev lintian apache2 mandoc
	iproute2 python3-psycopg2
	# the OpenID Connect provider of the sign-in tests
	glewlwyd sqlite3 python3-cryptography
	# the browser tests (tests/e2e)
	chromium chromium-driver python3-selenium
	# the standard workspace images (images/) and the tests of IDEs in them
	mmdebstrap python3-websocket
	# a private registry with htpasswd (bcrypt) for the pull tests
	docker-registry apache2-utils
	# git's own HTTP server for the repository tests
	git fcgiwrap
)

warren_log() { printf '%s\n' "$*" >&2; }
warren_die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Prints the packages of WARREN_PACKAGES that are not installed.
warren_missing_packages() {
	local -A have=()
	local line p alt ok
	local names=()
	for p in "${WARREN_PACKAGES[@]}"; do
		IFS='|' read -r -a alts <<<"$p"
		names+=("${alts[@]}")
	done
	while read -r line; do
		[ "${line#* }" = installed ] && have[${line%% *}]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' \
	    "${names[@]}" 2>/dev/null)
	for p in "${WARREN_PACKAGES[@]}"; do
		IFS='|' read -r -a alts <<<"$p"
		ok=
		for alt in "${alts[@]}"; do
			[ -n "${have[$alt]:-}" ] && ok=1 && break
		done
		[ -n "$ok" ] || printf '%s\n' "${alts[0]}"
	done
}

# Installs what is missing; does nothing (quickly) when all is there.
warren_install_packages() {
	local missing
	missing=$(warren_missing_packages | tr '\n' ' ')
	missing=${missing% }
	[ -n "$missing" ] || return 0
	if [ "$(id -u)" != 0 ]; then
		warren_log "missing Debian packages: $missing (run as root to install them)"
		return 1
	fi
	warren_log "installing Debian packages: $missing"
	apt-get update -q &&
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing
}

# Configures (when needed) and builds in the top of the source tree.
warren_build() {
	(
		cd "$WARREN_TOP" || exit 1
		if [ ! -x configure ] || [ configure.ac -nt configure ] ||
		    [ ! -f Makefile.in ] || [ Makefile.am -nt Makefile.in ]; then
			autoreconf -fi || exit 1
		fi
		# WARREN_CONFIGURE_FLAGS: configure's options (tools/test
		# builds with --enable-werror --enable-test-routes); a tree
		# configured with others is configured again.
		# shellcheck disable=SC2086
		if [ ! -f config.status ] || [ configure -nt config.status ] ||
		    [ ! -f Makefile ] || [ "$(./config.status --config |
		    tr -d "'")" != "${WARREN_CONFIGURE_FLAGS:-}" ]; then
			./configure ${WARREN_CONFIGURE_FLAGS:-} || exit 1
		fi
		make -j"$(nproc)"
	)
}

# Runs a command as the PostgreSQL superuser (postgres when we are root:
# initdb refuses to run as root), from a directory it can read.
warren_as_pg() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

# The directory that holds the PostgreSQL cluster of state directory $1:
# $1/pg, unless the postgres user cannot reach $1 (a repository under a
# 0700 home directory, say); then a directory under /var/lib/warren-local.
warren_pg_root() {
	local state=$1
	if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$state" 2>/dev/null; then
		printf '%s\n' "$state/pg"
	else
		printf '/var/lib/warren-local/%s\n' \
		    "$(printf '%s' "$state" | sha256sum | cut -c1-16)"
	fi
}

# warren_pg_init ROOT PORT [fast]: a new cluster in ROOT/data, listening on
# 127.0.0.1:PORT and on a unix socket in ROOT/sock (mode 0700: only the
# postgres user and root can connect there, without a password); TCP
# connections need a password, and no role has one.  "fast" turns off
# fsync, for throw-away test clusters.
warren_pg_init() {
	local root=$1 port=$2 fast=${3:-}
	mkdir -p "$root" || return 1
	[ "$(id -u)" = 0 ] && chown postgres: "$root"
	chmod 0700 "$root"
	warren_as_pg mkdir -p "$root/sock" || return 1
	warren_as_pg "$WARREN_PG_BIN/initdb" -D "$root/data" -U postgres \
	    -E UTF8 --locale=C.UTF-8 --auth-local=trust \
	    --auth-host=scram-sha-256 >"$root/initdb.log" 2>&1 || {
		cat "$root/initdb.log" >&2
		return 1
	}
	{
		echo "# Warren: private cluster"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$root/sock'"
		echo "unix_socket_permissions = 0700"
		if [ "$fast" = fast ]; then
			echo "fsync = off"
			echo "synchronous_commit = off"
			echo "full_page_writes = off"
		fi
	} | warren_as_pg tee -a "$root/data/postgresql.conf" >/dev/null
}

warren_pg_running() {
	warren_as_pg "$WARREN_PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1
}

warren_pg_start() {
	warren_pg_running "$1" && return 0
	warren_as_pg "$WARREN_PG_BIN/pg_ctl" -D "$1/data" -l "$1/postgresql.log" \
	    -w -t 60 start >/dev/null || {
		tail -n 20 "$1/postgresql.log" >&2
		return 1
	}
}

warren_pg_stop() {
	warren_pg_running "$1" || return 0
	warren_as_pg "$WARREN_PG_BIN/pg_ctl" -D "$1/data" -m fast -w -t 60 \
	    stop >/dev/null
}

# warren_pg_psql ROOT PORT DB ARGS...: psql as the superuser over the socket.
warren_pg_psql() {
	local root=$1 port=$2 db=$3
	shift 3
	"$WARREN_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$root/sock" \
	    -p "$port" -U postgres -d "$db" "$@"
}

# warren_pg_ensure_db ROOT PORT DB: the role and database DB, owned by it.
warren_pg_ensure_db() {
	local root=$1 port=$2 db=$3
	warren_pg_psql "$root" "$port" postgres -At -v db="$db" <<'EOF' >/dev/null
SELECT format('CREATE ROLE %I LOGIN', :'db')
    WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'db')
    WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
EOF
}

# warren_nginx_config DIR PORT UPSTREAM HTDOCS: DIR/nginx.conf, a top-level
# nginx configuration around the shipped site file etc/nginx/warren.conf
# with its address, htdocs and FastCGI upstream (unix:PATH or HOST:PORT)
# substituted; pid file, logs and temporary files all under DIR.
warren_nginx_config() {
	local dir=$1 port=$2 upstream=$3 htdocs=$4 as_root= qhtdocs qupstream q
	mkdir -p "$dir/tmp" "$dir/log" || return 1
	# Paths in double quotes (a clone may live under a path with spaces),
	# escaped for nginx and then for sed's replacement.
	qhtdocs=$(warren_sed_repl "$(warren_nginx_quote "$htdocs")")
	qupstream=$(warren_sed_repl "$(warren_nginx_quote "$upstream")")
	sed -e "s|^\([[:space:]]*listen[[:space:]]\{1,\}\)127\.0\.0\.1:8080;|\1127.0.0.1:$port;|" \
	    -e "s|^\([[:space:]]*root[[:space:]]\{1,\}\)/usr/share/warren/htdocs;|\1$qhtdocs;|" \
	    -e "s|^\([[:space:]]*fastcgi_pass[[:space:]]\{1,\}\)unix:/run/warren/api\.sock;|\1$qupstream;|" \
	    -e "s|^\([[:space:]]*include[[:space:]]\{1,\}\)fastcgi_params;|\1/etc/nginx/fastcgi_params;|" \
	    "$WARREN_NGINX_SITE" >"$dir/site.conf" || return 1
	# The substitutions must have hit: a changed site file must not
	# silently leave the shipped paths in the generated configuration.
	if grep -qE '/usr/share/warren|/run/warren|include[[:space:]]+fastcgi_params' \
	    "$dir/site.conf" ||
	    [ "$(grep -cE '^[[:space:]]*listen[[:space:]]' "$dir/site.conf")" -lt 1 ] ||
	    ! grep -q "listen 127.0.0.1:$port;" "$dir/site.conf" ||
	    ! grep -qF "fastcgi_pass $(warren_nginx_quote "$upstream");" "$dir/site.conf"; then
		warren_log "warren_nginx_config: $WARREN_NGINX_SITE does not have the expected listen/root/fastcgi_pass lines"
		return 1
	fi
	# Root may raise the workers' priority (README.md: nginx ahead of
	# warren-api when both share the CPUs).
	[ "$(id -u)" = 0 ] && as_root="user root;
worker_priority -5;"
	# "DIR without its closing quote: each path below ends it.
	q=$(warren_nginx_quote "$dir")
	q=${q%\"}
	cat >"$dir/nginx.conf" <<EOF
# Generated by tools/lib.sh around $WARREN_NGINX_SITE; do not edit.
$as_root
worker_processes 1;
pid $q/nginx.pid";
error_log $q/log/error.log" warn;
events {
	worker_connections 1024;
}
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	sendfile on;
	access_log $q/log/access.log";
	client_body_temp_path $q/tmp/client_body";
	fastcgi_temp_path $q/tmp/fastcgi";
	proxy_temp_path $q/tmp/proxy";
	uwsgi_temp_path $q/tmp/uwsgi";
	scgi_temp_path $q/tmp/scgi";
	include $q/site.conf";
}
EOF
}

# $1 as an nginx string in double quotes.
warren_nginx_quote() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//\$/\\\$}
	printf '"%s"' "$s"
}

# $1 escaped for the replacement part of sed's s|...|...|.
warren_sed_repl() {
	printf '%s' "$1" | sed -e 's/[\&|]/\\&/g'
}

# warren_nginx DIR ARGS...: nginx on the configuration made above.
warren_nginx() {
	local dir=$1
	shift
	nginx -p "$dir" -e "$dir/log/error.log" -c "$dir/nginx.conf" "$@"
}

# Is the process in pid file $1 alive and running program $2?
warren_pid_alive() {
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
	    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# warren_stop_pid PIDFILE NAME SECONDS: SIGTERM, then wait for the exit.
warren_stop_pid() {
	local pidfile=$1 name=$2 secs=$3 pid i
	warren_pid_alive "$pidfile" "$name" || { rm -f "$pidfile"; return 0; }
	pid=$(cat "$pidfile")
	kill -TERM "$pid"
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
		sleep 0.1
	done
	warren_log "$name (pid $pid) did not stop within $secs s"
	return 1
}

# Docker: answers at $DOCKER_HOST when that is set (then nothing is
# started), else on /var/run/docker.sock, or a dockerd is started there (its
# pid in $1 when given, so that whoever started it can stop it).
warren_docker_ensure() {
	local pidfile=${1:-} i
	docker version >/dev/null 2>&1 && return 0
	if [ -n "${DOCKER_HOST:-}" ]; then
		warren_log "no Docker Engine answers at DOCKER_HOST=$DOCKER_HOST"
		return 1
	fi
	warren_log "starting dockerd"
	# Published ports by the kernel's NAT, not a docker-proxy process
	# per port: a workspace's port then answers as fast as the
	# container itself (see README, "Docker").
	setsid dockerd --host unix:///var/run/docker.sock --userland-proxy=false \
	    </dev/null >>"${2:-/var/log/warren-dockerd.log}" 2>&1 &
	[ -n "$pidfile" ] && echo $! >"$pidfile"
	for ((i = 0; i < 300; i++)); do
		docker version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	warren_log "dockerd did not answer within 30 s"
	return 1
}

# warren_demo_image NAME: the demo workspace image (images/demo.recipe: busybox
# httpd serving a page on port 8080, /home/coder owned by 1000:1000), made
# here without a registry, under the tag NAME; kept when its recipe has not
# changed.
warren_demo_image() {
	WARREN_IMAGE_TAG=$1 sh "$WARREN_TOP/images/build.sh" demo >/dev/null
}
