"""/metrics: the Prometheus text format, for a scraper that presents the token or connects from an allowed network.

Access (settings METRICS_TOKEN, METRICS_ALLOWED_NETWORKS; README "Metrics"):
    - a request from an address in METRICS_ALLOWED_NETWORKS is served;
    - else one with `Authorization: Bearer <METRICS_TOKEN>` is served;
    - else 401 (with `WWW-Authenticate: Bearer`) when a token is configured, 403 when none is;
    - with neither setting, nobody is served, DEBUG or not: metrics name the queues and their traffic, and
      a development server is often reachable from more than its own machine.
The address is the connection's peer (REMOTE_ADDR), never X-Forwarded-For, which any client can write:
behind a proxy it is the proxy's, so scrape each host's web process directly, or use the token.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from .collector import FiguresCollector


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    refused = refusal(request)
    if refused is not None:
        return refused
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def refusal(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, else the answer that refuses it."""
    token = settings.METRICS_TOKEN
    if from_allowed_network(request.META.get("REMOTE_ADDR", "")):
        return None
    if token and constant_time_compare(bearer_token(request), token):
        return None
    if token:
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse("Metrics are not served to this address (README \"Metrics\").\n", status=403,
                        content_type="text/plain")


def from_allowed_network(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # no peer address (a Unix socket) is no allowed network's
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:10.0.0.5 is 10.0.0.5 on a dual-stack socket
    return any(ip in network for network in settings.METRICS_ALLOWED_NETWORKS)


def bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def scrape_registry() -> CollectorRegistry:
    """The instruments of every process of this host (their files), and the figures read now."""
    directory = Path(settings.PROMETHEUS_MULTIPROC_DIR)
    forget_exited_processes(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    registry.register(FiguresCollector())
    return registry


def forget_exited_processes(directory: Path) -> None:
    """Drop the live gauges (open sockets) of processes that are gone: a process killed without cleaning up (a
    crashed web worker) would otherwise count its sockets for ever. Counters and histograms stay summed."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = int(path.stem.rpartition("_")[2])
        if not process_exists(pid):
            multiprocess.mark_process_dead(pid, str(directory))


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True
