"""Who may read /metrics: a scraper with the bearer token or from an allowed network; nobody when neither is set."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from ccpdash import settings as project_settings
from tests.metrics.support import scrape

TOKEN = "s3cret-scrape-token"
OUTSIDE = "203.0.113.7"


@pytest.fixture
def token(settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


@pytest.fixture
def networks(settings) -> None:
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]


@pytest.mark.django_db
class AccessTests:
    def test_it_refuses_everybody_when_neither_a_token_nor_networks_are_set(self, client, settings):
        settings.METRICS_TOKEN, settings.METRICS_ALLOWED_NETWORKS, settings.DEBUG = "", [], True
        response = client.get("/metrics")  # from 127.0.0.1, with DEBUG on
        assert response.status_code == 403
        assert b"ccpdash_" not in response.content

    @pytest.mark.usefixtures("token")
    def test_it_asks_for_the_token_without_one(self, client):
        response = client.get("/metrics")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'

    @pytest.mark.usefixtures("token")
    @pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "])
    def test_it_refuses_a_wrong_token(self, client, header):
        assert client.get("/metrics", HTTP_AUTHORIZATION=header).status_code == 401

    @pytest.mark.usefixtures("token")
    def test_it_serves_the_bearer_of_the_token_from_anywhere(self, client):
        samples = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}", REMOTE_ADDR=OUTSIDE)
        assert ("ccpdash_backlog_contacts", ()) in samples

    @pytest.mark.usefixtures("networks")
    @pytest.mark.parametrize("address", ["10.1.2.3", "::1", "::ffff:10.9.9.9"])
    def test_it_serves_an_address_of_the_allowed_networks(self, client, address):
        assert ("ccpdash_backlog_contacts", ()) in scrape(client, REMOTE_ADDR=address)

    @pytest.mark.usefixtures("networks")
    @pytest.mark.parametrize("address", [OUTSIDE, "127.0.0.1", "11.0.0.1", ""])
    def test_it_refuses_an_address_outside_them(self, client, address):
        assert client.get("/metrics", REMOTE_ADDR=address).status_code == 403

    @pytest.mark.usefixtures("networks")
    def test_it_never_takes_the_address_from_x_forwarded_for(self, client):
        assert client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403

    def test_it_accepts_either_when_both_are_set(self, client, settings):
        settings.METRICS_TOKEN = TOKEN
        settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
        assert client.get("/metrics", REMOTE_ADDR="10.0.0.1").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 401

    @pytest.mark.usefixtures("token")
    def test_it_answers_only_get(self, client):
        assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


class NetworkSettingTests:
    def test_it_reads_networks_and_single_addresses(self, monkeypatch):
        monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8, 192.168.1.10 ,::1/128")
        assert project_settings.env_networks("METRICS_ALLOWED_NETWORKS") == [
            ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.1.10/32"), ipaddress.ip_network("::1")]

    def test_it_fails_loudly_on_something_that_is_no_network(self, monkeypatch):
        monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8,intranet")
        with pytest.raises(ImproperlyConfigured, match="intranet"):
            project_settings.env_networks("METRICS_ALLOWED_NETWORKS")
