#!/usr/bin/env bash
# Dump the PostgreSQL database into BACKUP_DIR (pg_dump's custom format, restorable with scripts/restore.sh)
# and delete the dumps older than BACKUP_KEEP_DAYS.
#   scripts/backup.sh            make one dump now
#   scripts/backup.sh --check    exit 1 unless a dump younger than BACKUP_MAX_AGE_SECONDS exists (healthcheck)
# The database: DATABASE_URL, or libpq's PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE. PG_BIN: where pg_dump is.
set -euo pipefail

dir=${BACKUP_DIR:-./backups}
keep_days=${BACKUP_KEEP_DAYS:-14}
max_age=${BACKUP_MAX_AGE_SECONDS:-$((2 * ${BACKUP_INTERVAL_SECONDS:-86400}))}
pg_dump=${PG_BIN:+$PG_BIN/}pg_dump

if [ "${1:-}" = "--check" ]; then
  newest=$(find "$dir" -maxdepth 1 -name '*.dump' -newermt "@$(($(date +%s) - max_age))" -print -quit 2>/dev/null || true)
  if [ -z "$newest" ]; then
    echo "backup: no dump younger than ${max_age}s in $dir" >&2
    exit 1
  fi
  echo "backup: newest recent dump $newest"
  exit 0
fi

case "$keep_days" in '' | *[!0-9]* | 0) echo "backup: BACKUP_KEEP_DAYS must be a whole number of days, 1 or more" >&2; exit 2 ;; esac

mkdir -p "$dir"
name=${PGDATABASE:-database}
if [ -n "${DATABASE_URL:-}" ]; then
  name=${DATABASE_URL##*/}
  name=${name%%\?*}
fi
target="$dir/$name-$(date -u +%Y%m%dT%H%M%SZ).dump"
# Written under another name first: a file ending in .dump is always a complete dump.
"$pg_dump" --format=custom --no-owner --no-privileges ${DATABASE_URL:+--dbname="$DATABASE_URL"} --file="$target.partial"
mv "$target.partial" "$target"
echo "backup: wrote $target ($(du -h "$target" | cut -f1))"

# Retention: only whole dumps older than the window go; a failed run above never reaches this.
find "$dir" -maxdepth 1 -name '*.dump' -mmin +$((keep_days * 24 * 60)) -print -delete | sed 's/^/backup: removed /'
find "$dir" -maxdepth 1 -name '*.dump.partial' -mmin +60 -delete
