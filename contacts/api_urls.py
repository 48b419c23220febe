"""URLs of the CCP-compatible API (spec §4): both path families."""

urlpatterns: list = []
