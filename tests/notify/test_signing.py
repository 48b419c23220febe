"""The webhook signature: what verifies and what does not."""

from __future__ import annotations

from contacts.notify import signing

BODY = b'{"id":"d1","type":"test"}'


def signed(secret: str = "whsec_a", now: float = 1_800_000_000) -> dict[str, str]:
    return signing.headers(secret, "d1", BODY, now=now)


def verify(headers: dict[str, str], secret: str = "whsec_a", body: bytes = BODY, now: float = 1_800_000_010):
    return signing.verify(secret, headers[signing.TIMESTAMP_HEADER], headers[signing.SIGNATURE_HEADER], body,
                          now=now)


class SigningTests:
    def test_it_signs_the_timestamp_and_the_body(self):
        headers = signed()
        expected = signing.signature("whsec_a", 1_800_000_000, BODY)
        assert headers[signing.SIGNATURE_HEADER] == f"v1={expected}"
        assert verify(headers) is None

    def test_it_refuses_another_secret(self):
        assert "does not match" in verify(signed(), secret="whsec_b")

    def test_it_refuses_a_changed_body(self):
        assert "does not match" in verify(signed(), body=BODY + b" ")

    def test_it_refuses_a_replay_past_the_tolerance(self):
        assert "away" in verify(signed(), now=1_800_000_000 + signing.TOLERANCE_SECONDS + 1)

    def test_it_accepts_one_matching_signature_among_several(self):
        headers = signed()
        headers[signing.SIGNATURE_HEADER] = f"v1=00ff {headers[signing.SIGNATURE_HEADER]}"
        assert verify(headers) is None
