"""The site's URLconf, which every process loads (a worker too, to build links), leaves the read API's libraries
unloaded until the API is first asked: Django REST framework's views and drf-spectacular's generator cost each
process about 13 MB (benchmark: worker RSS)."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

HEAVY = ("rest_framework.views", "rest_framework.serializers", "drf_spectacular.generators", "contacts.readapi.views")
PROBE = f"""
import sys, django
django.setup()
from django.urls import reverse
reverse("dashboard-home"), reverse("readapi-queues")
print("loaded:" + ",".join(name for name in {HEAVY!r} if name in sys.modules))
"""


def loaded_after(probe: str) -> list[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=settings.BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    [line] = [line for line in done.stdout.splitlines() if line.startswith("loaded:")]
    return [name for name in line.removeprefix("loaded:").split(",") if name]


class UrlconfLoadingTests:
    def test_reversing_any_url_loads_none_of_the_read_apis_libraries(self) -> None:
        assert loaded_after(PROBE) == []

    def test_the_first_api_request_loads_them(self) -> None:
        probe = PROBE.replace('print(', 'from django.test import Client; Client().get("/api/v1/queues")\nprint(')
        assert set(loaded_after(probe)) == set(HEAVY)
