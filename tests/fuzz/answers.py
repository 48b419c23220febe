"""What every answer in the fuzz suite must look like, and the request helpers the tests share.

Never a 5xx; an API answer of 4xx is the `<ApiErrors>` document (`{"apiErrors": [...]}` in JSON), in the format
the request negotiated; a refused request stores nothing; an accepted create stores one contact and its first move.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from xml.etree import ElementTree

from django.db import connection

from contacts.core.models import Contact, Transition
from contacts.workflows.models import AuditEntry
from tests.handlers import run_keeping_connections

from .contract import Verdict

API_FAMILIES = {"rest": "/ccp/rest/", "sm": "/ccp/"}
HOST = "http://testserver"
XML, JSON = "application/xml", "application/json"
# Accept headers whose negotiation leaves no doubt: the format the API must answer in (None: as the body was).
CLEAR_ACCEPTS = {None: None, "": None, "*/*": None, JSON: "json", XML: "xml", "text/xml": "xml", "text/html": "xml",
                 "application/json, application/xml;q=0.1": "json", "application/xml, application/json;q=0.5": "xml"}
OTHER_ACCEPTS = ["application/*", "*/*;q=0", "application/json;q=0", "application/json;q=x", "text/*, */*;q=0.1",
                 "application/json; charset=utf-8", "garbage", ";;", "application/xml;q=0.5, application/json;q=0.5"]


@dataclass(frozen=True)
class Error:
    type: str
    data: str
    message: str


def api_errors(content_type: str, body: bytes) -> list[Error]:
    """The errors of an `<ApiErrors>` answer (XML or JSON); fails when the answer is anything else."""
    if content_type == JSON:
        document = json.loads(body)
        assert list(document) == ["apiErrors"], document
        errors = [Error(item["errorType"], item["errorData"], item["errorMessage"]) for item in document["apiErrors"]]
    else:
        assert content_type == XML, (content_type, body[:200])
        root = ElementTree.fromstring(body)
        assert root.tag == "ApiErrors", body[:200]
        errors = [Error(item.findtext("ErrorType"), item.findtext("ErrorData"), item.findtext("ErrorMessage"))
                  for item in root.findall("ApiError")]
    assert errors and all(error.type and error.data and error.message for error in errors), body[:500]
    return errors


def is_json(content_type: str) -> bool:
    """How the API tells a JSON body (spec §4: `application/json`, or any `+json` type; case and parameters aside)."""
    main = content_type.split(";")[0].strip().lower()
    return main == JSON or main.endswith("+json")


def negotiated(accept: str | None, method: str, content_type: str = "") -> str | None:
    """'json' or 'xml' when the request leaves no doubt which the API answers in (README "CCP API"), else None."""
    if accept not in CLEAR_ACCEPTS:
        return None
    wanted = CLEAR_ACCEPTS[accept]
    if wanted is None:
        return "json" if method in ("POST", "PUT") and is_json(content_type) else "xml"
    return wanted


def check_api(response, accept: str | None = None, method: str = "GET", content_type: str = "") -> list[Error]:
    """Below 500, and a 4xx is an ApiErrors document in the negotiated format: its errors ([] for a success)."""
    status = response.status_code
    assert status < 500, (status, response.content[:2000])
    if status < 400:
        return []
    errors = api_errors(response["Content-Type"], response.content)
    wanted = negotiated(accept, method, content_type)
    if wanted:
        assert response["Content-Type"] == (JSON if wanted == "json" else XML), (accept, content_type)
    return errors


def headers(accept: str | None) -> dict[str, str]:
    return {} if accept is None else {"HTTP_ACCEPT": accept}


# --- what is stored --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    contacts: int
    transitions: int
    audit: int

    @classmethod
    def now(cls) -> Counts:
        """The three counts in one query (every input reads them twice)."""
        tables = (model._meta.db_table for model in (Contact, Transition, AuditEntry))
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables))
            return cls(*cursor.fetchone())


def check_create(response, verdict: Verdict, before: Counts, *, kind: str, feed: int, family: str,
                 errors: list[Error]) -> None:
    """The answer `verdict` calls for: 201 and exactly what was sent stored, or a refusal naming only faults and
    storing nothing."""
    if not verdict.accepted:
        assert response.status_code == verdict.status, (response.status_code, verdict, errors)
        assert {error.data for error in errors} <= verdict.faults, (errors, verdict.faults)
        if verdict.status == 413:
            assert {error.type for error in errors} == {"requestTooLarge"}
        assert Counts.now() == before
        return
    assert response.status_code == 201, (errors, verdict.stored)
    assert response.content == b""
    location = response["Location"]
    assert re.fullmatch(rf"{HOST}{API_FAMILIES[family]}{kind}/contact/[0-9A-F]{{32}}", location), location
    contact = Contact.objects.get(public_id=location.rsplit("/", 1)[1])
    assert Counts.now() == Counts(before.contacts + 1, before.transitions + 1, before.audit)
    assert {name: getattr(contact, name) for name in verdict.stored} == verdict.stored
    assert (contact.kind, contact.feed_id, contact.pair) == (kind, feed, ("unread", ""))
    rule = "T1" if kind == "task" else "C1"
    moves = list(contact.transitions.values_list("rule", "from_state", "to_state", "to_reason", "source"))
    assert moves == [(rule, "", "unread", "", "api")]


# --- through the ASGI application, as the web server calls it --------------------------------------------------


@dataclass(frozen=True)
class AsgiAnswer:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]


def asgi_request(method: str, path: str, query: bytes = b"", headers: list[tuple[bytes, bytes]] = (),
                 body: bytes = b"", *, default_host: bool = True) -> AsgiAnswer:
    """One request through ccpdash.asgi.application (the request limits, then Django), as Granian makes it;
    `Host: testserver` unless `default_host` is false (the headers then bring their own, or none)."""
    from ccpdash.asgi import application

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
        "headers": [*([(b"host", b"testserver")] if default_host else []), *headers],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    answer = {"status": 0, "headers": {}, "body": []}

    async def call() -> None:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client never disconnects: Django would drop the answer

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = {name.decode().lower(): value.decode("latin-1")
                                     for name, value in message.get("headers", [])}
            elif message.get("body"):
                answer["body"].append(message["body"])

        await application(scope, receive, send)

    run_keeping_connections(call)
    return AsgiAnswer(answer["status"], answer["headers"], b"".join(answer["body"]))
