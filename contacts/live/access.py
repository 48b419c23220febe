"""Open sockets lose the feed the moment their user loses access: the changes that can take it away are
broadcast, and each web process's hub has the sockets of those users check their access again.

Connected by `contacts.apps` when the app is ready: a user saved (deactivated, password changed, made no
longer staff or superuser) or deleted, added to or removed from groups, given or refused permissions
directly, a group's permissions changed (every socket checks: a handful of reads, and it is rare), and
a logout (that session is gone). The message goes after commit, so the check reads the change.
`contacts.live.consumers.DashboardConsumer.access_refusal` decides; the heartbeat check repeats it
every SESSION_RECHECK_SECONDS for changes made past Django.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model, user_logged_out
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from . import broadcast
from .hub import ACCESS_CHANGED

CHANGES = ("post_add", "post_remove", "post_clear")


def access_changed(users: list[int] | None) -> None:
    """Tell every hub, after commit, that `users` (None: anyone) may have lost access."""
    message = {"type": ACCESS_CHANGED, "users": None if users is None else sorted(set(users))}
    transaction.on_commit(lambda: broadcast.send(broadcast.DASHBOARD_GROUP, message))


def _user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # a new user has no socket; a login's own save changes no access
    access_changed([instance.pk])


def _user_deleted(sender, instance, **kwargs) -> None:
    access_changed([instance.pk])


def _memberships_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    """User.groups or User.user_permissions, from either side."""
    if action not in CHANGES:
        return
    if not reverse:
        access_changed([instance.pk])
    elif pk_set is None:  # a group's or permission's users cleared: whoever they were
        access_changed(None)
    else:
        access_changed(list(pk_set))


def _group_permissions_changed(sender, action: str, **kwargs) -> None:
    if action in CHANGES:
        access_changed(None)


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        access_changed([user.pk])


def connect() -> None:
    user = get_user_model()
    post_save.connect(_user_saved, sender=user, dispatch_uid="ccpdash-access-user-saved")
    post_delete.connect(_user_deleted, sender=user, dispatch_uid="ccpdash-access-user-deleted")
    m2m_changed.connect(_memberships_changed, sender=user.groups.through, dispatch_uid="ccpdash-access-groups")
    m2m_changed.connect(_memberships_changed, sender=user.user_permissions.through,
                        dispatch_uid="ccpdash-access-user-permissions")
    m2m_changed.connect(_group_permissions_changed, sender=Group.permissions.through,
                        dispatch_uid="ccpdash-access-group-permissions")
    user_logged_out.connect(_logged_out, dispatch_uid="ccpdash-access-logout")
