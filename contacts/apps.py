"""App configuration; keeps the role groups in place after every migrate and test flush."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from . import roles

        # post_migrate also fires after the flush that TransactionTestCase does between tests,
        # so the groups survive it without every test re-creating them.
        post_migrate.connect(roles.ensure_role_groups_after_migrate, sender=self)
