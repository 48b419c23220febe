"""The demo configuration that `manage.py seed_demo` restores: users, feeds and their notifications."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from . import roles
from .models import Feed, FeedNotification, FeedType

# username, password, role group (None: superuser). Printed by `make run`.
DEMO_USERS = [
    ("superuser", "superuser", None),
    ("admin", "admin", roles.ADMINS),
    ("supervisor", "supervisor", roles.SUPERVISORS),
]

# feed id -> (name, type, notification (MRD id, script selector) or None)
DEMO_FEEDS = {
    100: ("Web tasks", FeedType.TASK, None),
    200: ("Callbacks", FeedType.CALLBACK, (1, "CallbackDN")),
    201: ("Callbacks, broken notification", FeedType.CALLBACK, (9999, "CallbackDN")),
}


def seed_users() -> list[tuple[str, str, str]]:
    """Create or reset the demo users; returns (username, password, role) for printing."""
    roles.ensure_role_groups()
    user_model = get_user_model()
    printed = []
    for username, password, group_name in DEMO_USERS:
        user, _ = user_model.objects.get_or_create(username=username)
        user.is_superuser = group_name is None
        # Admins configure the contact center in the Django admin; supervisors only watch.
        user.is_staff = group_name != roles.SUPERVISORS
        user.is_active = True
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=group_name)] if group_name else [])
        printed.append((username, password, group_name or "superuser"))
    return printed


def seed_feeds() -> None:
    for feed_id, (name, feed_type, notification) in DEMO_FEEDS.items():
        feed, _ = Feed.objects.update_or_create(
            id=feed_id, defaults={"name": name, "type": feed_type, "enabled": True, "api_token": ""}
        )
        if notification:
            mrd_id, selector = notification
            FeedNotification.objects.update_or_create(
                feed=feed, defaults={"mrd_id": mrd_id, "script_selector": selector, "enabled": True}
            )
        else:
            FeedNotification.objects.filter(feed=feed).delete()
