"""Celery's task discovery point: importing each package's tasks registers them with every worker.

Each task's name is pinned with `name=` to the module it lived in before the packages were split,
so messages already queued and the beat schedule (settings.CELERY_BEAT_SCHEDULE) survive the moves.
"""

from contacts.alerts import queues as alert_queues  # noqa: F401 - check_queue_alerts (beat)
from contacts.cce import tasks as cce_tasks  # noqa: F401 - submit, route, cancel, renotify, sweep, reconcile
from contacts.figures import tasks as figure_tasks  # noqa: F401 - fold_tallies, check_tallies (beat)
from contacts.live import broadcast  # noqa: F401 - send_heartbeat (beat)
from contacts.notify import delivery, rules  # noqa: F401 - send_delivery, check_notifications (beat)
from contacts.workflows import jobs, retention  # noqa: F401 - bulk jobs (run, resume), the retention purge
