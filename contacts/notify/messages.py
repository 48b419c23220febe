"""The notification format: one message per event, and how it is written for each kind of channel.

Message (the webhook's JSON body; `id` is the delivery's, the rest is the same for every channel):
    id        the delivery id (also the Ccpdash-Delivery-Id header): the same for every attempt
    type      discards.opened | discards.grown | discards.resolved | queue.crossed | queue.resolved |
              connection.lost | connection.restored | test
    status    "open" (something is wrong), "resolved", or "test"
    subject   what it is about: the alert group ("NOTIFICATION_NO_SCRIPT in NoScript"), the queue's
              threshold ("QUEUE_MAX_QUEUED in MRD 5000") or "CCE connection"
    count     the group's open discards (a burst is one message that says how many); 1 or 0 otherwise
    title     one line for a person; text: what happened and what fixes it
    url       where to look (the dashboard, or the group's resubmit preview)
    rule      {"id", "name"} of the rule that sent it; null for a test
    at        ISO 8601 time the event was seen
Slack gets `{"text": ...}`, Teams an Adaptive Card, email a subject and a plain-text body; the
webhook's body is this object as compact JSON with sorted keys, so every attempt signs the same bytes.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings

OPENED, GROWN, RESOLVED = "opened", "grown", "resolved"
TYPES = {
    ("discards", OPENED): "discards.opened",
    ("discards", GROWN): "discards.grown",
    ("discards", RESOLVED): "discards.resolved",
    ("queue", OPENED): "queue.crossed",
    ("queue", RESOLVED): "queue.resolved",
    ("connection", OPENED): "connection.lost",
    ("connection", RESOLVED): "connection.restored",
}


def site_url(path: str = "/") -> str:
    return f"{settings.NOTIFY_SITE_URL.rstrip('/')}{path or '/'}"


def message(type_: str, *, subject: str, count: int, title: str, text: str, at: datetime, path: str = "/",
            rule=None) -> dict:
    return {
        "type": type_,
        "status": status_of(type_),
        "subject": subject,
        "count": count,
        "title": title,
        "text": text,
        "url": site_url(path),
        "rule": {"id": rule.pk, "name": rule.name} if rule is not None else None,
        "at": at.isoformat(),
    }


def status_of(type_: str) -> str:
    if type_ == "test":
        return "test"
    return "resolved" if type_.endswith((".resolved", ".restored")) else "open"


def test_message(channel, at: datetime) -> dict:
    return message(
        "test", subject="test", count=0, at=at, title=f"Test message from ccpdash to {channel.name}",
        text="If you can read this, the channel works. Sent from the admin's \"Send a test message\".",
    )


def webhook_body(delivery_id: str, payload: dict) -> bytes:
    return json.dumps({**payload, "id": delivery_id}, sort_keys=True, separators=(",", ":")).encode()


def slack_body(payload: dict) -> bytes:
    text = f"*{payload['title']}*\n{payload['text']}\n<{payload['url']}|Open ccpdash>"
    return json.dumps({"text": text}).encode()


def teams_body(payload: dict) -> bytes:
    """An Adaptive Card, the message a Teams Workflows incoming webhook posts to its channel."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": payload["title"], "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": payload["text"], "wrap": True},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open ccpdash", "url": payload["url"]}],
    }
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return json.dumps({"type": "message", "attachments": [attachment]}).encode()


def email_text(payload: dict) -> str:
    return f"{payload['text']}\n\n{payload['url']}\n\n-- \nccpdash ({payload['type']}, {payload['at']})\n"
