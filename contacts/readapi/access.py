"""The read API's permissions: the pages' own (contacts.core.permissions), checked for the token's or session's user.

Each endpoint needs exactly the permission its page needs: the queues, figures, contacts and alert groups
`view_dashboard` (supervisors and admins), bulk jobs `manage_contacts` and the audit log `view_auditentry`
(admins). Signed out: 401; signed in without the permission: 403.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from contacts.core.permissions import MANAGE_CONTACTS, VIEW_AUDIT, VIEW_DASHBOARD


def requires(permission: str) -> type[BasePermission]:
    class Requires(BasePermission):
        message = f"Your account lacks the permission {permission}."

        def has_permission(self, request, view) -> bool:
            # DRF answers 401 instead of 403 when nobody is signed in.
            return bool(request.user and request.user.is_authenticated and request.user.has_perm(permission))

    Requires.__name__ = f"Requires({permission})"
    return Requires


VIEWS_DASHBOARD = requires(VIEW_DASHBOARD)
MANAGES_CONTACTS = requires(MANAGE_CONTACTS)
VIEWS_AUDIT = requires(VIEW_AUDIT)
