"""The queues' KPIs as the API answers them: the catalogue's figures per MRD with the KPI panel's levels.

Values are `compute.queue_figures`' (the dashboard's panel and /metrics read the same); each MRD's level of
each panel figure is `kpis.level` against its alert rule, and the total's is the worst of the MRDs', as the
panel colours it.
"""

from __future__ import annotations

from datetime import datetime

from contacts.alerts.models import QueueAlertRule
from contacts.cce.models import MediaRoutingDomain
from contacts.dashboard.kpis import KEYS, LEVELS, level
from contacts.figures import compute
from contacts.figures.catalogue import TOTAL, UNKNOWN_MRD


def queue_rows(now: datetime) -> dict:
    """{"queues": [{mrd, name, figures, levels}], UNKNOWN_MRD: figures, TOTAL: {figures, levels}}."""
    rows = compute.queue_figures(now)
    names = dict(MediaRoutingDomain.objects.values_list("id", "name"))
    rules = {rule.mrd_id: rule for rule in QueueAlertRule.objects.all()}
    queues = [
        {"mrd": mrd_id, "name": names.get(mrd_id, ""), "figures": values,
         "levels": {key: level(key, values[key], rules.get(mrd_id)) for key in KEYS}}
        for mrd_id, values in rows.items() if isinstance(mrd_id, int)
    ]
    worst = {key: LEVELS[max((LEVELS.index(q["levels"][key]) for q in queues), default=0)] for key in KEYS}
    return {"queues": queues, UNKNOWN_MRD: rows[UNKNOWN_MRD], TOTAL: {"figures": rows[TOTAL], "levels": worst}}
