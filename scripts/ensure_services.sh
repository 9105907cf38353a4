#!/usr/bin/env bash
# Make sure the Postgres and Redis the tests use answer, start whichever is down, and create
# the test database. Point elsewhere with TEST_DATABASE_URL / TEST_REDIS_URL (then nothing is
# started here).
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-postgres}
TEST_DB=${TEST_DB:-retraining_test}
REDIS_PORT=${REDIS_PORT:-6379}

wait_for() {  # wait_for <what> <command...>
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "ensure_services: $what does not answer" >&2
  return 1
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! pg_isready -h "$PG_HOST" -p "$PG_PORT" -q; then
    echo "ensure_services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  fi
  wait_for PostgreSQL pg_isready -h "$PG_HOST" -p "$PG_PORT" -q
  if ! psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -tAc \
      "SELECT 1 FROM pg_database WHERE datname='$TEST_DB'" | grep -q 1; then
    createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$TEST_DB"
  fi
fi

if [ -z "${TEST_REDIS_URL:-}" ]; then
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "ensure_services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no
  fi
  wait_for Redis redis-cli -p "$REDIS_PORT" ping
fi
echo "ensure_services: PostgreSQL and Redis answer"
