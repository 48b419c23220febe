"""One log line per refused request (4xx): method, path, status, who asked and why, never a traceback.

Django logs a refusal through `django.utils.log.log_response`: a 403 (PermissionDenied) and a 400 it
raised itself come with the exception attached, so a supervisor opening an admin's page printed a
40-line traceback, and a DisallowedHost one at ERROR. `OneLineRefusals` is a logging filter set on
the loggers Django writes refusals to (`LOGGERS`, wired in settings.LOGGING); it rewrites such a
record in place before any handler sees it, so every handler, a test's capture included, gets the
one line. A 5xx record is left as it came: a real 500 keeps its traceback.

Levels: a refusal that says someone reached for what is not theirs (403, a CSRF failure, a request
Django calls suspicious such as an unknown Host, 429) is a WARNING; the rest (404, 405, 401, a plain
400) are the API's and the pages' ordinary answers to a client's mistake, INFO. The demo traffic
provokes 404s and 400s on purpose (README "Traffic simulator"): they stay out of a console that
shows warnings only.
"""

from __future__ import annotations

import logging

# Where Django logs refusals: the request logger (404, 405, 403 PermissionDenied, BadRequest, any 4xx a view
# returned), the CSRF check, and one logger per SuspiciousOperation class it catches (`django.security.<name>`,
# Django's own subclasses). A filter applies only to records logged to its own logger, not to a child's,
# hence the list rather than `django.security`.
LOGGERS = (
    "django.request",
    "django.security.csrf",
    *(
        f"django.security.{name}"
        for name in (
            "SuspiciousOperation", "DisallowedHost", "DisallowedRedirect", "SuspiciousFileOperation",
            "SuspiciousMultipartForm", "RequestDataTooBig", "TooManyFieldsSent", "TooManyFilesSent",
            "SuspiciousSession",
        )
    ),
)
WARNING_STATUSES = {403, 429}


class OneLineRefusals(logging.Filter):
    """Rewrites a 4xx record of Django's into `GET /audit/ 403 user 7: Forbidden (Permission denied)`."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        request = getattr(record, "request", None)
        if not isinstance(status, int) or not 400 <= status < 500 or request is None:
            return True
        if getattr(record, "one_line", False):
            # Rewritten already: configuring logging again (django.setup() in a test) adds a second filter.
            return True
        record.one_line = True
        reason = _reason(record)
        record.msg = "%s %s %s %s: %s"
        record.args = (_escaped(request.method or "-"), _escaped(request.path), status, _who(request), reason)
        record.exc_info = record.exc_text = record.stack_info = None
        warning = status in WARNING_STATUSES or record.name.startswith("django.security.")
        record.levelno = logging.WARNING if warning else logging.INFO
        record.levelname = logging.getLevelName(record.levelno)
        # The logger let the record through at Django's level; at the lower one it may not want it (LOG_LEVEL).
        return logging.getLogger(record.name).isEnabledFor(record.levelno)


def _reason(record: logging.LogRecord) -> str:
    """Django's message without the path it ends with ("Not Found: %s"), plus the exception's own words."""
    message, args = str(record.msg), record.args if isinstance(record.args, tuple) else ()
    if message.endswith(": %s") and args:
        message, args = message[: -len(": %s")], args[:-1]
    try:
        reason = message % args if args else message
    except (TypeError, ValueError):
        reason = message
    exception = record.exc_info[1] if record.exc_info else None
    said = str(exception) if exception is not None else ""
    if said and said not in reason:
        reason = f"{reason}: {said}"
    return _one_line(reason)


def _who(request: object) -> str:
    """`user <id>`, `anonymous`, or `api client` (the CCP API knows feeds and tokens, not users)."""
    from ccpdash.failures import API_PREFIXES

    if getattr(request, "path", "").startswith(API_PREFIXES):
        return "api client"
    try:
        user = getattr(request, "user", None)  # absent when refused before authentication (an unknown Host)
        if user is None or not user.is_authenticated:
            return "anonymous"
        return f"user {user.pk}"
    except Exception:  # the session could not be read (an outage): the line is still worth writing
        return "user unknown"


def _escaped(text: str) -> str:
    # As Django escapes what it logs: a decoded newline in a path must not forge a second log line.
    return text.encode("unicode_escape").decode("ascii")


def _one_line(text: str) -> str:
    # Django's arguments are escaped already (see above); its messages (a Host header's repr) need only this.
    return text.replace("\r", "\\r").replace("\n", "\\n")
