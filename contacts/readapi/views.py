"""The read API's endpoints: parse the query with a form, read through the pages' selectors, serialize.

Read-only function views (GET, HEAD and OPTIONS only). Every query parameter is validated: a bad value is
a 400 naming the parameter, never a 500 or a silently ignored filter.
"""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.alerts.discards import fix_permissions
from contacts.alerts.groups import alert_groups
from contacts.core.filters import filter_contacts
from contacts.core.models import Feed
from contacts.core.permissions import MANAGE_CONTACTS
from contacts.dashboard import lists
from contacts.figures.catalogue import FIGURES, TOTAL, UNKNOWN_MRD
from contacts.workflows import audit, jobs
from contacts.workflows.models import AuditEntry, BulkJob

from . import paging, queries, schema, serializers
from .access import MANAGES_CONTACTS, VIEWS_AUDIT, VIEWS_DASHBOARD
from .queues import queue_rows

PUBLIC_ID = re.compile(r"[0-9A-F]{32}")


class BadQuery(exceptions.ValidationError):
    """400 with the refused parameters (BadRequestSerializer)."""

    def __init__(self, *invalid: forms.Form) -> None:
        errors = {name: [str(e) for e in messages] for form in invalid for name, messages in form.errors.items()}
        super().__init__({"detail": "Invalid query parameters.", "fields": errors})


def valid(form: forms.Form) -> dict:
    if not form.is_valid():
        raise BadQuery(form)
    return form.cleaned_data


@schema.read("figures", "Figures", serializers.FigureSerializer(many=True))
@api_view(["GET"])
@permission_classes([VIEWS_DASHBOARD])
def figures(request: Request) -> Response:
    """The figure catalogue: what each figure of /api/v1/queues counts, its unit and window."""
    return Response(serializers.FigureSerializer(FIGURES, many=True).data)


@schema.read("queues", "Queues", serializers.QueuesSerializer)
@api_view(["GET"])
@permission_classes([VIEWS_DASHBOARD])
def queues(request: Request) -> Response:
    """The KPIs of every MRD, of contacts outside them and in total, as the dashboard's panel shows them.

    The catalogue's figures (/api/v1/figures says what each counts), with the panel's ok/amber/red levels.
    """
    now = timezone.now()
    rows = queue_rows(now)
    body = {"at": now, "time_zone": settings.TIME_ZONE, "queues": rows["queues"],
            "unknown_mrd": {"figures": rows[UNKNOWN_MRD]}, "total": rows[TOTAL]}
    return Response(serializers.QueuesSerializer(body).data)


@schema.read("contacts_list", "Contacts", serializers.ContactPageSerializer, parameters=schema.CONTACT_QUERY)
@api_view(["GET"])
@permission_classes([VIEWS_DASHBOARD])
def contacts(request: Request) -> Response:
    """Contacts, newest first, filtered as the dashboard's contact list is; 50 a page.

    Paged by keyset: follow `next` (older) and `previous` (newer); a page stays put while contacts arrive.
    """
    query = queries.ContactQuery(request.query_params, list(Feed.objects.all()))
    valid(query)
    paginator = paging.ContactPagination()
    rows = paginator.paginate(filter_contacts(query.filters()), request, query.cleaned_data)
    return paginator.get_paginated_response(serializers.ContactListItemSerializer(rows, many=True).data)


@schema.read("contact", "Contacts", serializers.ContactSerializer, parameters=[schema.PUBLIC_ID], not_found=True)
@api_view(["GET"])
@permission_classes([VIEWS_DASHBOARD])
def contact(request: Request, public_id: str) -> Response:
    """One contact with every move of its timeline."""
    # By format first: an id with a NUL byte is a database error on PostgreSQL, not a contact.
    found = lists.contact_detail(public_id) if PUBLIC_ID.fullmatch(public_id) else None
    if found is None:
        raise Http404("No such contact.")
    found.timeline = lists.timeline(found)
    return Response(serializers.ContactSerializer(found).data)


@schema.read("alert_groups", "Alerts", serializers.AlertGroupsSerializer, query=queries.GroupsQuery)
@api_view(["GET"])
@permission_classes([VIEWS_DASHBOARD])
def groups(request: Request) -> Response:
    """The alerts of the last 24 hours grouped by cause and place, as the dashboard shows them.

    A group's fix link and resubmit offer are given only to a user who may act there.
    """
    limit = valid(queries.GroupsQuery(request.query_params))["limit"] or 100
    found = alert_groups(limit=limit)
    perms, can_manage = set(fix_permissions(request.user)), request.user.has_perm(MANAGE_CONTACTS)
    for group in found["groups"]:
        link = group["link"]
        group["fix_link"] = link if link and (not link.get("perm") or link["perm"] in perms) else None
        group["resubmit"] = group["resubmit"] if can_manage else None
    return Response(serializers.AlertGroupsSerializer(found).data)


@schema.read("bulk_jobs_list", "Bulk jobs", serializers.BulkJobPageSerializer, query=queries.IdQuery)
@api_view(["GET"])
@permission_classes([MANAGES_CONTACTS])
def bulk_jobs(request: Request) -> Response:
    """Bulk resubmits and cancels, newest first, 50 a page (`next`: older)."""
    before = valid(queries.IdQuery(request.query_params))["before"]
    paginator = paging.IdKeysetPagination()
    rows = paginator.paginate(BulkJob.objects.all(), request, before)
    return paginator.get_paginated_response(serializers.BulkJobSerializer(rows, many=True).data)


@schema.read("bulk_job", "Bulk jobs", serializers.BulkJobDetailSerializer, parameters=[schema.JOB_ID],
             not_found=True)
@api_view(["GET"])
@permission_classes([MANAGES_CONTACTS])
def bulk_job(request: Request, job_id: str) -> Response:
    """One bulk job: its progress, where the contacts it moved are now, the first of them."""
    job = BulkJob.objects.filter(pk=int(job_id)).first()
    if job is None:
        raise Http404("No such bulk job.")
    status = jobs.status(job)
    job.outcomes, job.items = status["outcomes"], status["items"]
    return Response(serializers.BulkJobDetailSerializer(job).data)


@schema.read("audit_list", "Audit", serializers.AuditPageSerializer, query=queries.AuditQuery)
@api_view(["GET"])
@permission_classes([VIEWS_AUDIT])
def audit_log(request: Request) -> Response:
    """The audit log, newest first, 50 a page (`next`: older): who did what to which contact, job or setting."""
    query = valid(queries.AuditQuery(request.query_params))
    # As the audit page reads them: user, contact and job in the same query, the details' names in one more each.
    entries = AuditEntry.objects.select_related("job", "user", "contact").defer(
        "contact__description", "contact__variables", "contact__tags")
    if query["user"]:
        entries = entries.filter(username=query["user"])
    if query["action"]:
        entries = entries.filter(action=query["action"])
    paginator = paging.IdKeysetPagination()
    rows = audit.readable(paginator.paginate(entries, request, query["before"]))
    return paginator.get_paginated_response(serializers.AuditEntrySerializer(rows, many=True).data)


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([])
def not_found(request: Request, rest: str = "") -> Response:
    """Any other path under /api/v1/: a JSON 404, as the endpoints answer (not the site's page)."""
    raise Http404("No such endpoint.")
