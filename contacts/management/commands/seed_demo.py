"""Create, or restore to its documented values, the demo configuration and the demo users."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from contacts.demo import seed


class Command(BaseCommand):
    help = "Create or restore the demo users, feeds and mock contact-center configuration."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            seed.seed_feeds()
            seed.seed_cce()
            seed.seed_queue_rules()
            users = seed.seed_users()
        self.stdout.write("Demo configuration restored. Logins (username / password, role):")
        for username, password, role in users:
            self.stdout.write(f"  {username} / {password}  ({role})")
