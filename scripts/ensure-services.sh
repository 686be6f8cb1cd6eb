#!/usr/bin/env bash
# Make sure the servers the tests talk to are up: PostgreSQL and Redis on 127.0.0.1 (started when
# installed but stopped, installed with apt-get when missing), Chromium for the admin tests and
# Pango for WeasyPrint (the weekly report's PDF), wrk for the HTTP benchmarks.
# Skips a server whose HERALD_TEST_*_URL points somewhere other than this machine.
set -uo pipefail

say() { printf 'ensure-services: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else say "need root for: $*"; return 1; fi; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null 2>&1
}

pg_url=${HERALD_TEST_DATABASE_URL:-postgresql://root@127.0.0.1:5432/test}
redis_url=${HERALD_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

ensure_postgres() {
  case "$pg_url" in *@127.0.0.1*|*@localhost*|*//127.0.0.1*|*//localhost*) ;; *) return 0 ;; esac
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    say "installing PostgreSQL"
    apt_install postgresql postgresql-client || { say "could not install PostgreSQL"; return 1; }
  fi
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  if [ -z "$version" ]; then say "no PostgreSQL cluster found"; return 1; fi
  local hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q "herald-tests" "$hba" 2>/dev/null; then
    # trust on loopback only, as the tests' default URL expects; first match wins in pg_hba
    as_root sed -i '1i host all all 127.0.0.1/32 trust # herald-tests\nhost all all ::1/128 trust # herald-tests' "$hba"
  fi
  say "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || as_root pg_ctlcluster "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  as_root su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='root'\" | grep -q 1 || psql -qc 'CREATE ROLE root SUPERUSER LOGIN'" >/dev/null 2>&1 || true
  as_root su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='test'\" | grep -q 1 || psql -qc 'CREATE DATABASE test OWNER root'" >/dev/null 2>&1 || true
  pg_isready -q -h 127.0.0.1 -p 5432
}

ensure_redis() {
  case "$redis_url" in *127.0.0.1*|*localhost*) ;; *) return 0 ;; esac
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    say "installing Redis"
    apt_install redis-server || { say "could not install Redis"; return 1; }
  fi
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || \
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  say "installing Chromium (for the admin's browser tests)"
  apt_install chromium || say "could not install Chromium: browser tests will be skipped"
  return 0
}

ensure_pango() {
  # WeasyPrint (the weekly report as PDF) loads Pango from the system
  if ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then return 0; fi
  say "installing Pango (for the weekly report's PDF)"
  apt_install libpango-1.0-0 libpangoft2-1.0-0 || say "could not install Pango: PDF tests will be skipped"
  return 0
}

ensure_wrk() {
  if command -v wrk >/dev/null 2>&1; then return 0; fi
  say "installing wrk (the benchmarks' HTTP load generator)"
  apt_install wrk || say "could not install wrk: the HTTP benchmarks will fail"
  return 0
}

status=0
ensure_postgres || { say "PostgreSQL is not reachable at 127.0.0.1:5432"; status=1; }
ensure_redis || { say "Redis is not reachable at 127.0.0.1:6379"; status=1; }
ensure_chromium
ensure_pango
ensure_wrk
exit $status
