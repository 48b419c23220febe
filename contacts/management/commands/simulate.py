"""Send realistic traffic through the real CCP HTTP API and summarise the outcomes."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from contacts import simulator

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
        parser.add_argument("--rate", type=float, default=2.0, help="contacts per second")
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
            count=options["count"], rate=options["rate"], callback_share=options["callback_share"],
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
    from dataclasses import replace

    return replace(profile, seed=seed)
