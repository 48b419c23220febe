"""The mock Unified CCE: configured only through its models (admin), driven by the Celery tasks.

Its narrow interface (DESIGN invariant 6):
    decisions.decide(contact)   what the CCE would do with the contact if submitted now (no side effects)
    actions.submit / cancel / renotify / sweep   the moves a submission, a cancel, a renotify and time make
    routing.route(mrd_id)       hand an MRD's queued contacts to free agent slots, first in, first out
    throttle                    admission under the rate limit; the backlog drains in arrival order
    recovery                    MR PG connection down/up and "simulate CCP restart" (admin actions)
    reconcile.reconcile()       redo what a killed worker or a restarted broker lost (Celery beat)
    tasks, followups            the Celery tasks (ids in), and what each new position enqueues after commit
Every move goes through `contacts.core.lifecycle.transition`; every timed event is a due time in the database.
The one import loop of the app is inside this package, and is its own business: the tasks call routing and
the actions, and routing enqueues the next routing task (`routing.route_after_commit`, a function-level import).
"""
