"""Schemathesis against the web server ccpdash runs: for each API's OpenAPI document, generated requests (valid and
invalid) get no 5xx and only answers the document describes (status, content type, headers, body schema).

The run is bounded (SCHEMATHESIS_SECONDS per document, README "API documents"); its seed is printed, so a failure
found once replays with `schemathesis run --seed`. The server runs on the test database, seeded with the demo
world and a contact in every position, whose ids (and the demo feeds) schemathesis draws most path parameters from,
so most requests reach a real feed or contact instead of a 404.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from contacts.core.models import Contact
from contacts.readapi.models import ApiToken
from tests.web import start_web_server

# The bound is three minutes for both documents together; most of this is generation, not requests.
SCHEMATHESIS_SECONDS = int(os.environ.get("SCHEMATHESIS_SECONDS", "30"))
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


@pytest.fixture(scope="module")
def web_port(django_db_setup, tmp_path_factory) -> Iterator[int]:
    server = start_web_server(tmp_path_factory.mktemp("web"), workers=1)
    yield server.port
    server.stop()
    print(f"--- web server (last lines) ---\n{server.log_tail()}")


def schemathesis(port: int, document: str, config: str, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    config_file = tmp_path / "schemathesis.toml"
    config_file.write_text(config)
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config_file), "run",
        f"http://127.0.0.1:{port}{document}", "--url", f"http://127.0.0.1:{port}",
        "--checks", CHECKS, "--max-time", str(SCHEMATHESIS_SECONDS), "--max-examples", "40",
        # One worker: the generator's coverage phase is not thread-safe in this version (it errors, not fails).
        "--workers", "1", "--request-timeout", "20", "--no-color", "--output-truncate", "true",
        "--report-dir", str(tmp_path / "report"), *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=SCHEMATHESIS_SECONDS + 120)
    print(result.stdout[-20000:], result.stderr[-5000:])
    return result


def dictionary(name: str, values: list[str]) -> str:
    quoted = ", ".join(f'"{value}"' for value in values)
    return f"[dictionaries.{name}]\nvalues = [{quoted}]\n"


@pytest.mark.django_db(transaction=True)
class CcpDocumentConformanceTests:
    def test_generated_requests_get_no_server_error_and_only_documented_answers(
        self, web_port: int, positioned: dict, tmp_path: Path
    ) -> None:
        ids = list(Contact.objects.values_list("public_id", flat=True))
        config = (
            dictionary("feeds", ["100", "200", "201", "300", "400"])
            + dictionary("contacts", ids)
            + "[parameters]\n"
            + '"path.feedId" = { dictionary = "feeds", probability = 0.8 }\n'
            + '"path.contactId" = { dictionary = "contacts", probability = 0.8 }\n'
        )
        result = schemathesis(web_port, "/api/ccp/openapi.json", config, tmp_path)
        assert result.returncode == 0, "schemathesis found failures or errors (its report is printed above)"
        assert Contact.objects.count() > len(ids), "no generated create reached a feed"


@pytest.mark.django_db(transaction=True)
class ReadApiDocumentConformanceTests:
    def test_generated_requests_get_no_server_error_and_only_documented_answers(
        self, web_port: int, positioned: dict, tmp_path: Path
    ) -> None:
        # An admin's token reads everything, so every operation is reached past its permission check.
        _, token = ApiToken.create(get_user_model().objects.get(username="admin"), "schemathesis")
        ids = list(Contact.objects.values_list("public_id", flat=True))
        config = (
            dictionary("contacts", ids)
            + "[parameters]\n"
            + '"path.public_id" = { dictionary = "contacts", probability = 0.8 }\n'
        )
        bearer = f"Authorization: Bearer {token}"
        result = schemathesis(web_port, "/api/v1/schema", config, tmp_path, "--header", bearer)
        assert result.returncode == 0, "schemathesis found failures or errors (its report is printed above)"
