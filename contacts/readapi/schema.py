"""The read API's OpenAPI description (drf-spectacular): each endpoint's responses and its query parameters.

Every endpoint documents 401 (no or a wrong token), 403 (a permission its user lacks) and 429 (its address
locked out); those with parameters 400, those that read one object 404. Query parameters are described from
the forms that validate them (`form_parameters`), so the schema and the validation cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from . import queries, serializers


def read(operation_id: str, tag: str, response, *, parameters: list | None = None,
         query: type[forms.Form] | None = None, not_found: bool = False) -> Callable:
    """extend_schema for a GET endpoint answering `response` (its description is the view's docstring)."""
    parameters = [*(parameters or []), *(form_parameters(query) if query else [])]
    error = serializers.ErrorSerializer
    responses = {
        200: OpenApiResponse(response, description="OK"),
        401: OpenApiResponse(error, description="No credentials, or a wrong, revoked or deactivated user's token."),
        403: OpenApiResponse(error, description="The user lacks the permission the endpoint needs."),
        429: OpenApiResponse(error, description="Too many wrong tokens or passwords from this address (Retry-After)."),
    }
    if any(p.location == OpenApiParameter.QUERY for p in parameters):
        responses[400] = OpenApiResponse(serializers.BadRequestSerializer, description="A query parameter is invalid.")
    if not_found:
        responses[404] = OpenApiResponse(error, description="No such object.")
    return extend_schema(operation_id=operation_id, tags=[tag], parameters=parameters, responses=responses)


# Text without NUL, which the forms refuse (PostgreSQL text cannot hold it).
NO_NUL = "^[^\\u0000]*$"


def ecma(pattern: str) -> str:
    """A Python regex as OpenAPI's (ECMA 262) dialect reads it: `\\Z` (the very end) is `$` there."""
    return pattern.replace(r"\Z", "$")


def form_parameters(form_class: type[forms.Form], skip: tuple[str, ...] = ()) -> list[OpenApiParameter]:
    """The form's fields as optional query parameters, with the constraints the form enforces."""
    return [
        OpenApiParameter(name, type=field_schema(field), location=OpenApiParameter.QUERY, required=False,
                         description=str(field.help_text or field.label or ""))
        for name, field in form_class.base_fields.items() if name not in skip
    ]


def field_schema(field: forms.Field) -> dict:
    if isinstance(field, forms.ChoiceField):  # "" is "any" in the forms' choices, and refused (queries.Query)
        return {"type": "string", "enum": [str(value) for value, _ in field.choices if value != ""]}
    if isinstance(field, forms.IntegerField):
        return {"type": "integer", "minimum": field.min_value, "maximum": field.max_value or 2**63 - 1}
    if isinstance(field, forms.RegexField):
        return {"type": "string", "pattern": ecma(field.regex.pattern)}
    schema = {"type": "string", "pattern": NO_NUL}
    if getattr(field, "max_length", None):
        schema["maxLength"] = field.max_length
    return schema


def contact_query() -> list[OpenApiParameter]:
    """ContactQuery's parameters; its reason and feed choices are set per request, so they are described here."""
    params = form_parameters(queries.ContactQuery, skip=("reason", "feed"))
    reasons = {"type": "string", "enum": ["none", *(code for code, _ in serializers.REASONS if code)]}
    feed = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    return [
        *params,
        OpenApiParameter("reason", type=reasons, description='A reason code; "none": contacts without one.'),
        OpenApiParameter("feed", type=feed, description="A feed's id (one no feed has is refused)."),
    ]


CONTACT_QUERY = contact_query()
PUBLIC_ID = OpenApiParameter("public_id", type={"type": "string", "pattern": r"^[0-9A-F]{32}$"},
                             location=OpenApiParameter.PATH, description="The contact's public id.")
JOB_ID = OpenApiParameter("job_id", type={"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
                          location=OpenApiParameter.PATH, description="The bulk job's id.")


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The personal token, as the schema's security scheme (drf-spectacular finds the class by its path)."""

    target_class = "contacts.readapi.auth.BearerTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token from /account/tokens."}


