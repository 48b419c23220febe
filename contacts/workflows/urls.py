"""URLs of the admins' workflows: cancel and resubmit (one or many), bulk jobs, audit."""

from __future__ import annotations

from django.urls import path, re_path

from . import views

urlpatterns = [
    # Before contacts/<public_id>/...: "bulk" would otherwise be read as a contact's id.
    re_path(r"^contacts/bulk/(?P<kind>resubmit|cancel)$", views.bulk_preview, name="workflows-bulk"),
    re_path(r"^contacts/bulk/(?P<kind>resubmit|cancel)/start$", views.bulk_start, name="workflows-bulk-start"),
    path("contacts/<public_id:public_id>/resubmit", views.resubmit_page, name="workflows-resubmit"),
    path("contacts/<public_id:public_id>/resubmit/preview", views.resubmit_preview_json,
         name="workflows-resubmit-preview"),
    path("contacts/<public_id:public_id>/resubmit/confirm", views.resubmit_confirm, name="workflows-resubmit-confirm"),
    path("contacts/<public_id:public_id>/cancel", views.cancel_confirm, name="workflows-cancel"),
    path("jobs/", views.job_list, name="workflows-jobs"),
    path("jobs/<int:job_id>", views.job_page, name="workflows-job"),
    path("jobs/<int:job_id>/status", views.job_status, name="workflows-job-status"),
    path("audit/", views.audit_page, name="workflows-audit"),
]
