"""Django's admin discovery point: importing each package's admin module registers its models."""

from contacts.alerts import admin as alerts_admin  # noqa: F401 - queue alert rules and the alerts they raised
from contacts.cce import admin as cce_admin  # noqa: F401 - the mock CCE's configuration
from contacts.core import admin as core_admin  # noqa: F401 - feeds, notifications, transitions
from contacts.notify import admin as notify_admin  # noqa: F401 - channels, rules, the delivery log
from contacts.readapi import admin as readapi_admin  # noqa: F401 - personal API tokens
from contacts.wall import admin as wall_admin  # noqa: F401 - the wall boards' view-only links
from contacts.workflows import admin as workflows_admin  # noqa: F401 - contacts with their actions, jobs, audit
