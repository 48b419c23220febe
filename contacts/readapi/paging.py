"""Keyset paging for the read API's lists: never OFFSET, so a page stays where it was while rows are inserted.

Contacts page on (created_at, id) through the contact list's own `lists.contact_page` and its `Cursor`
('<microseconds since epoch>.<id>'): `next` reads older contacts (?before=), `previous` newer (?after=). Bulk
jobs and audit entries page on id alone (?before=<id>). A cursor is checked by its format before any query
(contacts.readapi.queries): a number too large for the column would be a database error, not a page.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from contacts.dashboard import lists

PAGE_SIZE = 50


class ContactPagination(BasePagination):
    """The contact list's keyset pages: `cursors` are queries.ContactQuery's cleaned before and after."""

    def paginate(self, qs: QuerySet, request: Request, cursors: dict) -> list:
        self.request = request
        self.page = lists.contact_page(qs, before=cursors.get("before"), after=cursors.get("after"))
        return self.page.contacts

    def get_paginated_response(self, data: list) -> Response:
        url = remove_query_param(remove_query_param(self.request.build_absolute_uri(), "before"), "after")
        page = self.page
        return Response({
            "results": data,
            "next": replace_query_param(url, "before", str(page.older)) if page.older else None,
            "previous": replace_query_param(url, "after", str(page.newer)) if page.newer else None,
        })


class IdKeysetPagination(BasePagination):
    """Newest first by id; `next` names the last id of the page (?before=)."""

    def paginate(self, qs: QuerySet, request: Request, before: int | None) -> list:
        self.request = request
        if before:
            qs = qs.filter(id__lt=before)
        rows = list(qs.order_by("-id")[: PAGE_SIZE + 1])
        self.more = len(rows) > PAGE_SIZE
        self.rows = rows[:PAGE_SIZE]
        return self.rows

    def get_paginated_response(self, data: list) -> Response:
        url = self.request.build_absolute_uri()
        after_page = replace_query_param(url, "before", str(self.rows[-1].pk)) if self.more else None
        return Response({"results": data, "next": after_page})
