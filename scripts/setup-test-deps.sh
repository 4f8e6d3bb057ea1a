#!/usr/bin/env bash
# Installs the system tools the tests use, when missing (Debian packages). Idempotent; quiet when satisfied.
set -euo pipefail
need=()
command -v getfattr >/dev/null || need+=(attr)
command -v getcap >/dev/null || need+=(libcap2-bin)
command -v mkfifo >/dev/null || need+=(coreutils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "tests need: ${need[*]} (run as root or install them)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
