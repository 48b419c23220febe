"""The CCP API's OpenAPI document (contacts.api.openapi) at stable URLs, and the page showing both APIs' documents."""

from __future__ import annotations

import json
from functools import cache

import yaml
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from . import openapi


@cache
def _json_document() -> bytes:
    return json.dumps(openapi.document(), indent=2).encode()


@cache
def _yaml_document() -> bytes:
    return yaml.safe_dump(openapi.document(), sort_keys=False, allow_unicode=True).encode()


# The document changes only with a deploy; an hour's caching spares generators and fuzzers nothing they need.
@require_GET
@cache_control(public=True, max_age=3600)
def ccp_openapi_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_json_document(), content_type="application/json")


@require_GET
@cache_control(public=True, max_age=3600)
def ccp_openapi_yaml(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_yaml_document(), content_type="application/yaml")


@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI (vendored by drf-spectacular-sidecar, no CDN) over the CCP API's and the read API's documents.

    Open to everyone, as the CCP API is; the read API's document is fetched with the visitor's session.
    """
    documents = [
        {"name": "CCP-compatible API", "url": reverse("api-ccp-openapi-json")},
        {"name": "Read API (v1)", "url": reverse("readapi-schema")},
    ]
    return render(request, "api/docs.html", {"documents": documents})
