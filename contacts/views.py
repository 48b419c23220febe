"""Pages of ccpdash outside the CCP API: the home page and the health check."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "contacts/home.html")


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database and Redis answer, else 503 naming what failed."""
    checks = {"database": health.database_ok(), "redis": health.redis_ok()}
    failed = [name for name, ok in checks.items() if not ok]
    body = {"status": "ok" if not failed else "failing", "failed": failed}
    return JsonResponse(body, status=503 if failed else 200)
