"""The CCP-compatible HTTP API (spec §4): thin views that parse, authorize, call the lifecycle and respond.

Wire formats and limits live in `contacts.api.payloads` (in) and `contacts.api.documents` (out); every
state change goes through `contacts.core.lifecycle`; the work a change calls for (submit, cancel,
renotify) is enqueued by `contacts.cce.followups` after commit, so no view here ever waits for the
contact center.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.common import no_append_slash
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from ccpdash.throttling import client_address
from contacts.core import lifecycle
from contacts.core.lifecycle import CANCEL_REQUESTED, Kind, Source, State
from contacts.core.models import Contact, Feed
from contacts.workflows import actions

from . import documents, payloads, throttle
from .documents import ApiError

_CONTACT_ID = re.compile(r"[0-9A-Fa-f]{32}")
_FEED_ID = re.compile(r"[0-9]{1,10}")
_DIGITS = re.compile(r"[0-9]{1,18}")
_MAX_FEED_ID = 2**31 - 1  # the largest id every database's integer column holds


class Refusal(Exception):
    """An answer other than success: its status, its `<ApiError>`s and any extra headers."""

    def __init__(self, status: int, errors: list[ApiError], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.errors, self.headers = status, errors, headers or {}


def refusal(status: int, error_type: str, data: str, message: str, **headers: str) -> Refusal:
    return Refusal(status, [ApiError(error_type, data, message)], headers)


def answers_refusals(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Turn a `Refusal` raised anywhere in the view into its ApiErrors document."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Refusal as refused:
            return refused_answer(request, refused)

    return wrapper


def refused_answer(request: HttpRequest, refused: Refusal) -> HttpResponse:
    """The ApiErrors document of `refused`, XML or JSON as the request negotiated, with its status and headers."""
    body, content_type = documents.render_errors(refused.errors, wants_json(request))
    response = HttpResponse(body, status=refused.status, content_type=content_type)
    for name, value in refused.headers.items():
        response[name] = value
    return response


# --- views ---------------------------------------------------------------------------------------


@csrf_exempt
@no_append_slash
@never_cache
@require_http_methods(["GET", "POST"])
@answers_refusals
def create_contact(request: HttpRequest, feed_id: str, kind: str, family: str) -> HttpResponse:
    """Create a task or callback from an XML/JSON body (POST) or a query string (GET): 201 + Location."""
    feed = _feed(feed_id)
    _authorize(request, feed)
    if not feed.enabled:
        raise refusal(400, documents.INVALID_INPUT, "feedId", f"feed {feed.pk} is disabled")
    if feed.kind != kind:
        raise refusal(400, documents.INVALID_INPUT, "feedId", f"feed {feed.pk} takes {feed.kind}s, not {kind}s")
    if request.method == "GET":
        payload, errors = payloads.parse_query(kind, _query(request))
    else:
        payload, errors = payloads.parse_body(kind, _body(request), request.content_type or "")
    if errors:
        raise Refusal(400, errors)
    contact = lifecycle.create(kind, feed, source=Source.API, **payload.model_fields())
    response = HttpResponse(status=201)
    response["Location"] = _url(request, f"api-{family}-{kind}-contact", contact)
    return response


@csrf_exempt
@no_append_slash
@never_cache
@require_http_methods(["GET", "DELETE"])
@answers_refusals
def contact_status(request: HttpRequest, contact_id: str, kind: str, family: str) -> HttpResponse:
    """A contact's status (GET) or its cancel (DELETE), in the current or the SocialMiner-era format."""
    contact = _contact(contact_id, kind)
    _authorize(request, contact.feed)
    now = timezone.now()
    if _cancelled_through_api(contact) or _expired(contact, now):
        raise refusal(404, "notFound", "id", "this contact is no longer available here")
    if request.method == "DELETE":
        return _cancel(contact)
    # Not a state change, so not a lifecycle move: only this column, so no concurrent move is undone.
    Contact.objects.filter(pk=contact.pk).update(last_polled_at=now)
    if family == "sm":
        document = documents.social_contact_document(contact, _url(request, f"api-sm-{kind}-contact", contact))
    else:
        document = documents.status_document(contact)
    return _respond(request, document)


@csrf_exempt
@no_append_slash
@never_cache
@require_http_methods(["PUT"])
@answers_refusals
def renotify_task(request: HttpRequest, contact_id: str) -> HttpResponse:
    """Resubmit a task (T9), optionally with a new scriptSelector: 200, or 412 where T9 does not apply."""
    contact = _contact(contact_id, Kind.TASK)
    _authorize(request, contact.feed)
    payload, errors = payloads.parse_renotify(_body(request), request.content_type or "")
    if errors:
        raise Refusal(400, errors)
    try:
        actions.renotify(contact, source=Source.API, comment=payload.reason, script_selector=payload.script_selector)
    except actions.ActionRefused as refused:
        raise _not_now(412, "renotify", refused.pair) from None
    return HttpResponse(status=200)


@csrf_exempt
@no_append_slash
@never_cache
@require_http_methods(["GET"])
@answers_refusals
def social_contact(request: HttpRequest, contact_id: str) -> HttpResponse:
    """The social contact: always answers, also after a cancel, an expiry or without the feed's token.

    The agent desktop fetches this URL to show the contact, and it never holds a feed's token; the
    32-hex random id is the capability, and the document carries only status, title and author.
    Reading it does not count as a poll of the status URL.
    """
    contact = _contact(contact_id, None)
    ref_url = _url(request, request.resolver_match.url_name, contact)
    return _respond(request, documents.social_contact_document(contact, ref_url))


@require_GET
def try_page(request: HttpRequest) -> FileResponse:
    """A small page that drives the API from the browser (no login: it is an API demo)."""
    path = finders.find("try/index.html")
    if not path:
        raise Http404("static/try/index.html is missing")
    return FileResponse(open(path, "rb"), content_type="text/html; charset=utf-8")


# --- helpers -------------------------------------------------------------------------------------


def wants_json(request: HttpRequest) -> bool:
    """JSON when Accept prefers it; with no preference, a JSON body is answered in JSON."""
    try:
        preferred = request.get_preferred_type([documents.XML_CONTENT_TYPE, documents.JSON_CONTENT_TYPE])
    except ValueError:  # an Accept Django cannot read (RFC 2231 `q*=0''`, an unknown charset): it prefers nothing
        preferred = None
    if preferred == documents.JSON_CONTENT_TYPE:
        return True
    no_preference = request.headers.get("Accept", "*/*").strip() in {"", "*/*"}
    # GET and DELETE never look at Content-Type: browser forms send application/xml on every request.
    return no_preference and request.method in {"POST", "PUT"} and payloads.is_json(request.content_type or "")


def _respond(request: HttpRequest, document: documents.Document) -> HttpResponse:
    body, content_type = documents.render(document, wants_json(request))
    return HttpResponse(body, content_type=content_type)


def _feed(feed_id: str) -> Feed:
    feed = None
    if _FEED_ID.fullmatch(feed_id) and int(feed_id) <= _MAX_FEED_ID:
        feed = Feed.objects.filter(pk=int(feed_id)).first()
    if feed is None:
        raise refusal(404, "notFound", "feedId", f"there is no feed {feed_id[:20]!r}")
    return feed


def _contact(contact_id: str, kind: str | None) -> Contact:
    """The contact with this id (of this kind, when given); a malformed id is simply unknown."""
    contact = None
    if _CONTACT_ID.fullmatch(contact_id):
        found = Contact.objects.select_related("feed").filter(public_id=contact_id.upper())
        contact = found.filter(kind=kind).first() if kind else found.first()
    if contact is None:
        raise refusal(404, "notFound", "id", f"there is no {kind or 'contact'} with this id")
    return contact


def _authorize(request: HttpRequest, feed: Feed) -> None:
    """A feed with a token requires `Authorization: Bearer <token>`; feeds without one are open, as in CCP.

    A wrong token counts against the client (contacts.api.throttle); a client locked out is answered 429 before
    its token is looked at. A missing token is a client's configuration, not a guess, and is not counted.
    """
    if not feed.api_token:
        return
    client = client_address(request)
    if wait := throttle.token_lockout(client):
        raise _too_many_wrong_tokens(wait)
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise refusal(401, "unauthorized", "Authorization", "this feed requires 'Authorization: Bearer <token>'",
                      **{"WWW-Authenticate": 'Bearer realm="ccpdash"'})
    if not hmac.compare_digest(token.strip().encode(), feed.api_token.encode()):
        if wait := throttle.count_wrong_token(client):
            raise _too_many_wrong_tokens(wait)
        raise refusal(401, "unauthorized", "Authorization", "the bearer token is not valid for this feed",
                      **{"WWW-Authenticate": 'Bearer realm="ccpdash", error="invalid_token"'})


def _too_many_wrong_tokens(wait: int) -> Refusal:
    message = f"too many wrong bearer tokens from this client; retry after {wait} seconds"
    return refusal(429, documents.TOO_MANY_REQUESTS, "Authorization", message, **{"Retry-After": str(wait)})


def _body(request: HttpRequest) -> bytes:
    """The body, at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes (by Content-Length and by what arrives): else 413."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    declared = (request.META.get("CONTENT_LENGTH") or "0").strip()
    if not declared.isascii() or not declared.isdigit():
        raise refusal(400, documents.INVALID_INPUT, "Content-Length", "Content-Length must be a whole number")
    if not _DIGITS.fullmatch(declared) or int(declared) > limit:
        raise _too_large(limit)
    try:
        body = request.body
    except RequestDataTooBig:
        raise _too_large(limit) from None
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _too_large(limit: int) -> Refusal:
    return refusal(413, "requestTooLarge", "body", f"the body must be at most {limit} bytes")


def _query(request: HttpRequest) -> QueryDict:
    try:
        return request.GET
    except TooManyFieldsSent:
        raise refusal(400, documents.INVALID_INPUT, "query", "the query string has too many fields") from None


def _url(request: HttpRequest, url_name: str, contact: Contact) -> str:
    """The absolute URL of `contact` under `url_name`; never ends in a slash."""
    return request.build_absolute_uri(reverse(url_name, kwargs={"contact_id": contact.public_id}))


def _cancel(contact: Contact) -> HttpResponse:
    """C5/T6, accepted only where the table lists it: not while a cancel is already in flight."""
    try:
        actions.request_cancel(contact, source=Source.API)
    except actions.ActionRefused as refused:
        raise _not_now(400, "cancel", refused.pair) from None
    return HttpResponse(status=200)


def _not_now(status: int, action: str, pair: lifecycle.Pair | None) -> Refusal:
    where = f"status {pair.state}, reason {pair.reason or 'none'}" if pair else "its current position"
    return refusal(status, "invalidState", "status", f"cannot {action} a contact at {where}")


def _cancelled_through_api(contact: Contact) -> bool:
    """True once a cancel that the API requested has succeeded; dashboard and admin cancels never hide."""
    if contact.state != State.DISCARDED or contact.reason not in lifecycle.CANCEL_SUCCEEDED:
        return False
    requested = contact.transitions.filter(to_state=State.QUEUED, to_reason__in=CANCEL_REQUESTED)
    return requested.order_by("-id").values_list("source", flat=True).first() == Source.API


def _expired(contact: Contact, now: datetime) -> bool:
    """An unfinished contact nobody polled for CCP_STATUS_EXPIRY_SECONDS (0: never), checked on read."""
    seconds = settings.CCP_STATUS_EXPIRY_SECONDS
    if not seconds or contact.state in {State.HANDLED, State.DISCARDED}:
        return False
    return now - (contact.last_polled_at or contact.created_at) > timedelta(seconds=seconds)
