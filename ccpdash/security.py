"""The Content-Security-Policy header on every answer (Django 5.2 has none of its own).

The pages load scripts and styles from this site only, with no inline script (tests check the
templates), so the policy allows nothing else: no script another page could inject would run. The
WebSocket is same-origin ('self' covers ws:/wss: to this host). Set by CONTENT_SECURITY_POLICY; empty
turns it off. An answer that already has the header (a view's own) keeps it.
"""

from __future__ import annotations

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
