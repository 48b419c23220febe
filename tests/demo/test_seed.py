"""`seed_demo` creates, and restores, the demo users and feeds."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from contacts.core.models import Feed


@pytest.mark.django_db
class SeedDemoTests:
    def test_it_creates_the_three_demo_logins_with_their_roles(self):
        call_command("seed_demo")
        # The login throttle (django-axes) needs each authentication's request: it counts failures by client.
        request = RequestFactory().post("/accounts/login/")
        superuser = authenticate(request, username="superuser", password="superuser")
        admin = authenticate(request, username="admin", password="admin")
        supervisor = authenticate(request, username="supervisor", password="supervisor")
        assert superuser.is_superuser
        assert admin.has_perm("contacts.manage_contacts") and admin.is_staff
        assert supervisor.has_perm("contacts.view_dashboard")
        assert not supervisor.has_perm("contacts.manage_contacts")

    def test_it_restores_changed_values(self):
        call_command("seed_demo")
        Feed.objects.filter(id=201).update(enabled=False, name="renamed")
        Feed.objects.create(id=999, name="mine", type=12)
        call_command("seed_demo")
        assert Feed.objects.get(id=201).enabled
        assert Feed.objects.get(id=201).notification.mrd_id == 9999
        assert Feed.objects.filter(id=999).exists()
