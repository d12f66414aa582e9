# shellcheck shell=bash
# Shared by the benchmarks (bench/api, bench/workspaces): a private
# PostgreSQL cluster, warren-api and nginx in a temporary directory, and
# wrk runs with their figures.  Source it after setting top, build and
# workers; it defines functions and variables only.
#
#   bench_setup [COMMAND...]   checks (root, wrk, nginx, ...), makes $tmp,
#                              sets the EXIT trap that stops everything
#   bench_pg                   PostgreSQL with a database "warren"
#   bench_api [CONF LINE...]   warren.conf (+ lines), keys, migrate, start
#   bench_nginx [LOCATIONS]    nginx in front; sets $base
#   bench_wrk NAME CONNS URL [WRK ARGS...]
#                              one wrk run; figures in rps[NAME] ...
#   bench_run NAME CONNS URL [WRK ARGS...]
#                              bench_wrk, and the CPU time per request of
#                              nginx, the FastCGI programs and PostgreSQL

pgbin=/usr/lib/postgresql/15/bin
threads=$(nproc)

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	die "no free port"
}

wait_for() {	# wait_for SECONDS COMMAND...
	local n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

bench_setup() {
	local c
	[ "$(id -u)" = 0 ] || die "run as root (initdb runs as the postgres user)"
	for c in wrk nginx runuser curl "$pgbin/initdb" "$@"; do
		command -v "$c" >/dev/null || die "$c not found"
	done
	[ -x "$build/warren-api" ] && [ -x "$build/warrenctl" ] ||
		die "no ./warren-api or ./warrenctl in $build: build first"
	tmp=$(mktemp -d /tmp/warren-bench.XXXXXX)
	chmod 755 "$tmp"
	api_pid= nginx_pid= pg_started=
	bench_pids=()	# more processes to stop at exit
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local p
	set +e
	[ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
	[ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null
	for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$nginx_pid" ] && wait "$nginx_pid" 2>/dev/null
	[ -n "$api_pid" ] && wait "$api_pid" 2>/dev/null
	for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "$pg_started" ] && runuser -u postgres -- "$pgbin/pg_ctl" \
	    -D "$tmp/pg" -m fast -w stop >/dev/null 2>&1
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}

bench_pg() {
	pgport=$(free_port)
	mkdir -p "$tmp/pg" "$tmp/pgsock" "$tmp/pglog"
	chown postgres: "$tmp/pg" "$tmp/pgsock" "$tmp/pglog"
	runuser -u postgres -- "$pgbin/initdb" -D "$tmp/pg" -U postgres -A trust \
	    --no-sync >"$tmp/initdb.log" 2>&1 || die "initdb failed: $tmp/initdb.log"
	pg_started=1
	runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg" -l "$tmp/pglog/pg.log" \
	    -w -o "-c listen_addresses=127.0.0.1 -p $pgport \
	    -c unix_socket_directories=$tmp/pgsock" start >/dev/null ||
		die "PostgreSQL did not start: $tmp/pglog/pg.log"
	runuser -u postgres -- "$pgbin/createdb" -h "$tmp/pgsock" -p "$pgport" \
	    warren || die "createdb failed"
	pg_pid=$(head -1 "$tmp/pg/postmaster.pid")
}

# psql as the superuser on the benchmark's database.
bench_psql() {
	runuser -u postgres -- "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 \
	    -h "$tmp/pgsock" -p "$pgport" -d warren "$@"
}

# Workers are never recycled here (max_requests = 0), so that RSS shows
# what the requests leave behind.
bench_api() {
	local key_files key path line
	cat >"$tmp/warren.conf" <<EOF
listen = $tmp/api.sock
listen_mode = 0666
workers = $workers
max_requests = 0
db_conninfo = "host=$tmp/pgsock port=$pgport dbname=warren user=postgres"
EOF
	for line in "$@"; do
		echo "$line" >>"$tmp/warren.conf"
	done
	# Key files that this tree's warren-api needs (jwt_key_file, ...),
	# made by "warrenctl keys init" in the temporary directory.
	key_files=$(sed -nE 's/^#?[[:space:]]*([a-z_]+_key_file)[[:space:]]*=[[:space:]]*"?([^" ]*)"?.*/\1 \2/p' \
	    "$top/etc/warren.conf.sample")
	if [ -n "$key_files" ]; then
		while read -r key path; do
			echo "$key = $tmp/${path##*/}"
		done <<<"$key_files" >>"$tmp/warren.conf"
		"$build/warrenctl" -c "$tmp/warren.conf" keys init \
		    >"$tmp/keys.log" 2>&1 ||
			die "warrenctl keys init failed: $(cat "$tmp/keys.log")"
	fi
	"$build/warrenctl" -c "$tmp/warren.conf" migrate >"$tmp/migrate.log" 2>&1 ||
		die "migrate failed: $(cat "$tmp/migrate.log")"
	"$build/warren-api" -c "$tmp/warren.conf" 2>"$tmp/api.log" &
	api_pid=$!
	wait_for 10 test -S "$tmp/api.sock" ||
		die "warren-api did not start: $tmp/api.log"
}

# bench_nginx [LOCATIONS]: /api/ and /metrics go to warren-api, /static.json
# is a file; LOCATIONS are more location blocks for the server.
bench_nginx() {
	local extra=${1:-}
	port=$(free_port)
	mkdir -p "$tmp/htdocs" "$tmp/nginx"
	printf '{"status":"ok"}' >"$tmp/htdocs/static.json"
	cat >"$tmp/nginx.conf" <<EOF
daemon off;
worker_processes auto;
# As README.md recommends where nginx and warren-api share the CPUs.
worker_priority -5;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
	include /etc/nginx/mime.types;
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	proxy_temp_path $tmp/nginx/proxy;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	server {
		listen 127.0.0.1:$port;
		root $tmp/htdocs;
		location = /static.json { }
		location /api/ {
			include /etc/nginx/fastcgi_params;
			fastcgi_keep_conn off;
			fastcgi_buffer_size 32k;	# as etc/nginx/warren.conf
			fastcgi_buffers 8 32k;
			fastcgi_pass unix:$tmp/api.sock;
		}
		location = /metrics {
			include /etc/nginx/fastcgi_params;
			fastcgi_keep_conn off;
			fastcgi_pass unix:$tmp/api.sock;
		}
$extra
	}
}
EOF
	nginx -t -q -c "$tmp/nginx.conf" -p "$tmp/nginx" 2>"$tmp/nginx-t.log" ||
		die "bad nginx config: $(cat "$tmp/nginx-t.log")"
	nginx -c "$tmp/nginx.conf" -p "$tmp/nginx" 2>>"$tmp/nginx/error.log" &
	nginx_pid=$!
	base=http://127.0.0.1:$port
	wait_for 10 curl -sf "$base/static.json" || die "nginx did not start"
}

to_ms() {	# 1.23ms, 456.00us, 1.02s -> milliseconds
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000
		else if (v ~ /ms$/) n = n
		else if (v ~ /m$/) n *= 60000
		else if (v ~ /s$/) n *= 1000
		printf "%.2f", n
	}'
}

# Figures of each run, by name, in the order of the runs.
declare -A rps p50 p99 pmax errs reqs labels cons
order=()

# bench_wrk NAME CONNS URL [WRK ARGS...]: wrk for BENCH_SECONDS (secs);
# its output in $tmp/wrk-NAME.txt.  errs counts socket errors and answers
# other than 2xx/3xx.
bench_wrk() {
	local name=$1 c=$2 url=$3 out
	shift 3
	out=$(wrk -t"$threads" -c"$c" -d"${secs}s" --timeout 5s --latency \
	    "$@" "$base$url") || die "wrk failed on $url"
	echo "$out" >"$tmp/wrk-$name.txt"
	order+=("$name")
	reqs[$name]=$(awk '/ requests in / { print $1 }' <<<"$out")
	rps[$name]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
	p50[$name]=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
	p99[$name]=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	pmax[$name]=$(to_ms "$(awk '$1 == "Latency" { print $4 }' <<<"$out")")
	errs[$name]=$(awk '
		/Socket errors:/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
		/Non-2xx or 3xx responses:/ { e += $5 }
		END { print e + 0 }' <<<"$out")
	labels[$name]="$url"
	cons[$name]=$c
}

# CPU time per request of each side, from /proc/PID/stat (utime + stime),
# so that other load on the machine does not blur where the time goes.
# "app" is warren-api's workers and those of the programs in bench_pids.
hz=$(getconf CLK_TCK)
group_pids() {
	local p
	case $1 in
	nginx)	pgrep -P "$nginx_pid" ;;
	app)	pgrep -P "$api_pid"
		for p in "${bench_pids[@]}"; do pgrep -P "$p"; done ;;
	pg)	echo "$pg_pid"; pgrep -P "$pg_pid" ;;
	esac
}
ticks() {
	local p t=0
	for p in $(group_pids "$1"); do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" |
		    awk '{ print $12 + $13 }')))
	done
	echo "$t"
}
cpu_stat() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
per_req() {	# ticks requests -> microseconds per request
	awk -v t="$1" -v n="$2" -v hz="$hz" \
	    'BEGIN { printf "%.0f", n ? t * 1e6 / hz / n : 0 }'
}
declare -A cpu_nginx cpu_app cpu_pg idle

bench_run() {
	local name=$1 n0 a0 p0 s0 s1
	n0=$(ticks nginx) a0=$(ticks app) p0=$(ticks pg) s0=$(cpu_stat)
	bench_wrk "$@"
	s1=$(cpu_stat)
	# Idle share of all CPUs: high idle means too few workers, not CPU.
	idle[$name]=$(awk -v a="$s0" -v b="$s1" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }')
	cpu_nginx[$name]=$(per_req $(($(ticks nginx) - n0)) "${reqs[$name]}")
	cpu_app[$name]=$(per_req $(($(ticks app) - a0)) "${reqs[$name]}")
	cpu_pg[$name]=$(per_req $(($(ticks pg) - p0)) "${reqs[$name]}")
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
yes_no() { if awk "BEGIN { exit !($1) }"; then echo met; else echo MISSED; fi; }
