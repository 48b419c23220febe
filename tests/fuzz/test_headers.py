"""Hostile headers, through the ASGI application as the web server hands requests over (Django builds the request
there, so a header it cannot read fails there, not in a view): Accept, Content-Type, Authorization, Cookie, Host,
Origin and X-Forwarded-For, on the API and on the dashboard.

Properties: never a 5xx; on the API with a host it serves, a 4xx is the ApiErrors document; a refused create
stores nothing.
"""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from .answers import Counts, api_errors, asgi_request
from .budget import fuzz
from .conftest import TOKEN, fresh

HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
MEDIA = st.sampled_from(("application/xml", "application/json", "text/html", "*/*", "application/*", "text/xml",
                         "application/x-www-form-urlencoded", "multipart/form-data", "x", ""))
# RFC 9110 parameters, and RFC 2231's extended ones (name*=charset'language'value) that email.message also reads.
PARAMETERS = st.sampled_from(("q=0.5", "q=0", "q=1.5", "q=x", "q=", "q=nan", "charset=utf-8", "charset=bogus",
                              "charset*=utf-8''x", "charset*=bogus''x", "q*=bogus''0.1", "a*0=x", "a*1*=bogus''y",
                              "boundary=x", "level=1", '"', "=", ";"))
MEDIA_TYPES = st.builds(lambda media, found: media + "".join(f"; {item}" for item in found), MEDIA,
                        st.lists(PARAMETERS, max_size=3))
ACCEPT = st.none() | st.lists(MEDIA_TYPES, max_size=3).map(", ".join) | st.text(HEADER_CHARS, max_size=40)
CONTENT_TYPE = st.none() | MEDIA_TYPES | st.text(HEADER_CHARS, max_size=40)
AUTHORIZATION = st.none() | st.sampled_from((f"Bearer {TOKEN}", "Bearer x", "Basic Og==", "Bearer " + "x" * 1000,
                                             "Digest a=b", "bearer", "Bearer  ")) | st.text(HEADER_CHARS, max_size=30)
COOKIE = st.sampled_from(("session", "session", "", "sessionid=garbage", "sessionid=", "a=b; sessionid=x", '"',
                          "sessionid=" + "x" * 4000, "csrftoken=x; sessionid", "=;=;")) | st.text(HEADER_CHARS,
                                                                                                   max_size=40)
HOST = st.sampled_from(("testserver", "testserver", "testserver:80", "evil.example", "[::1]", "testserver:abc", "",
                        "a" * 300, "testserver.", "TESTSERVER", "127.0.0.1:1"))
SERVED_HOSTS = {"testserver", "testserver:80", "[::1]", "127.0.0.1:1"}  # ALLOWED_HOSTS; Django answers the rest 400
OPTIONAL = st.none() | st.sampled_from(("https://forms.example.com", "null", "http://testserver", "1.2.3.4, 5.6.7.8",
                                        "unknown", "x" * 200))
TASK = b"<Task><name>Ada</name><title>t</title><scriptSelector>Sales</scriptSelector></Task>"
TARGETS = {
    "create": ("POST", "/ccp/rest/task/feed/{feed}", b"", TASK),
    "create-json": ("POST", "/ccp/task/feed/{feed}", b"", b'{"name": "Ada", "title": "t", "scriptSelector": "Sales"}'),
    "create-query": ("GET", "/ccp/task/feed/{feed}", b"name=Ada&title=t&scriptSelector=Sales", b""),
    "status": ("GET", "/ccp/rest/task/contact/{id}", b"", b""),
    "cancel": ("DELETE", "/ccp/task/contact/{id}", b"", b""),
    "renotify": ("PUT", "/ccp-webapp/ccp/task/{id}/renotify", b"", b"<Task><reNotifyReason>x</reNotifyReason></Task>"),
    "social": ("GET", "/ccp/rest/socialcontact/{id}", b"", b""),
    "list": ("GET", "/contacts/", b"q=Ada", b""),
    "detail": ("GET", "/contacts/{id}", b"", b""),
    "events": ("GET", "/events", b"after=0", b""),
    "overview": ("GET", "/overview", b"", b""),
    "ack": ("POST", "/alerts/ack", b"", b"all=on"),
    "home": ("GET", "/", b"", b""),
}


@pytest.mark.django_db
class HeaderTests:
    @fuzz("headers")
    @given(target=st.sampled_from(sorted(TARGETS)), token_feed=st.booleans(), accept=ACCEPT, content_type=CONTENT_TYPE,
           authorization=AUTHORIZATION, cookie=COOKIE, host=HOST, origin=OPTIONAL, forwarded=OPTIONAL)
    def test_it_never_fails_on_any_header(self, positioned, supervisor, target, token_feed, accept, content_type,
                                          authorization, cookie, host, origin, forwarded):
        method, template, query, body = TARGETS[target]
        contact = positioned[("task", "token" if token_feed else "discarded")]
        path = template.format(feed=300 if token_feed else 100, id=contact.public_id)
        if cookie == "session":
            cookie = f"sessionid={supervisor.cookies['sessionid'].value}"
        sent = {"accept": accept, "content-type": content_type, "authorization": authorization, "cookie": cookie,
                "origin": origin, "x-forwarded-for": forwarded}
        headers = [(name.encode(), value.encode("latin-1")) for name, value in sent.items() if value is not None]
        with fresh(throttles=True):
            before = Counts.now()
            answer = asgi_request(method, path, query, [(b"host", host.encode()), *headers], body,
                                  default_host=False)
            event(f"{target} {answer.status_code}")
            assert 0 < answer.status_code < 500, (answer.status_code, answer.content[:2000])
            api = path.startswith(("/ccp/", "/ccp-webapp/"))
            if api and 400 <= answer.status_code < 500 and host.lower().rstrip(".") in SERVED_HOSTS:
                api_errors(answer["Content-Type"], answer.content)
            if answer.status_code != 201:
                now = Counts.now()
                assert now.contacts == before.contacts
