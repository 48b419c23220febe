"""The figures at scrape time: the catalogue's figures per MRD, contacts in play, today's discards, Celery's queues.

Each scrape reads what the dashboard reads: `compute.queue_figures()` (five grouped queries over the
contacts in the queue, the agents and the move tallies) and two more of the same kind, so its cost
follows the number of MRDs, agents and tally periods, never the number of stored contacts. Series are
named after the catalogue's figures: `ccpdash_<key>[_<unit>][_today]`, the help text its label and
window. MRD labels are the configured MRD ids and "unknown" (catalogue.UNKNOWN_MRD); the total row is
left to PromQL's sum(), except for the figures that exist only in total (the throttle backlog).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from celery import current_app
from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone
from kombu.exceptions import OperationalError
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import RedisError

from contacts.core.lifecycle import DISCARD_REASONS, IN_PLAY_STATES, Kind, State
from contacts.core.models import Contact
from contacts.figures import catalogue, compute, tallies
from contacts.figures.catalogue import TOTAL, UNKNOWN_MRD, Figure

log = logging.getLogger(__name__)

QUEUES = ("LIVE_QUEUE", "ROUTING_QUEUE", "PERIODIC_QUEUE", "BULK_QUEUE")


def metric_name(figure: Figure) -> str:
    """ccpdash_waiting_contacts, ccpdash_longest_wait_seconds, ccpdash_handled_contacts_today, ccpdash_ready_agents."""
    name = f"ccpdash_{figure.key}"
    if not figure.key.endswith(figure.unit):
        name += f"_{figure.unit}"
    if figure.window is catalogue.TODAY:
        name += "_today"
    return name


class FiguresCollector(Collector):
    """Reads the database's figures and the broker's queues each time a registry collects it."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        rows = compute.queue_figures(now)
        buckets = [bucket for bucket in rows if bucket != TOTAL]
        yield from figure_families(rows)
        yield contacts_in_play(buckets)
        yield discards_today(buckets, now)
        yield from celery_queues()


def figure_families(rows: dict) -> Iterator[GaugeMetricFamily]:
    """One gauge per figure of the catalogue; a figure without a value (no wait, nothing left the queue) has no
    sample for that MRD, as the dashboard shows none."""
    for figure in catalogue.FIGURES:
        help_text = f"{figure.label} ({figure.unit}, {catalogue.window_text(figure)}): catalogue figure {figure.key}."
        if not figure.per_mrd:
            yield GaugeMetricFamily(metric_name(figure), help_text, value=rows[TOTAL][figure.key])
            continue
        family = GaugeMetricFamily(metric_name(figure), help_text, labels=["mrd"])
        for bucket, row in rows.items():
            if bucket != TOTAL and row[figure.key] is not None:
                family.add_metric([str(bucket)], row[figure.key])
        yield family


def _bucket_of(mrd_id: int | None, buckets: list) -> str:
    return str(mrd_id if mrd_id in buckets else UNKNOWN_MRD)


def contacts_in_play(buckets: list) -> GaugeMetricFamily:
    """Contacts not finished yet, by kind, state and MRD: one grouped count over the in-play states, whose
    (state, reason) index holds only the live work. Finished contacts pile up for RETENTION_DAYS and are
    counted as moves instead (ccpdash_transitions_total, the *_today figures, ccpdash_discards_today)."""
    counts = {(kind, state, bucket): 0 for kind in Kind.values for state in IN_PLAY_STATES
              for bucket in map(str, buckets)}  # fmt: skip
    grouped = (
        Contact.objects.filter(state__in=IN_PLAY_STATES)
        .order_by()
        .values("kind", "state", "cce_mrd_id")
        .annotate(n=Count("id"))
    )
    for item in grouped:
        counts[(item["kind"], item["state"], _bucket_of(item["cce_mrd_id"], buckets))] += item["n"]
    family = GaugeMetricFamily("ccpdash_contacts", "Contacts in play (unread, queued, reserved) now, by kind, state "
                               "and MRD (the MRD the CCE gave them; unknown before that).",
                               labels=["kind", "state", "mrd"])  # fmt: skip
    for labels, count in counts.items():
        family.add_metric(list(labels), count)
    return family


def discards_today(buckets: list, now) -> GaugeMetricFamily:
    """Moves into discarded since midnight by discard code and MRD, from the move tallies as the figures count
    them: the error codes add up to the discarded figure, the two CANCEL_SUCCEEDED codes to cancelled."""
    figure = catalogue.BY_KEY["discarded"]
    counts = {(bucket, reason): 0 for bucket in map(str, buckets) for reason in DISCARD_REASONS}
    grouped = (
        tallies.tallied(tallies.minute_of(figure.window.start(now)))
        .filter(to_state=State.DISCARDED, period_start__lt=now)
        .order_by()
        .values("mrd_id", "to_reason")
        .annotate(n=Sum("count"))
    )  # fmt: skip
    for item in grouped:
        counts[(_bucket_of(item["mrd_id"], buckets), item["to_reason"])] += item["n"]
    family = GaugeMetricFamily("ccpdash_discards_today", "Moves into discarded "
                               f"({catalogue.window_text(figure)}), by MRD and discard code (spec §2).",
                               labels=["mrd", "reason"])  # fmt: skip
    for labels, count in counts.items():
        family.add_metric(list(labels), count)
    return family


def celery_queues() -> Iterator[GaugeMetricFamily]:
    """Messages waiting in each Celery queue, from the broker, and whether the broker answered this scrape."""
    try:
        depths = queue_depths()
    except (OSError, OperationalError, RedisError):  # the database's figures are still worth a scrape
        log.warning("the Celery broker did not answer the metrics scrape", exc_info=True)
        depths = None
    yield GaugeMetricFamily("ccpdash_celery_broker_up", "1 if the Celery broker answered this scrape, else 0 (and "
                            "no ccpdash_celery_queue_messages).", value=0 if depths is None else 1)  # fmt: skip
    if depths is not None:
        family = GaugeMetricFamily("ccpdash_celery_queue_messages", "Messages waiting in the Celery queue, not yet "
                                   "taken by a worker.", labels=["queue"])  # fmt: skip
        for name, count in depths.items():
            family.add_metric([name], count)
        yield family


def queue_depths() -> dict[str, int]:
    with current_app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)
        channel = connection.default_channel
        # Not passive: a passive declare refuses a queue no worker has bound yet; this one only counts.
        return {name: channel.queue_declare(queue=name).message_count
                for name in (getattr(settings, setting) for setting in QUEUES)}
