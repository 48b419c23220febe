"""The read API's OpenAPI document: valid OpenAPI 3 (drf-spectacular's validation), served as JSON and YAML with a
Swagger UI page from the vendored sidecar, and every endpoint's answers — 200s on real data and the errors — match
the schemas it documents for them.
"""

from __future__ import annotations

import copy
import json
from functools import cache

import jsonschema
import pytest
import yaml
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from contacts.cce.models import MediaRoutingDomain
from contacts.workflows.models import AuditAction, AuditEntry, BulkJob, BulkJobKind
from tests.workflow_support import discard, make_user, task

ENDPOINTS = ["/api/v1/figures", "/api/v1/queues", "/api/v1/contacts", "/api/v1/contacts/{public_id}",
             "/api/v1/alert-groups", "/api/v1/bulk-jobs", "/api/v1/bulk-jobs/{job_id}", "/api/v1/audit"]


@cache
def document() -> dict:
    """The document as /api/v1/schema serves it, generated once for the module."""
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator(urlconf="contacts.readapi.routes").get_schema(
        request=None, public=True)))


def as_json_schema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it (null is a type there)."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: as_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def check(doc: dict, path: str, response) -> None:
    """`response` matches what the document says `path` answers with its status."""
    documented = doc["paths"][path]["get"]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{path} answered an undocumented {status}"
    assert response["Content-Type"] == "application/json"
    schema = documented[status]["content"]["application/json"]["schema"]
    root = as_json_schema({"components": copy.deepcopy(doc["components"])})
    jsonschema.Draft202012Validator({**root, **as_json_schema(schema)}).validate(response.json())


@pytest.fixture
def world(db) -> dict:
    """Something in every list: an MRD, a discarded contact with its alert, a bulk job, audit entries."""
    MediaRoutingDomain.objects.create(id=5000, name="Sales")
    contact = discard(task(name="Ada"))
    task(name="Bob")
    job = BulkJob.objects.create(kind=BulkJobKind.RESUBMIT, filters={"reason": contact.reason}, username="admin")
    AuditEntry.record(AuditAction.CANCEL, contact=contact, details={"rule": "T6"}, job=job)
    AuditEntry.record(AuditAction.CONFIG_CHANGED, target="MRD 5000 Sales", changes={"name": ["Old", "Sales"]},
                      details={"verb": "changed"})
    return {"public_id": contact.public_id, "job_id": job.pk}


@pytest.mark.django_db
class DocumentTests:
    def test_it_is_a_valid_openapi_3_document(self):
        doc = document()
        validate_schema(doc)
        assert doc["openapi"].startswith("3.")

    def test_it_describes_every_endpoint_and_nothing_else(self):
        assert sorted(document()["paths"]) == sorted(ENDPOINTS)

    def test_it_documents_the_refusals_of_every_endpoint(self):
        for path, item in document()["paths"].items():
            assert {"200", "401", "403", "429"} <= set(item["get"]["responses"]), path

    def test_it_names_the_states_and_reason_codes_of_the_contract(self):
        schemas = document()["components"]["schemas"]
        assert schemas["ContactStateEnum"]["enum"] == ["unread", "queued", "reserved", "handled", "discarded"]
        assert "NOTIFICATION_CCE_TASK_CANCEL_SUCCEEDED" in schemas["ReasonEnum"]["enum"]

    def test_it_declares_the_bearer_token(self):
        schemes = document()["components"]["securitySchemes"]
        assert schemes["personalToken"] == {"type": "http", "scheme": "bearer",
                                            "description": "A personal API token from /account/tokens."}

    def test_it_is_served_as_json_at_a_stable_url(self):
        response = Client().get("/api/v1/schema")
        assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.oai.openapi+json")
        assert response.json() == document()

    def test_it_is_served_as_yaml_too(self):
        response = Client().get("/api/v1/schema?format=yaml")
        assert response.status_code == 200 and yaml.safe_load(response.content)["paths"]

    def test_it_shows_the_docs_page_from_vendored_files_only(self):
        page = Client().get("/api/v1/docs")
        assert page.status_code == 200
        body = page.content.decode()
        assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in body
        assert "https://" not in body and "<script>" not in body  # no CDN, no inline script (CSP)
        script = Client().get("/api/v1/docs?script=")
        assert script.status_code == 200 and "/api/v1/schema" in script.content.decode()
        assert Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200


@pytest.mark.django_db
class ConformanceTests:
    @pytest.mark.parametrize("path", ENDPOINTS)
    def test_it_answers_what_it_documents_with_data(self, api_for, world, path):
        doc, client = document(), api_for("admin")
        check(doc, path, client.get(path.format(**world)))

    @pytest.mark.parametrize("path", ENDPOINTS)
    def test_it_refuses_as_it_documents(self, api_for, world, path):
        doc = document()
        check(doc, path, APIClient().get(path.format(**world)))
        if path.startswith(("/api/v1/bulk-jobs", "/api/v1/audit")):
            check(doc, path, api_for("supervisor").get(path.format(**world)))

    @pytest.mark.parametrize("path, bad", [("/api/v1/contacts", "?state=x"), ("/api/v1/audit", "?before=-1"),
                                           ("/api/v1/alert-groups", "?limit=0"), ("/api/v1/bulk-jobs", "?before=x")])
    def test_it_answers_a_bad_parameter_as_it_documents(self, api_for, path, bad):
        check(document(), path, api_for("admin").get(path + bad))

    @pytest.mark.parametrize("path, missing", [("/api/v1/contacts/{public_id}", {"public_id": "0" * 32}),
                                               ("/api/v1/bulk-jobs/{job_id}", {"job_id": 10**17})])
    def test_it_answers_no_such_object_as_it_documents(self, api_for, path, missing):
        check(document(), path, api_for("admin").get(path.format(**missing)))

    def test_a_supervisor_reads_the_same_shapes(self, world):
        client = Client()
        client.force_login(make_user("supervisor"))
        check(document(), "/api/v1/alert-groups", client.get("/api/v1/alert-groups"))
