"""Who may do what: the two roles as Django groups, the permission names, and the guards every view uses.

Superusers pass every check. A view is guarded by `guard(permission)`: a page answers the login page
(signed out) or 403; a JSON endpoint (fetch) answers 401/403 as JSON so the page can say why; a
negotiated one answers whichever the request accepts. Nothing runs before the guard.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Literal

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

SUPERVISORS = "Supervisors"
ADMINS = "Admins"

VIEW_DASHBOARD = "contacts.view_dashboard"
MANAGE_CONTACTS = "contacts.manage_contacts"  # cancel and resubmit, one or many
ACKNOWLEDGE_ALERT = "contacts.acknowledge_alert"
VIEW_AUDIT = "contacts.view_auditentry"

# The mock CCE's configuration; its slot history (agentassignment) is only ever viewed.
CCE_MODELS = ("mediaroutingdomain", "dialednumber", "routingscript", "agent", "ccesettings")

SUPERVISOR_PERMISSIONS = {
    VIEW_DASHBOARD,
    "contacts.view_contact",
    "contacts.view_transition",
    "contacts.view_feed",
    "contacts.view_feednotification",
    *(f"contacts.view_{model}" for model in CCE_MODELS),
    "contacts.view_agentassignment",
    ACKNOWLEDGE_ALERT,
    "contacts.view_queuealertrule",
    "contacts.view_queuealert",
}
# Admins may also act on contacts and configure feeds and the mock contact center.
ADMIN_PERMISSIONS = SUPERVISOR_PERMISSIONS | {
    MANAGE_CONTACTS,
    VIEW_AUDIT,
    "contacts.view_bulkjob",
    "contacts.add_feed",
    "contacts.change_feed",
    "contacts.add_feednotification",
    "contacts.change_feednotification",
    *(f"contacts.{action}_{model}" for model in CCE_MODELS for action in ("add", "change")),
    *(f"contacts.{action}_queuealertrule" for action in ("add", "change", "delete")),
    # Wall board links: create, see and revoke (a revoke is a change); never read a key, which is not stored.
    *(f"contacts.{action}_wallboardlink" for action in ("add", "change", "view")),
    # Personal API tokens: see everybody's and revoke (a change); each user makes their own on /account/tokens.
    *(f"contacts.{action}_apitoken" for action in ("change", "view")),
    # Notifications out: channels and rules are theirs to configure; the delivery log is only viewed.
    *(f"contacts.{action}_{model}" for model in ("notificationchannel", "notificationrule")
      for action in ("add", "change", "delete", "view")),
    "contacts.view_notificationdelivery",
}

ROLE_PERMISSIONS = {SUPERVISORS: SUPERVISOR_PERMISSIONS, ADMINS: ADMIN_PERMISSIONS}


def ensure_role_groups() -> None:
    """Create the groups and give each exactly its permissions (idempotent)."""
    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        wanted = [
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
            for app_label, codename in (perm.split(".", 1) for perm in sorted(perms))
        ]
        group.permissions.set(wanted)


def ensure_role_groups_after_migrate(**kwargs) -> None:
    ensure_role_groups()


# --- guards -------------------------------------------------------------------------------------------------

Answer = Literal["page", "json", "negotiated"]


def wants_json(request: HttpRequest) -> bool:
    try:
        return request.accepts("application/json") and not request.accepts("text/html")
    except ValueError:  # an Accept Django cannot read (RFC 2231 `q*=0''`, an unknown charset): a browser's page
        return False


def guard(permission: str, *, answer: Answer = "page") -> Callable:
    """Signed out: the login page (401 as JSON); signed in without `permission`: 403. Never cached."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            as_json = answer == "json" or (answer == "negotiated" and wants_json(request))
            if not request.user.is_authenticated:
                if as_json:
                    return JsonResponse({"error": "signed out"}, status=401)
                return redirect_to_login(request.get_full_path())
            if not request.user.has_perm(permission):
                if as_json:
                    return JsonResponse({"error": "forbidden"}, status=403)
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return never_cache(wrapper)

    return decorate


def dashboard_page(view: Callable) -> Callable:
    """A page of the live dashboard (supervisors and admins)."""
    return guard(VIEW_DASHBOARD)(view)


def dashboard_json(view: Callable) -> Callable:
    """A GET endpoint the dashboard's pages fetch."""
    return require_GET(guard(VIEW_DASHBOARD, answer="json")(view))


def manage_page(view: Callable) -> Callable:
    """A page of the admins' workflows (resubmit, bulk jobs)."""
    return guard(MANAGE_CONTACTS)(view)


def json_action(permission: str) -> Callable:
    """A POST the pages send with fetch (CSRF-checked by the middleware), 401/403 as JSON."""

    def decorate(view: Callable) -> Callable:
        return require_POST(guard(permission, answer="json")(view))

    return decorate
