"""`manage.py webhook_receiver`: a local receiver that prints every notification it gets and whether it verified.

    .venv/bin/python manage.py webhook_receiver --port 8099 --secret whsec_...

Then add a webhook channel with URL http://127.0.0.1:8099/hook and that secret in the admin. Each request
prints its Ccpdash-* headers, "signature verified" (or why not), "duplicate" for a delivery id it has
seen, and the JSON body. `--fail-first N` answers 500 to the first N requests (to watch the retries).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from contacts.notify import receiver as receivers
from contacts.notify import signing


class Command(BaseCommand):
    help = "Receive ccpdash's webhook notifications on a local port and print each, with its signature check."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8099)
        parser.add_argument("--secret", default="", help="The channel's secret (shown in the admin), to verify.")
        parser.add_argument("--fail-first", type=int, default=0, help="Answer 500 to the first N requests.")

    def handle(self, *args, host: str, port: int, secret: str, fail_first: int, **options) -> None:
        server = receivers.Receiver(secret=secret, host=host, port=port, script=[receivers.FAIL] * fail_first,
                                    on_request=self.show)
        self.stdout.write(f"Listening on {server.url} (any path); "
                          f"{'verifying with the secret given' if secret else 'no --secret: signatures not checked'}."
                          " Ctrl-C stops.")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("stopped")

    def show(self, received: receivers.Received) -> None:
        self.stdout.write(describe(received))


def describe(received: receivers.Received) -> str:
    lines = [f"--- POST {received.path} ---"]
    for name in (signing.DELIVERY_HEADER, signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER, "Content-Type"):
        lines.append(f"{name}: {received.headers.get(name, '(none)')}")
    if not received.checked:
        lines.append("signature: not checked (no --secret)")
    else:
        lines.append("signature: verified" if received.verified else f"signature: NOT verified ({received.problem})")
    if received.duplicate:
        lines.append("duplicate: this delivery id came before; dropped")
    if received.action == receivers.FAIL:
        lines.append("answered 500 (--fail-first)")
    try:
        lines.append(json.dumps(received.json(), indent=2, sort_keys=True))
    except ValueError:
        lines.append(received.body.decode(errors="replace"))
    return "\n".join(lines)
