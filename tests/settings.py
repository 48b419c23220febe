"""Settings for the test suite: the project's settings with a private Redis namespace per run."""

import atexit
import os
import shutil
import tempfile
import uuid

# Set before the project settings read it, and inherited by the workers tests start, so a
# `make run` on the same Redis never takes a test's tasks or hears its broadcasts.
os.environ.setdefault("REDIS_PREFIX", f"ccpdash-test-{uuid.uuid4().hex[:8]}")
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    # The same for the per-process metrics' files: a test never counts what a `make run` served, and the
    # workers a test starts count into the run's directory. The process that made it removes it at exit.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ccpdash-test-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

from ccpdash.settings import *  # noqa: E402,F403
from ccpdash.settings import DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # One file per run (workers started by the run inherit REDIS_PREFIX), so two test runs on
    # one machine never share a SQLite test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test_db-{os.environ['REDIS_PREFIX']}.sqlite3")}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if os.environ.get("CCPDASH_USE_TEST_DATABASE"):
    # A Celery worker started by a test must write to the test database, not the real one.
    _db = DATABASES["default"]
    _db["NAME"] = _db.get("TEST", {}).get("NAME") or f"test_{_db['NAME']}"

# WhiteNoise warns about a missing STATIC_ROOT even though it serves from the finders.
STATIC_ROOT.mkdir(exist_ok=True)  # noqa: F405
