"""The two roles of ccpdash as Django groups with their permissions; superusers pass every check."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

SUPERVISORS = "Supervisors"
ADMINS = "Admins"

# The mock CCE's configuration; its slot history (agentassignment) is only ever viewed.
CCE_MODELS = ("mediaroutingdomain", "dialednumber", "routingscript", "agent", "ccesettings")

SUPERVISOR_PERMISSIONS = {
    "contacts.view_dashboard",
    "contacts.view_contact",
    "contacts.view_transition",
    "contacts.view_feed",
    "contacts.view_feednotification",
    *(f"contacts.view_{model}" for model in CCE_MODELS),
    "contacts.view_agentassignment",
    "contacts.acknowledge_alert",
    "contacts.view_queuealertrule",
    "contacts.view_queuealert",
}
# Admins may also act on contacts and configure feeds and the mock contact center.
ADMIN_PERMISSIONS = SUPERVISOR_PERMISSIONS | {
    "contacts.manage_contacts",
    "contacts.view_auditentry",
    "contacts.view_bulkjob",
    "contacts.add_feed",
    "contacts.change_feed",
    "contacts.add_feednotification",
    "contacts.change_feednotification",
    *(f"contacts.{action}_{model}" for model in CCE_MODELS for action in ("add", "change")),
    *(f"contacts.{action}_queuealertrule" for action in ("add", "change", "delete")),
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
