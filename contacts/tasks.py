"""Celery tasks that drive contacts through the mock CCE: thin, idempotent, ids in."""

from __future__ import annotations

from celery import shared_task


@shared_task
def submit_contact(contact_id: int) -> None:
    """Placeholder until the mock CCE lands: submission is not implemented yet."""


@shared_task
def cancel_contact(contact_id: int) -> None:
    """Placeholder until the mock CCE lands: cancel is not implemented yet."""


@shared_task
def renotify_contact(contact_id: int) -> None:
    """Placeholder until the mock CCE lands: renotify is not implemented yet."""
