"""Send realistic traffic through the real CCP HTTP API and summarise the outcomes."""

from __future__ import annotations

import sys
import time
import urllib.request
from collections import Counter
from dataclasses import replace

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from contacts.demo import simulator

# `make run`'s default stream: mostly successes, a few of each discard, some cancels.
GENTLE_FAILURE_SHARE = 0.015


class Command(BaseCommand):
    help = (
        "Send contacts to a running ccpdash through its HTTP API. Example: "
        "manage.py simulate --count 200 --rate 5 --fail no_script=0.1 --fail invalid_mrd=0.05 --cancel-share 0.1"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="base URL of ccpdash")
        parser.add_argument("--count", type=int, default=100, help="contacts per run (per batch with --forever)")
        parser.add_argument("--rate", type=float, default=None,
                            help="contacts per second (default 2; with --gentle 0.5, capped to half an MRD's capacity)")
        parser.add_argument("--callback-share", type=float, default=0.2, help="share of callbacks among successes")
        parser.add_argument(
            "--fail", action="append", default=[], metavar="KIND=SHARE",
            help=f"share of a failure kind; kinds: {', '.join(simulator.FAILURES)}",
        )
        parser.add_argument("--cancel-share", type=float, default=0.0, help="share cancelled right after create")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for final outcomes")
        parser.add_argument("--gentle", action="store_true", help="the demo mix: mostly successes, some discards")
        parser.add_argument("--forever", action="store_true", help="keep sending batches until interrupted")

    def handle(self, *args, **options) -> None:
        profile = self._profile(options)
        if options["gentle"]:
            profile = _with_rate(profile, gentle_rate(profile))
            self.stdout.write(f"gentle demo traffic: {profile.rate:.2f} contacts/s to {options['url']}")
        if options["forever"]:
            wait_for_server(options["url"])
        run = simulator.Run(simulator.ApiClient(options["url"]), profile, progress=self._progress)
        try:
            seed = profile.seed
            while True:
                run.send(simulator.plan(_with_seed(profile, seed)))
                if not options["forever"]:
                    break
                seed += 1
            run.finish(options["timeout"])
        except KeyboardInterrupt:
            self.stdout.write("\ninterrupted")
        except OSError as error:
            raise CommandError(f"cannot reach ccpdash at {options['url']}: {error}") from None
        self.stdout.write("")
        for line in simulator.summary_lines(run):
            self.stdout.write(line)

    def _profile(self, options) -> simulator.Profile:
        shares = {}
        for item in options["fail"]:
            kind, _, share = item.partition("=")
            try:
                shares[kind] = float(share)
            except ValueError:
                raise CommandError(f"--fail wants KIND=SHARE, got {item!r}") from None
        if options["gentle"]:
            shares = {kind: GENTLE_FAILURE_SHARE for kind in simulator.FAILURES} | shares
            options["cancel_share"] = options["cancel_share"] or 0.03
            options["callback_share"] = min(options["callback_share"], 0.1)
        profile = simulator.Profile(
            count=options["count"], rate=options["rate"] or (0.5 if options["gentle"] else 2.0),
            callback_share=options["callback_share"],
            failure_shares=shares, cancel_share=options["cancel_share"], seed=options["seed"],
        )
        try:
            profile.validate()
        except ValueError as error:
            raise CommandError(str(error)) from None
        return profile

    def _progress(self, run: simulator.Run) -> None:
        # One line rewritten in place on a terminal; a line per 20 contacts sent in a log file.
        if sys.stdout.isatty():
            self.stdout.write(f"\r{run.progress_line()}", ending="")
            self.stdout.flush()
        elif run.sent % 20 == 0 and run.sent != getattr(self, "_last_logged", None):
            self._last_logged = run.sent
            self.stdout.write(run.progress_line())


def _with_seed(profile: simulator.Profile, seed: int) -> simulator.Profile:
    return replace(profile, seed=seed)


def _with_rate(profile: simulator.Profile, rate: float) -> simulator.Profile:
    return replace(profile, rate=rate)


def gentle_rate(profile: simulator.Profile) -> float:
    """The profile's rate, lowered so no MRD gets more than half of what its ready agents can handle.

    An MRD's capacity is its ready slots over the agents' mean handle time (scaled like routing
    scales it); the load on it is the share of the plan that is routed there. At half capacity
    queues stay short, so the demo runs for hours without a growing backlog.
    """
    from contacts.cce import queues
    from contacts.cce.models import DialedNumber
    from contacts.core.models import FeedNotification

    mrd_of = dict(DialedNumber.objects.filter(script__isnull=False).values_list("string", "mrd_id"))
    callback_mrd = FeedNotification.objects.filter(feed_id=profile.callback_feed).values_list("mrd_id", flat=True)
    share_by_mrd: Counter = Counter()
    plan = simulator.plan(replace(profile, count=1000))
    for contact in plan:
        if contact.intent not in (simulator.SUCCESS, "cancel"):
            continue  # discarded at submission: they never wait for an agent
        mrd = callback_mrd.first() if contact.kind == "callback" else mrd_of.get(contact.selector)
        if mrd is not None:
            share_by_mrd[mrd] += 1 / len(plan)
    rate = profile.rate
    for mrd, share in share_by_mrd.items():
        mrd_capacity = queues.capacity(mrd)
        seconds = mrd_capacity.mean_handle_seconds * settings.CCE_HANDLE_TIME_SCALE
        if mrd_capacity.slots and seconds:
            rate = min(rate, 0.5 * mrd_capacity.slots / seconds / share)
    return rate


def wait_for_server(url: str, timeout: float = 120) -> None:
    """`make run` starts the simulator beside the web server: wait until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise CommandError(f"ccpdash did not answer at {url} within {timeout:.0f} s")
