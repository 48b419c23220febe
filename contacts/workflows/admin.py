"""Django admin side of the workflows: "Resubmit selected" and "Cancel selected" on the Contact changelist
(a confirmation step, then the same `contacts.workflows.actions` the dashboard uses), and read-only bulk jobs and
audit entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from contacts.core import admin as core_admin
from contacts.core.admin import ReadOnlyAdmin
from contacts.core.lifecycle import Source
from contacts.core.models import Contact
from contacts.core.permissions import MANAGE_CONTACTS

from . import actions
from .models import AuditEntry, BulkJob

# An admin action runs inside the request; more than this belongs to a paced bulk job (the contact list).
MAX_SELECTED = 500


class ConfirmForm(forms.Form):
    comment = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


def _resubmit(contact: Contact, request: HttpRequest, comment: str) -> None:
    actions.resubmit(contact, source=Source.ADMIN, user=request.user, comment=comment)


def _cancel(contact: Contact, request: HttpRequest, comment: str) -> None:
    actions.request_cancel(contact, source=Source.ADMIN, user=request.user, comment=comment)


# name -> (verb for people, the check shown on the confirmation page, the action)
ADMIN_ACTIONS: dict[str, tuple[str, Callable, Callable]] = {
    "resubmit_selected": ("resubmit", actions.resubmittable, _resubmit),
    "cancel_selected": ("cancel", actions.cancellable, _cancel),
}


def confirm_then_apply(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, name: str
                       ) -> HttpResponse | None:
    """First call: a confirmation page listing what will and will not be done. With post=yes: do it."""
    verb, check, apply = ADMIN_ACTIONS[name]
    if queryset.count() > MAX_SELECTED:
        modeladmin.message_user(
            request, f"Select at most {MAX_SELECTED} contacts; to {verb} more, use the bulk {verb} of the "
            "dashboard's contact list (paced, resumable).", messages.ERROR)
        return None
    contacts = list(queryset.select_related("feed").order_by("id"))
    form = ConfirmForm(request.POST if request.POST.get("post") == "yes" else None)
    if form.is_bound and form.is_valid():
        _apply_all(modeladmin, request, contacts, verb, apply, form.cleaned_data["comment"])
        return None
    rows = [(contact, check(contact)) for contact in contacts]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{verb.capitalize()} selected contacts",
        "opts": modeladmin.model._meta,
        "rows": rows,
        "ready": sum(bool(answer) for _, answer in rows),
        "verb": verb,
        "action": name,
        "form": form,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "workflows/admin_confirm.html", context)


def _apply_all(modeladmin: admin.ModelAdmin, request: HttpRequest, contacts: list[Contact], verb: str,
               apply: Callable, comment: str) -> None:
    done, refused = 0, Counter()
    for contact in contacts:
        try:
            apply(contact, request, comment)
            done += 1
        except actions.ActionRefused as refusal:
            refused[refusal.code] += 1
    modeladmin.message_user(request, f"{verb.capitalize()}: {done} of {len(contacts)} done.", messages.SUCCESS)
    if refused:
        why = "; ".join(f"{n} {code}" for code, n in refused.most_common())
        modeladmin.message_user(request, f"Nothing changed for {sum(refused.values())}: {why}.", messages.WARNING)


@admin.action(description="Resubmit selected", permissions=["manage"])
def resubmit_selected(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    return confirm_then_apply(modeladmin, request, queryset, "resubmit_selected")


@admin.action(description="Cancel selected", permissions=["manage"])
def cancel_selected(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    return confirm_then_apply(modeladmin, request, queryset, "cancel_selected")


@admin.register(Contact)
class ContactAdmin(core_admin.ContactAdmin):
    # Through contacts.workflows.actions, as the dashboard's buttons; each asks for confirmation first.
    actions = [resubmit_selected, cancel_selected]

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm(MANAGE_CONTACTS)


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "state", "username", "created_at", "total", "done", "succeeded", "skipped"]
    list_filter = ["kind", "state"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "username", "action", "contact_public_id", "target", "job", "source", "comment"]
    list_filter = ["action", "source"]
    search_fields = ["username", "contact_public_id", "target", "comment"]
    show_full_result_count = False
