"""The CCP API's OpenAPI document (contacts.api.openapi): valid, served at its stable URLs, describing every route and
method the API answers and no other, and good enough for a standard generator's client to create, poll and cancel."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.test import Client
from django.urls import URLResolver, get_resolver
from openapi_spec_validator import validate

from contacts.api import openapi
from contacts.core.models import Contact
from contacts.demo import seed

METHODS = ("get", "post", "put", "delete")


def documented() -> dict:
    return json.loads(Client().get("/api/ccp/openapi.json").content)


def api_route_paths() -> set[str]:
    """The CCP API's routes as OpenAPI paths: `ccp/task/feed/(?P<feed_id>[^/]+)/?$` → `/ccp/task/feed/{feedId}`."""
    paths = set()
    for pattern in _patterns(get_resolver().url_patterns):
        if not pattern.startswith(("ccp/", "ccp-webapp/")):
            continue
        path = pattern.removesuffix("/?$")
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "{" + _camel(m.group(1)) + "}", path)
        paths.add("/" + path)
    return paths


def _patterns(patterns, prefix: str = ""):
    for entry in patterns:
        text = prefix + str(entry.pattern.regex.pattern if hasattr(entry.pattern, "regex") else entry.pattern)
        text = text.replace("^", "")
        if isinstance(entry, URLResolver):
            yield from _patterns(entry.url_patterns, text)
        else:
            yield text


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@pytest.mark.django_db
class DocumentTests:
    def test_it_is_a_valid_openapi_document(self) -> None:
        validate(documented())

    def test_the_yaml_says_what_the_json_says(self) -> None:
        answer = Client().get("/api/ccp/openapi.yaml")
        assert answer.status_code == 200 and answer["Content-Type"] == "application/yaml"
        assert yaml.safe_load(answer.content) == documented() == openapi.document()

    def test_it_describes_every_route_of_the_api_and_no_other(self) -> None:
        assert set(documented()["paths"]) == api_route_paths()

    def test_every_documented_method_is_answered_and_every_other_refused(self) -> None:
        client = Client()
        contact_id = "0" * 32
        for path, item in documented()["paths"].items():
            url = path.replace("{feedId}", "999").replace("{contactId}", contact_id)
            for method in METHODS:
                status = getattr(client, method)(url).status_code
                if method in item:
                    assert status != 405, f"{method.upper()} {path} is documented but refused"
                else:
                    assert status == 405, f"{method.upper()} {path} answers {status} but is not documented"

    def test_the_limits_are_the_parsers(self) -> None:
        task = documented()["components"]["schemas"]["TaskRequest"]
        assert task["properties"]["name"]["maxLength"] == 100
        assert task["properties"]["scriptSelector"]["maxLength"] == 32
        assert task["properties"]["tags"]["maxItems"] == 20
        assert set(task["required"]) == {"name", "title", "scriptSelector"}
        assert documented()["components"]["schemas"]["CallbackRequest"]["required"] == ["mediaAddress"]

    def test_the_legacy_family_documents_lower_case_status_values(self) -> None:
        social = documented()["components"]["schemas"]["SocialContact"]["properties"]
        assert "discarded" in social["status"]["enum"] and "DISCARDED" not in social["status"]["enum"]
        assert "notification_no_script" in social["statusReason"]["enum"]
        current = documented()["components"]["schemas"]["TaskStatus"]["properties"]
        assert "DISCARDED" in current["status"]["enum"]

    def test_the_documentation_page_lists_both_documents_and_loads_nothing_from_elsewhere(self) -> None:
        page = Client().get("/api/docs")
        assert page.status_code == 200
        html = page.content.decode()
        assert "/api/ccp/openapi.json" in html and "/api/v1/schema" in html
        assert "swagger-ui-bundle.js" in html and "//cdn" not in html and "https://" not in html


@pytest.mark.django_db(transaction=True)
class GeneratedClientTests:
    """What an integrator does: generate a client from the published document, then create, poll and cancel."""

    def test_a_generated_client_creates_polls_and_cancels_a_task(self, live_server, tmp_path: Path) -> None:
        seed.seed_cce()
        seed.seed_feeds()
        schema = tmp_path / "ccp.json"
        schema.write_text(json.dumps(documented()))
        (tmp_path / "config.yaml").write_text("post_hooks: []\npackage_name_override: ccp_client\n")
        subprocess.run(
            [str(Path(sys.executable).with_name("openapi-python-client")), "generate", "--path", str(schema),
             "--config", str(tmp_path / "config.yaml"), "--output-path", str(tmp_path / "client")],
            check=True, capture_output=True, cwd=tmp_path, timeout=120,
        )
        sys.path.insert(0, str(tmp_path / "client"))
        try:
            self._use_the_client(live_server.url)
        finally:
            sys.path.remove(str(tmp_path / "client"))
            for name in [name for name in sys.modules if name.startswith("ccp_client")]:
                del sys.modules[name]

    def _use_the_client(self, base_url: str) -> None:
        ccp = importlib.import_module("ccp_client")
        create = importlib.import_module("ccp_client.api.tasks_current_family.rest_create_task")
        status = importlib.import_module("ccp_client.api.tasks_current_family.rest_task_status")
        cancel = importlib.import_module("ccp_client.api.tasks_current_family.rest_cancel_task")
        models = importlib.import_module("ccp_client.models")
        # JSON is what generators speak; Accept says so, as the document tells them (XML stays the default).
        client = ccp.Client(base_url=base_url, headers={"Accept": "application/json"})

        body = models.TaskRequest(name="Ada Lovelace", title="Order 4711", script_selector="Sales")
        created = create.sync_detailed(feed_id="100", client=client, body=body)
        assert created.status_code == 201
        location = created.headers["Location"]
        contact_id = location.rsplit("/", 1)[-1]
        assert Contact.objects.filter(public_id=contact_id).exists()

        polled = status.sync(contact_id=contact_id, client=client)
        assert isinstance(polled, models.TaskStatus) and polled.status.value == "UNREAD"

        refused = create.sync(feed_id="100", client=client, body=models.TaskRequest(
            name="Ada", title="Order", script_selector="S" * 40))
        assert isinstance(refused, models.ApiErrors)
        assert refused.api_errors[0].error_data == "scriptSelector"

        assert cancel.sync_detailed(contact_id=contact_id, client=client).status_code == 200
        # The cancel runs in a worker (none here): the status URL reports it in flight.
        polled = status.sync(contact_id=contact_id, client=client)
        assert (polled.status.value, polled.status_reason.value) == ("QUEUED", "NOTIFICATION_CCE_TASK_CANCEL_REQUESTED")
