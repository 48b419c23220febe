"""URLs of discard and queue alerts (list, acknowledge) and the dashboard charts' data."""

urlpatterns: list = []
