#!/usr/bin/env bash
# A small but complete Debian root file system for the "entire system" test, made once and cached.
# It has what a real root has: setuid binaries, a file capability (ping's cap_net_raw), device nodes in
# /dev, hard links, symlinks, many owners and modes. Prints the folder.
set -euo pipefail
cache=${LIFEBOAT_TEST_CACHE:-/var/cache/lifeboat-test}
dir=$cache/rootfs-bookworm
if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi
if ! command -v debootstrap >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq debootstrap >/dev/null
fi
rm -rf "$dir"
mkdir -p "$cache"
debootstrap --variant=minbase --include=iputils-ping,libcap2-bin bookworm "$dir" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 || {
  echo "debootstrap failed; see $cache/debootstrap.log" >&2; exit 1; }
# Make sure there are device nodes and an xattr beyond the capability, whatever debootstrap did.
[ -e "$dir/dev/null" ] || mknod -m 666 "$dir/dev/null" c 1 3
[ -e "$dir/dev/loop7" ] || mknod -m 660 "$dir/dev/loop7" b 7 7
[ -p "$dir/run/initctl-test" ] || mkfifo -m 600 "$dir/run/initctl-test"
setcap cap_net_raw+ep "$dir/usr/bin/ping"
rm -rf "$dir/var/cache/apt/archives"/*.deb
touch "$dir/.complete"
echo "$dir"
