"""How many inputs each fuzz test tries: a modest default for `make test`, scaled up by CCPDASH_FUZZ_EXAMPLES.

Every test takes its settings from `fuzz(name)`, so the whole budget is this one table. By default the inputs are
derandomized (every run of `make test` tries the same ones, so CI does not flake). With CCPDASH_FUZZ_EXAMPLES=N
each test's share of N is its weight here, rounded up (the sum is at least N), and the inputs are random, with
failures kept in Hypothesis's example database (.hypothesis/) to be replayed first by the next run.
"""

from __future__ import annotations

import math
import os

from hypothesis import HealthCheck, settings

# Inputs per test in the default run (and each test's weight in the long run).
DEFAULTS = {
    "xml_create": 120,
    "json_create": 100,
    "query_create": 100,
    "raw_create": 60,
    "headers": 50,
    "ids": 50,
    "contact_requests": 60,
    "renotify_bodies": 40,
    "dashboard_list": 40,
    "dashboard_reads": 50,
    "dashboard_admin": 40,
    "dashboard_display": 10,
}
# The whole suite runs with a function-scoped `db`: every input of a test shares its transaction, and each one
# runs in a savepoint that is rolled back (tests.fuzz.conftest.fresh), so no input sees another's rows.
SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
              HealthCheck.large_base_example]


def long_run_total() -> int:
    raw = os.environ.get("CCPDASH_FUZZ_EXAMPLES", "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        raise ValueError(f"CCPDASH_FUZZ_EXAMPLES must be a whole number of inputs, not {raw!r}")
    return int(raw)


def examples(name: str) -> int:
    total = long_run_total()
    if not total:
        return DEFAULTS[name]
    return math.ceil(total * DEFAULTS[name] / sum(DEFAULTS.values()))


def fuzz(name: str) -> settings:
    """The settings of the fuzz test `name`: its inputs, no deadline (PostgreSQL's first query of a test is slow)."""
    randomized = bool(long_run_total())
    return settings(max_examples=examples(name), deadline=None, derandomize=not randomized,
                    suppress_health_check=SUPPRESSED, print_blob=randomized)
