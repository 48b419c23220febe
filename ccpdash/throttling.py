"""A client as the throttles see it (its address; a proxy's header only when trusted), and the login lockout page.

django-axes counts failed logins (settings "Throttling", README "Throttling") and asks `client_address` for the
address it counts them under; the CCP API's throttles (contacts.api.throttle) count under the same one. When axes
refuses a login, its middleware answers with `locked_out`.
"""

from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address: REMOTE_ADDR, or behind TRUST_X_FORWARDED_FOR proxies the one the outermost saw.

    Each proxy appends the address it got the request from to X-Forwarded-For, so with n proxies the n-th entry
    from the right is the client's, whatever the client put in the header itself. A header with fewer entries (a
    request that did not come through every proxy) or an entry that is no IP address leaves REMOTE_ADDR; axes
    stores the address in an IP address column, which refuses anything else.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUST_X_FORWARDED_FOR
    if proxies:
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(hops) >= proxies and _is_ip_address(hops[-proxies].strip()):
            return hops[-proxies].strip()
    return remote


def lockout_parameters(request: HttpRequest, credentials: dict | None = None) -> list[str]:
    """What axes counts a failure under (AXES_LOCKOUT_PARAMETERS): the username and the address, each on its own.

    A failure without a username (a wrong API token, contacts.readapi.auth) is counted under the address only:
    axes would count it under a null username as well, which every address's wrong tokens share, so ten of them
    from anywhere would lock every client out of the API.
    """
    return ["username", "ip_address"] if (credentials or {}).get("username") else ["ip_address"]


def locked_out(request: HttpRequest, *_unused: object) -> HttpResponse:
    """429 with Retry-After and templates/registration/locked_out.html (axes' AXES_LOCKOUT_CALLABLE).

    Axes calls it with the refused response and the credentials as well (in its sync and async paths in a different
    order), and neither is needed here. Every try during the lockout starts the cool-off again (axes' default), so
    the whole cool-off is what is left.
    """
    seconds = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "wait": _in_words(seconds), "login_url": request.path}
    response = TemplateResponse(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response.render()


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _in_words(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"
