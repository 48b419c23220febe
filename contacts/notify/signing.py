"""The webhook signature: HMAC-SHA256 over the timestamp and the body, in the headers every attempt carries.

    Ccpdash-Delivery-Id: <uuid>                 the same for every attempt of one delivery: drop repeats
    Ccpdash-Timestamp:   <unix seconds>         when this attempt was signed
    Ccpdash-Signature:   v1=<hex>               hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))

As Stripe and Standard Webhooks do: signing the timestamp with the body lets a receiver refuse a
replayed request (older than its tolerance), and the version prefix lets a later scheme sit beside
this one (`v1=... v2=...`, separated by spaces). A receiver compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

DELIVERY_HEADER = "Ccpdash-Delivery-Id"
TIMESTAMP_HEADER = "Ccpdash-Timestamp"
SIGNATURE_HEADER = "Ccpdash-Signature"
SCHEME = "v1"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers(secret: str, delivery_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SCHEME}={signature(secret, timestamp, body)}",
    }


def verify(secret: str, timestamp: str, signature_header: str, body: bytes, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> str | None:
    """None if the request is signed with `secret` within the tolerance, else why not (for the receiver to say)."""
    try:
        signed_at = int(timestamp)
    except (TypeError, ValueError):
        return f"no usable {TIMESTAMP_HEADER}"
    if abs((now if now is not None else time.time()) - signed_at) > tolerance:
        return f"timestamp {signed_at} is more than {tolerance} s away"
    expected = signature(secret, signed_at, body)
    offered = [part.partition("=")[2] for part in (signature_header or "").split() if part.startswith(f"{SCHEME}=")]
    if not offered:
        return f"no {SCHEME} signature in {SIGNATURE_HEADER}"
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        return "signature does not match (wrong secret, or the body changed)"
    return None
