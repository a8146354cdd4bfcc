#!/usr/bin/env bash
# Restore a dump made by scripts/backup.sh into an EMPTY database.
#   scripts/restore.sh DUMP_FILE [DATABASE_URL]
# The target: the DATABASE_URL argument, else $DATABASE_URL, else libpq's PG* variables. PG_BIN: where the
# PostgreSQL client programs are. It refuses a database that already has tables: create a fresh one
# (createdb) and point the app at it after checking the restore.
set -euo pipefail

dump=${1:?usage: restore.sh DUMP_FILE [DATABASE_URL]}
url=${2:-${DATABASE_URL:-}}
bin=${PG_BIN:+$PG_BIN/}

[ -f "$dump" ] || { echo "restore: no such file: $dump" >&2; exit 2; }
"${bin}pg_restore" --list "$dump" >/dev/null || { echo "restore: $dump is not a pg_dump archive" >&2; exit 2; }

tables=$("${bin}psql" ${url:+"$url"} -XAtq -v ON_ERROR_STOP=1 \
  -c "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
if [ "$tables" != "0" ]; then
  echo "restore: the target database already has $tables tables; restore into a fresh, empty database" >&2
  exit 3
fi

# One transaction: a restore that fails half-way leaves the database empty, not half-filled.
"${bin}pg_restore" --no-owner --no-privileges --exit-on-error --single-transaction \
  --dbname="${url:-${PGDATABASE:?set DATABASE_URL or PGDATABASE}}" "$dump"
echo "restore: $dump restored"
