"""URLs of the admins' workflows: cancel and resubmit (one or many), bulk jobs, audit, CSV export."""

urlpatterns: list = []
