#!/usr/bin/env bash
# Run a command with private PostgreSQL and Redis servers (and Chromium installed), then stop them.
# Installs Debian's postgresql, redis-server and chromium when missing and we are root.
set -euo pipefail

need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "with-test-services: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root." >&2
    exit 1
  fi
  echo "with-test-services: installing ${need[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run_dir=$(mktemp -d /tmp/proxyreseller-test.XXXXXX)
chmod 755 "$run_dir"
pg_port=$(free_port)
redis_port=$(free_port)
pg_data="$run_dir/pg"
pg_pid_file="$pg_data/postmaster.pid"
redis_pid_file="$run_dir/redis.pid"

cleanup() {
  status=$?
  if [ -f "$redis_pid_file" ]; then kill "$(cat "$redis_pid_file")" 2>/dev/null || true; fi
  if [ -f "$pg_pid_file" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || kill "$(head -n 1 "$pg_pid_file")" 2>/dev/null || true
  fi
  rm -rf "$run_dir"
  exit $status
}
trap cleanup EXIT INT TERM

# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$run_dir"; fi

as_postgres "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -l "$run_dir/pg.log" -w start \
  -o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c listen_addresses=127.0.0.1 -p $pg_port -k $run_dir" >/dev/null
"$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -q -v ON_ERROR_STOP=1 \
  -c "CREATE ROLE app LOGIN PASSWORD 'app' CREATEDB" -c "CREATE DATABASE app OWNER app" >/dev/null
echo "with-test-services: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"

redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
  --pidfile "$redis_pid_file" --logfile "$run_dir/redis.log" --dir "$run_dir"
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null
echo "with-test-services: Redis $(redis-server --version | awk '{print $3}') on 127.0.0.1:$redis_port"

export DATABASE_URL="postgres://app:app@127.0.0.1:$pg_port/app"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
export CELERY_BROKER_URL="$REDIS_URL"
export CELERY_RESULT_BACKEND="redis://127.0.0.1:$redis_port/1"
export CHROMIUM_PATH=/usr/bin/chromium
# Persistent connections from live-server threads would keep the test database busy at teardown.
export CONN_MAX_AGE=0
export REQUIRE_TEST_SERVICES=1

"$@"
