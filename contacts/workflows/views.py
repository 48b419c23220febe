"""The admins' workflow pages and endpoints: resubmit and cancel (one or many), bulk jobs, audit.

Thin function views: authorize, parse with a form, make one call into `contacts.workflows.actions` or
`contacts.workflows.jobs`, answer with a redirect, a page or JSON. Reading needs `contacts.view_dashboard`;
acting needs `contacts.manage_contacts` (the Admins group; superusers pass every check). A JSON caller
(fetch with `Accept: application/json`) gets 401/403 as JSON; a browser gets the login page or 403.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from contacts.core.formats import reason_name
from contacts.core.lifecycle import DISCARD_REASONS, Source, State
from contacts.core.models import Contact
from contacts.core.permissions import MANAGE_CONTACTS, VIEW_AUDIT, guard, manage_page, wants_json
from contacts.core.positions import REASON_NAMES

from . import actions, audit, jobs
from .models import AuditAction, AuditEntry, BulkJob, BulkJobKind

AUDIT_PAGE = 50


class ResubmitForm(forms.Form):
    script_selector = forms.CharField(
        label="Script selector", max_length=32, required=False,
        help_text="Tasks only: replaces the task's own. Empty keeps it.",
    )
    comment = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    discard_id = forms.IntegerField(required=False, widget=forms.HiddenInput)


class CommentForm(forms.Form):
    comment = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    token = forms.CharField(max_length=32, required=False, widget=forms.HiddenInput)


# --- one contact -----------------------------------------------------------------------------------------


def _contact(public_id: str) -> Contact:
    contact = Contact.objects.select_related("feed").filter(public_id=public_id).first()
    if contact is None:
        raise Http404("No such contact")
    return contact


def resubmit_preview(contact: Contact, script_selector: str = "") -> dict:
    """What the resubmit dialog shows before the admin confirms: may it be resubmitted, and decide()'s verdict."""
    answer = actions.resubmittable(contact)
    discard = actions.latest_discard(contact)
    info = DISCARD_REASONS.get(contact.reason) if contact.state == State.DISCARDED else None
    verdict = actions.cause_still_present(contact, script_selector or None) if answer else None
    return {
        "contact": contact.public_id, "name": contact.name, "kind": contact.kind,
        "state": contact.state, "reason": contact.reason, "reason_name": reason_name(contact.reason),
        "script_selector": contact.script_selector,
        "resubmittable": answer.ok, "refusal": answer.reason, "discard_id": discard.pk if discard else None,
        "cause": info.cause if info else "", "fix": info.fix if info else "",
        "verdict": verdict.as_json() if verdict else None,
        "confirm_url": reverse("workflows-resubmit-confirm", args=[contact.public_id]),
        "detail_url": reverse("dashboard-contact", args=[contact.public_id]),
    }


@require_GET
@guard(MANAGE_CONTACTS, answer="json")
def resubmit_preview_json(request: HttpRequest, public_id: str) -> HttpResponse:
    contact = _contact(public_id)
    # Through the form, as the page does: a selector with a NUL would reach decide()'s query (PostgreSQL refuses it).
    form = ResubmitForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"error": "bad request", "fields": form.errors}, status=400)
    return JsonResponse(resubmit_preview(contact, form.cleaned_data["script_selector"]))


@require_GET
@manage_page
def resubmit_page(request: HttpRequest, public_id: str) -> HttpResponse:
    """The resubmit dialog as a page: the target of the dialog's links when JavaScript is off."""
    contact = _contact(public_id)
    form = ResubmitForm(request.GET or None)
    selector = form.cleaned_data["script_selector"] if form.is_bound and form.is_valid() else ""
    preview = resubmit_preview(contact, selector)
    if not form.is_bound:
        form = ResubmitForm(initial={"script_selector": contact.script_selector, "discard_id": preview["discard_id"]})
    return render(request, "workflows/resubmit.html", {"contact": contact, "preview": preview, "form": form})


@require_POST
@guard(MANAGE_CONTACTS, answer="negotiated")
def resubmit_confirm(request: HttpRequest, public_id: str) -> HttpResponse:
    contact = _contact(public_id)
    form = ResubmitForm(request.POST)
    if not form.is_valid():
        return _refused(request, contact, "; ".join(e for errors in form.errors.values() for e in errors), 400)
    data = form.cleaned_data
    selector = data["script_selector"] if data["script_selector"] != contact.script_selector else None
    try:
        result = actions.resubmit(contact, source=Source.DASHBOARD, user=request.user, comment=data["comment"],
                                  script_selector=selector or None, discard_id=data["discard_id"])
    except actions.ActionRefused as refused:
        return _refused(request, contact, refused.message, 409)
    new = result.pk != contact.pk
    text = f"Resubmitted as a new callback, {result.public_id}." if new else "Renotified: the task is resubmitted."
    if not wants_json(request):
        messages.success(request, text)
        return redirect("dashboard-contact", contact.public_id)
    entry = AuditEntry.objects.filter(contact=contact, action=AuditAction.RESUBMIT).order_by("-id").first()
    return JsonResponse({"ok": True, "message": text, "contact": result.public_id, "new": new,
                         "url": reverse("dashboard-contact", args=[result.public_id]), "audit": _audit_json(entry)})


@require_POST
@guard(MANAGE_CONTACTS, answer="negotiated")
def cancel_confirm(request: HttpRequest, public_id: str) -> HttpResponse:
    contact = _contact(public_id)
    form = CommentForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    try:
        actions.request_cancel(contact, source=Source.DASHBOARD, user=request.user, comment=comment)
    except actions.ActionRefused as refused:
        return _refused(request, contact, refused.message, 409)
    text = "Cancel requested: the contact center removes it, unless routing wins first."
    if wants_json(request):
        return JsonResponse({"ok": True, "message": text})
    messages.success(request, text)
    return redirect("dashboard-contact", contact.public_id)


def _refused(request: HttpRequest, contact: Contact, message: str, status: int) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"ok": False, "error": message}, status=status)
    messages.error(request, f"Nothing changed: {message}.")
    return redirect("dashboard-contact", contact.public_id)


def _audit_json(entry: AuditEntry | None) -> dict | None:
    if entry is None:
        return None
    return {"id": entry.pk, "at": entry.created_at.isoformat(), "action": entry.get_action_display(),
            "user": entry.username, "comment": entry.comment, "source": entry.source}


# --- many contacts -----------------------------------------------------------------------------------------


def _bulk_filters(request: HttpRequest, kind: str) -> dict:
    if kind not in BulkJobKind.values:
        raise Http404("No such bulk action")
    filters = jobs.clean_filters(request.GET)
    if filters is None:
        raise Http404("These filters are not valid")
    return filters


@require_GET
@manage_page
def bulk_preview(request: HttpRequest, kind: str) -> HttpResponse:
    filters = _bulk_filters(request, kind)
    context = {
        "kind": kind,
        "preview": jobs.preview(kind, filters),
        "filters": filters,
        "query": urlencode(filters),
        "form": CommentForm(initial={"token": uuid.uuid4().hex}),
        "sample_cap": jobs.PREVIEW_SAMPLE,
    }
    return render(request, "workflows/bulk_preview.html", context)


@require_POST
@guard(MANAGE_CONTACTS, answer="negotiated")
def bulk_start(request: HttpRequest, kind: str) -> HttpResponse:
    filters = _bulk_filters(request, kind)
    form = CommentForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {"comment": "", "token": ""}
    if kind == BulkJobKind.RESUBMIT and request.POST.get(jobs.ONLY) == jobs.CAUSE_GONE:
        filters = {**filters, jobs.ONLY: jobs.CAUSE_GONE}  # the "only those whose cause is gone" button
    job = jobs.start(kind, filters, user=request.user, comment=data["comment"], token=data["token"] or None)
    return redirect("workflows-job", job.pk)


@require_GET
@manage_page
def job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(BulkJob, pk=job_id)
    status = jobs.status(job)
    config = {"socket": "/ws/dashboard", "status": reverse("workflows-job-status", args=[job.pk]), "job": job.pk,
              "reason_names": REASON_NAMES}
    context = {"job": job, "status": status, "config": config, "query": urlencode(job.filters)}
    return render(request, "workflows/job.html", context)


@require_GET
@guard(MANAGE_CONTACTS, answer="json")
def job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    return JsonResponse(jobs.status(get_object_or_404(BulkJob, pk=job_id)))


@require_GET
@manage_page
def job_list(request: HttpRequest) -> HttpResponse:
    return render(request, "workflows/jobs.html", {"jobs": BulkJob.objects.order_by("-id")[:50]})


# --- audit ---------------------------------------------------------------------------------------


class AuditFilterForm(forms.Form):
    user = forms.CharField(max_length=150, required=False)
    action = forms.ChoiceField(choices=[("", "any action"), *AuditAction.choices], required=False)
    before = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


@require_GET
@guard(VIEW_AUDIT)
def audit_page(request: HttpRequest) -> HttpResponse:
    """Audit entries, newest first, filtered by user and action, paged by keyset on id (?before=)."""
    form = AuditFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    # Each entry's user (full name), contact (name) and job in the same query; audit.readable reads the
    # contacts and feeds the details name in one query each, so the count does not grow with the page.
    entries = AuditEntry.objects.select_related("job", "user", "contact").defer(
        "contact__description", "contact__variables", "contact__tags")
    if data.get("user"):
        entries = entries.filter(username=data["user"])
    if data.get("action"):
        entries = entries.filter(action=data["action"])
    if data.get("before"):
        entries = entries.filter(id__lt=data["before"])
    rows = list(entries.order_by("-id")[: AUDIT_PAGE + 1])
    kept = {key: data[key] for key in ("user", "action") if data.get(key)}
    older = f"?{urlencode({**kept, 'before': rows[AUDIT_PAGE - 1].pk})}" if len(rows) > AUDIT_PAGE else None
    context = {"form": form, "entries": audit.readable(rows[:AUDIT_PAGE]), "older_url": older,
               "first_url": f"?{urlencode(kept)}", "paged": bool(data.get("before")),
               "config_url": f"?{urlencode({'action': AuditAction.CONFIG_CHANGED})}"}
    return render(request, "workflows/audit.html", context)
