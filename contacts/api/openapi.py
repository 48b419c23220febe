"""The CCP-compatible API described in OpenAPI 3.1 (spec §4), built from the tables the API itself enforces.

Served by `contacts.api.docs` at /api/ccp/openapi.json (and .yaml). The limits come from `payloads.LIMITS`,
the states and reason codes from `contacts.core.positions`, the paths from the same two families as
`contacts.api.urls`, so the document cannot drift from what the views accept and answer. Both families and
both kinds share one description per operation; only the path, the root element and the status document
differ. XML is the contract's format; JSON (`Accept`/`Content-Type: application/json`) is our extension, a
flat object with the XML element names as keys, so each body has one schema per media type.
"""

from __future__ import annotations

from typing import Any

from contacts.core.lifecycle import Kind, Reason, State

from . import payloads
from .documents import JSON_CONTENT_TYPE, ROOTS, XML_CONTENT_TYPE

TITLE = "ccpdash CCP-compatible API"
VERSION = "1.0"

# What `contacts.api.views` checks before looking anything up: anything else is a 404, as an unknown id is.
CONTACT_ID_PATTERN = "^[0-9A-Fa-f]{32}$"
FEED_ID_PATTERN = "^[0-9]{1,10}$"

FAMILIES = (
    # (key, path prefix, name in the document)
    ("rest", "/ccp/rest/", "current family"),
    ("sm", "/ccp/", "SocialMiner-era family"),
)

Schema = dict[str, Any]


def document() -> Schema:
    """The whole OpenAPI document, as a JSON-ready dict."""
    paths: dict[str, Schema] = {}
    for family, prefix, family_name in FAMILIES:
        for kind in (Kind.TASK, Kind.CALLBACK):
            tag = f"{kind.label}s ({family_name})"
            paths[f"{prefix}{kind}/feed/{{feedId}}"] = _feed_path(kind, family, tag)
            paths[f"{prefix}{kind}/contact/{{contactId}}"] = _contact_path(kind, family, tag)
    # Renotify and the social contact live under the current prefix and the web app's, not the SocialMiner one.
    for prefix, family in (("/ccp/rest/", "rest"), ("/ccp-webapp/ccp/", "webapp")):
        paths[f"{prefix}task/{{contactId}}/renotify"] = _renotify_path(family)
        paths[f"{prefix}socialcontact/{{contactId}}"] = _social_contact_path(family)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Create, poll, cancel and renotify callback and task requests as Cisco's Customer Collaboration "
                "Platform does, on two path families: the current one under `/ccp/rest/` (upper-case status) and "
                "the SocialMiner-era one under `/ccp/` (a `<SocialContact>` with lower-case status). XML is the "
                "wire format; `application/json` is accepted and answered as an extension, with the XML element "
                "names as keys. Every refusal is an `ApiErrors` document naming the field."
            ),
        },
        "paths": paths,
        "components": {"schemas": _schemas(), "responses": _responses(), "securitySchemes": _security_schemes()},
    }


# --- paths -----------------------------------------------------------------------------------------


def _feed_path(kind: Kind, family: str, tag: str) -> Schema:
    create = {
        "tags": [tag],
        "security": _FEED_SECURITY,
        "responses": {
            "201": {
                "description": "Created. The body is empty; `Location` is the contact's status URL in the same family.",
                "headers": {"Location": {"schema": {"type": "string", "format": "uri"}, "required": True}},
            },
            **_refusals("400", "401", "404", "429", "503"),
        },
    }
    return {
        "parameters": [_FEED_ID],
        "post": {
            **create,
            "operationId": f"{family}_create_{kind}",
            "summary": f"Create a {kind} from an XML or JSON body",
            "requestBody": {"required": True, "content": _media(f"{kind.label}Request")},
            "responses": {**create["responses"], **_refusals("413")},
        },
        "get": {
            **create,
            "operationId": f"{family}_create_{kind}_from_query",
            "summary": f"Create a {kind} from a query string (as a browser form sends it)",
            "description": (
                "The body's fields as query parameters; empty values are ignored. Variables are sent as "
                "`variable_<name>=<value>` (any number, at most 100), tags as `tags=a,b`."
            ),
            "parameters": _query_parameters(kind),
            "responses": {**create["responses"], **_refusals("414")},
        },
    }


def _contact_path(kind: Kind, family: str, tag: str) -> Schema:
    document_schema = "SocialContact" if family == "sm" else f"{kind.label}Status"
    return {
        "parameters": [_CONTACT_ID],
        "get": {
            "tags": [tag],
            "operationId": f"{family}_{kind}_status",
            "summary": f"Poll a {kind}'s status",
            "description": (
                "Answers 404 once a cancel requested through this URL has succeeded, and once an unfinished "
                "contact has gone unpolled for the configured time."
            ),
            "security": _FEED_SECURITY,
            "responses": {
                "200": {"description": "The status document.", "content": _media(document_schema)},
                **_refusals("401", "404", "429", "503"),
            },
        },
        "delete": {
            "tags": [tag],
            "operationId": f"{family}_cancel_{kind}",
            "summary": f"Cancel a {kind}",
            "description": (
                "Accepted while unread, queued or queued after a renotify; the cancel then runs and the status "
                "URL reports its outcome. In any other position (a cancel already in flight, reserved, final) 400."
            ),
            "security": _FEED_SECURITY,
            "responses": {
                "200": {"description": "The cancel was accepted. The body is empty."},
                **_refusals("400", "401", "404", "429", "503"),
            },
        },
    }


def _renotify_path(family: str) -> Schema:
    return {
        "parameters": [_CONTACT_ID],
        "put": {
            "tags": ["Renotify"],
            "operationId": f"{family}_renotify_task",
            "summary": "Resubmit a task, optionally with a new script selector",
            "security": _FEED_SECURITY,
            "requestBody": {
                "required": False,
                "description": "Both fields are optional; an empty body resubmits the task unchanged.",
                "content": _media("RenotifyRequest"),
            },
            "responses": {
                "200": {"description": "The task is queued again. The body is empty."},
                "412": _error_response("The task's position forbids a renotify (e.g. handled, or one in flight)."),
                **_refusals("400", "401", "404", "413", "429", "503"),
            },
        },
    }


def _social_contact_path(family: str) -> Schema:
    return {
        "parameters": [_CONTACT_ID],
        "get": {
            "tags": ["Social contact"],
            "operationId": f"{family}_social_contact",
            "summary": "Read a contact as a social contact (always answers, needs no feed token)",
            "responses": {
                "200": {"description": "The social contact.", "content": _media("SocialContact")},
                **_refusals("404", "429", "503"),
            },
        },
    }


_FEED_ID = {
    "name": "feedId",
    "in": "path",
    "required": True,
    "description": "The feed's numeric id (Django admin, Feeds).",
    "schema": {"type": "string", "pattern": FEED_ID_PATTERN},
}
_CONTACT_ID = {
    "name": "contactId",
    "in": "path",
    "required": True,
    "description": "The contact's id: the last segment of `Location`, 32 hexadecimal characters.",
    "schema": {"type": "string", "pattern": CONTACT_ID_PATTERN},
}
# The API is open as in CCP; a feed may require a bearer token, which then guards every URL of its contacts.
_FEED_SECURITY = [{}, {"feedToken": []}]


def _query_parameters(kind: Kind) -> list[Schema]:
    parameters = [
        {"name": limit.wire, "in": "query", "required": limit.required, "schema": _text(limit)}
        for limit in payloads.LIMITS[kind]
    ]
    parameters.append({
        "name": "tags",
        "in": "query",
        "required": False,
        "description": f"Comma-separated tags, at most {payloads.MAX_TAGS}.",
        "schema": {"type": "string"},
    })
    if kind == Kind.TASK:
        parameters.append(
            {"name": "requeueOnRecovery", "in": "query", "required": False, "schema": _BOOLEAN_TEXT}
        )
    return parameters


# --- media types and schemas ---------------------------------------------------------------------


def _media(schema: str) -> Schema:
    """The JSON and the XML form of one body: `<name>` and `<name>Xml` in the components.

    The JSON form has the plain name: client generators read JSON bodies only, and name their models after it.
    """
    return {
        XML_CONTENT_TYPE: {"schema": _ref(f"{schema}Xml")},
        JSON_CONTENT_TYPE: {"schema": _ref(schema)},
    }


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


# The characters `payloads` refuses in every text (control characters but tab and line breaks, DEL, C1, the
# bidirectional overrides, surrogates, non-characters), and for single-line fields every line break splitlines knows.
_REFUSED_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_LINE_BREAKS = r"\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029"


def _plain_text() -> Schema:
    return {"type": "string", "pattern": f"^[^{_REFUSED_CHARS}]*$"}


def _text(limit: payloads.Limit) -> Schema:
    schema: Schema = {"type": "string", "maxLength": limit.max_chars}
    if limit.required:
        schema["minLength"] = 1
    refused = _REFUSED_CHARS + (_LINE_BREAKS if limit.single_line else "")
    schema["pattern"] = f"^[^{refused}]*$"
    return schema


# requeueOnRecovery in XML and query strings, and accepted as a JSON string as well as a boolean.
_BOOLEAN_TEXT = {"type": "string", "enum": ["true", "false"]}


def _request_schemas(kind: Kind) -> dict[str, Schema]:
    limits = payloads.LIMITS[kind]
    root = ROOTS[kind]
    variable = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {**_plain_text(), "minLength": 1}, "value": _plain_text()},
    }
    xml_properties: dict[str, Schema] = {limit.wire: _text(limit) for limit in limits}
    json_properties: dict[str, Schema] = {limit.wire: _text(limit) for limit in limits}
    if kind == Kind.TASK:
        xml_properties["requeueOnRecovery"] = _BOOLEAN_TEXT
        json_properties["requeueOnRecovery"] = {"oneOf": [{"type": "boolean"}, _BOOLEAN_TEXT]}
    xml_properties["tags"] = {
        "type": "array",
        "maxItems": payloads.MAX_TAGS,
        "items": {**_plain_text(), "xml": {"name": "tag"}},
        "xml": {"wrapped": True},
    }
    json_properties["tags"] = {"type": "array", "maxItems": payloads.MAX_TAGS, "items": _plain_text()}
    xml_properties["variables"] = {
        "type": "array",
        "maxItems": payloads.MAX_VARIABLES,
        "items": {**variable, "xml": {"name": "variable"}},
        "xml": {"wrapped": True},
    }
    json_properties["variables"] = {"type": "array", "maxItems": payloads.MAX_VARIABLES, "items": variable}
    required = [limit.wire for limit in limits if limit.required]
    description = (
        "Variables: `cv_1`..`cv_10` are call variables, `user_<eccName>` ECC variables, `mediaType` and "
        "`podRefURL` are special, any other name is kept as an extension field."
    )
    return {
        f"{kind.label}RequestXml": {
            "type": "object",
            "description": description,
            "required": required,
            "properties": xml_properties,
            "xml": {"name": root},
        },
        f"{kind.label}Request": {
            "type": "object",
            "description": description,
            "required": required,
            "properties": json_properties,
        },
    }


def _status_schemas(kind: Kind) -> dict[str, Schema]:
    properties: dict[str, Schema] = {
        "status": {"type": "string", "enum": [state.upper() for state in State.values]},
        "statusReason": {"type": "string", "enum": list(Reason.values)},
        "estimatedWaitTime": _ESTIMATED_WAIT,
    }
    if kind == Kind.TASK:
        properties["taskID"] = {"type": "string", "description": "Once reserved or handled."}
        properties["agentID"] = {"type": "string", "description": "Once reserved or handled."}
    schema = {"type": "object", "required": ["status", "statusReason"], "properties": properties}
    return {
        f"{kind.label}StatusXml": {**schema, "xml": {"name": ROOTS[kind]}},
        f"{kind.label}Status": schema,
    }


_ESTIMATED_WAIT = {
    "type": "integer",
    "minimum": -1,
    "description": "Only while queued: seconds, computed when the contact was queued; -1 when unknown.",
}


def _social_contact_schemas() -> dict[str, Schema]:
    schema = {
        "type": "object",
        "required": ["id", "refURL", "author", "title", "status", "statusReason"],
        "properties": {
            "id": {"type": "string", "pattern": CONTACT_ID_PATTERN},
            "refURL": {"type": "string", "format": "uri", "description": "This same resource; clients poll it."},
            "author": {"type": "string", "description": "The contact's name."},
            "title": {"type": "string"},
            "status": {"type": "string", "enum": list(State.values), "description": "Lower case."},
            "statusReason": {
                "type": "string",
                "enum": [reason.lower() for reason in Reason.values],
                "description": "Lower case.",
            },
            "estimatedWaitTime": _ESTIMATED_WAIT,
        },
    }
    return {"SocialContactXml": {**schema, "xml": {"name": "SocialContact"}}, "SocialContact": schema}


def _renotify_schemas() -> dict[str, Schema]:
    properties = {limit.wire: _text(limit) for limit in payloads.RENOTIFY_LIMITS}
    schema = {"type": "object", "properties": properties}
    return {"RenotifyRequestXml": {**schema, "xml": {"name": "Task"}}, "RenotifyRequest": schema}


def _error_schemas() -> dict[str, Schema]:
    error_properties = {
        "type": {"type": "string", "description": "invalidInput, notFound, unauthorized, tooManyRequests, …"},
        "data": {"type": "string", "description": "The field (or header, or path part) the error is about."},
        "message": {"type": "string", "description": "What is wrong, in words, with the limit broken."},
    }
    xml_error = {
        "type": "object",
        "required": ["ErrorType", "ErrorData", "ErrorMessage"],
        "properties": {f"Error{name.title()}": schema for name, schema in error_properties.items()},
        "xml": {"name": "ApiError"},
    }
    json_error = {
        "type": "object",
        "required": ["errorType", "errorData", "errorMessage"],
        "properties": {f"error{name.title()}": schema for name, schema in error_properties.items()},
    }
    return {
        "ApiErrorsXml": {
            "type": "array",
            "minItems": 1,
            "items": xml_error,
            "xml": {"name": "ApiErrors", "wrapped": True},
        },
        "ApiErrors": {
            "type": "object",
            "required": ["apiErrors"],
            "properties": {"apiErrors": {"type": "array", "minItems": 1, "items": json_error}},
        },
    }


def _schemas() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {}
    for kind in (Kind.TASK, Kind.CALLBACK):
        schemas.update(_request_schemas(kind))
        schemas.update(_status_schemas(kind))
    schemas.update(_social_contact_schemas())
    schemas.update(_renotify_schemas())
    schemas.update(_error_schemas())
    return schemas


# --- responses -----------------------------------------------------------------------------------

_REFUSALS = {
    "400": "Bad input: one ApiError per breach, naming the field and the limit (or the position forbidding a cancel).",
    "401": "The feed requires `Authorization: Bearer <token>`, and none or a wrong one was sent.",
    "404": "No such feed or contact, or a contact no longer available at this URL.",
    "413": "The body is larger than 1 MB.",
    "429": "Too many wrong tokens from this client, or over the API's rate limit; see `Retry-After`.",
    "414": "The URL is longer than the server takes (a query string create with very long values).",
    "503": "The database or the broker is unreachable; see `Retry-After`.",
}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}}


def _error_response(description: str, headers: Schema | None = None) -> Schema:
    response: Schema = {"description": description, "content": _media("ApiErrors")}
    if headers:
        response["headers"] = headers
    return response


def _responses() -> dict[str, Schema]:
    responses = {
        f"refused_{status}": _error_response(text, _RETRY_AFTER if status in {"429", "503"} else None)
        for status, text in _REFUSALS.items()
    }
    # The web server refuses such a request line itself, before ccpdash sees it: no ApiErrors document.
    responses["refused_414"] = {"description": _REFUSALS["414"]}
    return responses


def _refusals(*statuses: str) -> dict[str, Schema]:
    return {status: {"$ref": f"#/components/responses/refused_{status}"} for status in statuses}


def _security_schemes() -> dict[str, Schema]:
    return {
        "feedToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "Only for feeds configured with a token: it guards create, status, cancel and renotify.",
        }
    }
