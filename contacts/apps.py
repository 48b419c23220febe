"""App configuration: wires the packages above the core into it, and keeps the role groups after every migrate."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from contacts.cce import config_changes, followups
        from contacts.core import health, lifecycle, permissions
        from contacts.dashboard import snapshots
        from contacts.figures import tallies
        from contacts.live import access, broadcast, hub
        from contacts.metrics import instruments
        from contacts.workflows import audit

        # After every committed move: push it to the dashboards, then enqueue the work its new
        # position calls for. The core calls these hooks and never imports their packages.
        # Inside every moving transaction: the figures' rollups, so they commit with the move.
        lifecycle.register_recorder(tallies.record)
        lifecycle.register_after_commit(broadcast.after_transition)
        lifecycle.register_after_commit(followups.after_transition, batch=followups.after_transitions)
        # Counted after commit, so a rolled-back move never shows in ccpdash_transitions_total.
        lifecycle.register_after_commit(instruments.count_transition, batch=instruments.count_transitions)
        # Configuration changes made in the Django admin go into the audit log.
        config_changes.register_recorder(audit.record_config_change)
        # What the web processes' hubs push to every dashboard once a second.
        hub.register_snapshot_producer(snapshots.push_snapshots)
        # An open socket is cut off the moment its user loses access (deactivated, removed from a group...).
        access.connect()
        # post_migrate also fires after the flush that TransactionTestCase does between tests,
        # so the groups survive it without every test re-creating them.
        post_migrate.connect(permissions.ensure_role_groups_after_migrate, sender=self)
        # Every process says what it may hold of PostgreSQL's connections (README "Database connections").
        health.log_database_connections()
