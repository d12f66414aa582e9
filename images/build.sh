#!/bin/sh
# Warren's standard workspace images, built on this machine from Debian's
# and npm's packages only (no registry): a root file system made with
# mmdebstrap, imported into the Docker Engine that DOCKER_HOST names.
#
#   build.sh NAME [--force]        (as root; warrenctl images build runs it)
#   build.sh NAME --status         one line: built, outdated or not built
#   build.sh NAME --cache-only     the root file system into WARREN_IMAGE_CACHE,
#                                  no Docker (for a later import offline)
#
# NAME is a recipe beside this file (NAME.recipe, shell that only defines):
# it sets IMAGE_TAG and defines image_rootfs OUT.tar and image_import TAR
# TAG KEY; a long root file system build lives in NAME.sh beside it.  The
# image carries the label warren.recipe=KEY, a digest of this file, the
# recipe and NAME.sh: a second build with nothing changed finds it and
# stops at once (--force builds again).  SOURCE_DATE_EPOCH is fixed, so
# that the same packages give the same root file system.
#
# WARREN_IMAGE_TAG overrides the recipe's tag.  WARREN_IMAGE_CACHE names a
# directory where root file systems are kept by recipe, so that another
# Docker Engine gets the image without a rebuild.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
recipes=$(cd "$here" && ls *.recipe | sed -n 's/\.recipe$//p' | tr '\n' ' ')

die() { printf 'warrenctl images: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: build.sh NAME [--force] (NAME: $recipes)"
name=$1
force=${2:-}
case " $recipes " in
*" $name "*) ;;
*) die "no image recipe '$name' (there are: $recipes)" ;;
esac
case $force in
"" | --force | --status | --cache-only) ;;
*) die "unknown option $force" ;;
esac

# shellcheck source=/dev/null
. "$here/$name.recipe"
IMAGE_TAG=${WARREN_IMAGE_TAG:-$IMAGE_TAG}
# (Quoted throughout: the tree may live under a path with spaces.)
key=$({
	cat "$here/build.sh" "$here/$name.recipe"
	[ ! -f "$here/$name.sh" ] || cat "$here/$name.sh"
} | sha256sum | cut -c1-16)

cached=${WARREN_IMAGE_CACHE:+$WARREN_IMAGE_CACHE/$name-$key.tar}
export SOURCE_DATE_EPOCH=1733184000

need_root() {
	[ "$(id -u)" = 0 ] ||
	    die "building $name needs root (mmdebstrap makes a root file system)"
}

# The root file system of this recipe at $1: from the cache when it has it
# (unless --force), else built (and kept in the cache when there is one).
rootfs() {
	if [ -n "$cached" ] && [ -s "$cached" ] && [ "$force" != --force ]; then
		echo "$name: the root file system of recipe $key from $WARREN_IMAGE_CACHE" >&2
		[ "$1" = "$cached" ] || ln -s "$cached" "$1"
		return 0
	fi
	need_root
	[ -z "$cached" ] || mkdir -p "$WARREN_IMAGE_CACHE"
	echo "$name: building the root file system of $IMAGE_TAG (recipe $key)" >&2
	image_rootfs "$1.partial" || {
		rm -f "$1.partial"
		die "$name: the root file system could not be built"
	}
	mv "$1.partial" "$1"
	[ -n "$cached" ] || return 0
	# Kept by recipe: the older ones of this image go.
	for old in "$WARREN_IMAGE_CACHE/$name"-*.tar; do
		[ "$old" = "$cached" ] || rm -f "$old"
	done
	if [ "$1" != "$cached" ]; then
		cp "$1" "$cached.tmp" && mv "$cached.tmp" "$cached"
	fi
}

if [ "$force" = --cache-only ]; then
	[ -n "$cached" ] || die "--cache-only needs WARREN_IMAGE_CACHE"
	mkdir -p "$WARREN_IMAGE_CACHE"
	rootfs "$cached"
	exit 0
fi

command -v docker >/dev/null || die "the docker command is missing (Debian package docker.io)"
have=$(docker image inspect -f '{{index .Config.Labels "warren.recipe"}}' \
    "$IMAGE_TAG" 2>/dev/null || true)
if [ "$force" = --status ]; then
	case $have in
	"$key") state="built, up to date" ;;
	"") state="not built" ;;
	*) state="outdated (built from recipe $have)" ;;
	esac
	printf '%-12s %-24s %s\n' "$name" "$IMAGE_TAG" "$state"
	exit 0
fi
if [ "$have" = "$key" ] && [ "$force" != --force ]; then
	echo "$name: $IMAGE_TAG is up to date (recipe $key)"
	exit 0
fi
start=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
rootfs "$tmp/rootfs.tar"
echo "$name: importing $(du -mL "$tmp/rootfs.tar" | cut -f1) MB into Docker as $IMAGE_TAG" >&2
image_import "$tmp/rootfs.tar" "$IMAGE_TAG" "$key" >/dev/null ||
    die "$name: docker import failed"
echo "$name: $IMAGE_TAG built in $(($(date +%s) - start)) s (recipe $key)"
