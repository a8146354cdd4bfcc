"""`manage.py check_heartbeat beat|worker`: exit 1 when that heartbeat is stale (a container healthcheck)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ops import heartbeats


class Command(BaseCommand):
    help = "Exit with status 1 when the named heartbeat (beat or worker) is older than HEARTBEAT_STALE_SECONDS."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", choices=heartbeats.WATCHED)

    def handle(self, *args, name: str, **options) -> None:
        seen_at = heartbeats.heartbeats_seen((name,))[name]
        if heartbeats.is_stale(seen_at):
            raise CommandError(f"{name} heartbeat is stale (last seen: {seen_at.isoformat() if seen_at else 'never'})")
        self.stdout.write(f"{name} seen at {seen_at.isoformat()}")
