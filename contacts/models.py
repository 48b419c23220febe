"""Django's model discovery point: every model of the contacts app, imported from the package that owns it.

All of them keep the `contacts` app label (and their tables and migrations); code imports a model from
its own package (`contacts.core.models`, `contacts.cce.models`, ...), never from here.
"""

from contacts.alerts.models import AlertAcknowledgement, QueueAlert, QueueAlertRule  # noqa: F401
from contacts.cce.models import (  # noqa: F401
    AdmissionClaim,
    Agent,
    AgentAssignment,
    CceSettings,
    DialedNumber,
    MediaRoutingDomain,
    RoutingDue,
    RoutingScript,
)
from contacts.core.models import Contact, Feed, FeedNotification, Transition  # noqa: F401
from contacts.figures.models import MoveTally  # noqa: F401
from contacts.notify.models import (  # noqa: F401
    NotificationChannel,
    NotificationDelivery,
    NotificationRule,
    NotificationRuleState,
)
from contacts.readapi.models import ApiToken  # noqa: F401
from contacts.wall.models import WallBoardLink  # noqa: F401
from contacts.workflows.models import AuditEntry, BulkJob, ResubmitClaim  # noqa: F401
