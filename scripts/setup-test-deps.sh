#!/usr/bin/env bash
# Installs the system tools the tests use, when missing (Debian packages). Idempotent; quiet when satisfied.
set -euo pipefail
need=()
command -v getfattr >/dev/null || need+=(attr)
command -v getcap >/dev/null || need+=(libcap2-bin)
command -v mkfifo >/dev/null || need+=(coreutils)
# Real DNS peers (BIND 9, dig, nsupdate), network namespaces and gratuitous ARP for the discovery tests.
command -v named >/dev/null || need+=(bind9)
command -v dig >/dev/null || need+=(bind9-dnsutils)
command -v ip >/dev/null || need+=(iproute2)
command -v arping >/dev/null || need+=(iputils-arping)
# A real Prometheus scrapes the daemon's /metrics in the daemon tests (the tests start their own on loopback).
command -v prometheus >/dev/null || need+=(prometheus)
# PostgreSQL server binaries (the tests make their own clusters in temp folders, run as the postgres user).
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql postgresql-contrib)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "tests need: ${need[*]} (run as root or install them)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  # Debian would make and start a default cluster; the tests want none.
  if [[ " ${need[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf
  fi
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
