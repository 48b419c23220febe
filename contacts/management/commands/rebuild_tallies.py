"""Recount the figures' move tallies from the transitions (contacts.figures.tallies.rebuild)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from contacts.figures import tallies


class Command(BaseCommand):
    help = ("Recount the move tallies the dashboard's figures read, from the Transition rows: all of them, or "
            "the last --days. Safe while the system runs; the periodic check does it for today by itself.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=float, default=None, help="recount only the last DAYS (default: all)")

    def handle(self, *args, days: float | None = None, **options) -> None:
        start = timezone.now() - timedelta(days=days) if days is not None else None
        written = tallies.rebuild(start)
        self.stdout.write(f"Move tallies recounted{f' for the last {days:g} days' if days is not None else ''}: "
                          f"{written:,} rows written before folding.")
