"""The dashboard's charts of the last hour, by minute, from the move tallies (`contacts.figures.tallies`).

Per configured MRD: contacts queued and reserved at the end of each minute, and contacts handled and
discarded during it; over all MRDs: discards per minute by reason. Successful cancels are not discards
(the figure catalogue's "cancelled") and count in neither. Counts come from GROUP BY queries over the
hour's tallies (a row per minute and kind of move, whatever the traffic) and the contacts now in
flight, so the work follows the screen and the queues' size, never the number of contacts ever stored
or the hour's traffic. A contact counts in the MRD it has now.

How "queued at the end of minute m" is found without a snapshot per minute: the number in the state
now, minus the moves into it after m, plus the moves out of it after m.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from contacts.cce.models import MediaRoutingDomain
from contacts.core.lifecycle import CANCEL_SUCCEEDED, State
from contacts.core.models import Contact
from contacts.figures import tallies
from contacts.live import broadcast

MINUTES = 60
LEVELS = (State.QUEUED, State.RESERVED)  # counted at the end of each minute
FLOWS = (State.HANDLED, State.DISCARDED)  # counted as moves into the state during each minute


def window(now: datetime) -> tuple[datetime, datetime]:
    """[start, end): the last MINUTES whole minutes, the current (unfinished) minute the last of them."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return end - timedelta(minutes=MINUTES), end


def hour_series(now: datetime | None = None) -> dict:
    """The charts' data: minute starts (Unix seconds), per-MRD series, discards by reason, the newest id read."""
    now = now or timezone.now()
    last_id = broadcast.latest_transition_id()  # read first: the series include at least this much
    start, _ = window(now)
    minutes = [start + timedelta(minutes=i) for i in range(MINUTES)]
    return {
        "minutes": [int(minute.timestamp()) for minute in minutes],
        "last_id": last_id,
        "mrds": mrd_series(start),
        "discards": discard_series(start),
    }


def _index(start: datetime, minute: datetime) -> int:
    return int((minute - start).total_seconds() // 60)


def empty(states: tuple[str, ...]) -> dict[str, list[int]]:
    return {state: [0] * MINUTES for state in states}


def mrd_series(start: datetime) -> list[dict]:
    """A chart per configured MRD. Contacts whose MRD id the configuration lacks (a notification naming 9999)
    get none: they are counted in the discards-by-reason chart and in the KPI panel's "MRD not configured"."""
    names = dict(MediaRoutingDomain.objects.values_list("id", "name"))
    flows, net = minute_moves(start)
    now_counts = in_flight()
    series = {mrd_id: {**empty(LEVELS), **flows.get(mrd_id, empty(FLOWS))}
              for mrd_id in {*flows, *now_counts} if mrd_id in names}
    for mrd_id, states in series.items():
        for state in LEVELS:
            level = now_counts.get(mrd_id, {}).get(state, 0)
            changes = net.get(mrd_id, empty(LEVELS))[state]
            for i in range(MINUTES - 1, -1, -1):  # walk back from now: undo each minute's moves
                states[state][i] = max(0, level)
                level -= changes[i]
    return [
        {"mrd": mrd_id, "label": " · ".join(filter(None, [f"MRD {mrd_id}", names.get(mrd_id)])), "series": states}
        for mrd_id, states in sorted(series.items())
    ]


def minute_moves(start: datetime) -> tuple[dict, dict]:
    """Per MRD and minute: moves into handled/discarded (flows), and into minus out of queued/reserved (net)."""
    rows = (
        tallies.tallied(start).filter(mrd_id__isnull=False)
        .order_by()
        .values("period_start", "mrd_id", "from_state", "to_state", "to_reason")
        .annotate(n=Sum("count"))
    )  # fmt: skip
    flows: dict[int, dict[str, list[int]]] = {}
    net: dict[int, dict[str, list[int]]] = {}
    for row in rows:
        mrd_id, i, n = row["mrd_id"], _index(start, row["period_start"]), row["n"]
        if not 0 <= i < MINUTES:
            continue
        flows.setdefault(mrd_id, empty(FLOWS))
        changes = net.setdefault(mrd_id, empty(LEVELS))
        if row["to_state"] in FLOWS and row["to_reason"] not in CANCEL_SUCCEEDED:  # a cancel is not a discard
            flows[mrd_id][row["to_state"]][i] += n
        if row["to_state"] in LEVELS:
            changes[row["to_state"]][i] += n
        if row["from_state"] in LEVELS:
            changes[row["from_state"]][i] -= n
    return flows, net


def in_flight() -> dict[int, dict[str, int]]:
    """Per MRD: contacts queued and reserved now (bounded by the queues, not by history)."""
    rows = (
        Contact.objects.filter(state__in=LEVELS, cce_mrd_id__isnull=False)
        .order_by()
        .values("cce_mrd_id", "state")
        .annotate(n=Count("id"))
    )
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["cce_mrd_id"], {})[row["state"]] = row["n"]
    return counts


def discard_series(start: datetime) -> list[dict]:
    """Discards per minute by reason code; successful cancels are not discards and are left out."""
    rows = (
        tallies.tallied(start).filter(to_state=State.DISCARDED).exclude(to_reason__in=CANCEL_SUCCEEDED)
        .order_by()
        .values("period_start", "to_reason")
        .annotate(n=Sum("count"))
    )  # fmt: skip
    counts: dict[str, list[int]] = {}
    for row in rows:
        i = _index(start, row["period_start"])
        if 0 <= i < MINUTES and row["n"]:
            counts.setdefault(row["to_reason"], [0] * MINUTES)[i] += row["n"]
    return [{"reason": reason, "counts": values} for reason, values in sorted(counts.items())]
