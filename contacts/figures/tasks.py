"""Beat's work on the move tallies: fold recent periods, and check today's against a recount."""

from __future__ import annotations

from celery import shared_task

from . import tallies


@shared_task(name="contacts.figures.fold_tallies", ignore_result=True)
def fold_tallies() -> None:
    """Merge each recent period's delta rows (tallies.fold). A late run is simply the next fold: never retried."""
    tallies.fold()


@shared_task(name="contacts.figures.check_tallies", ignore_result=True)
def check_tallies() -> int:
    """Compare today's tallies with a recount and rebuild today if they differ (tallies.check)."""
    return tallies.check()
