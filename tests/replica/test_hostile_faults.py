"""The replica's fault kinds for hostile servers: ``redirect`` (a Location anywhere) and ``endless`` (a body
that never ends, at full speed or dripping), driven through the proxy with a plain requests client."""

from __future__ import annotations

import argparse
import time

import pytest
import requests

from slidegrab.replica import FaultPlan
from slidegrab.replica.__main__ import parse_fault

PAGE = "https://slideslive.com/38990101"


@pytest.fixture
def client(replica):
    with requests.Session() as s:
        s.trust_env = False
        s.proxies = {"http": replica.proxy_url, "https": replica.proxy_url}
        s.verify = str(replica.ca_path)
        yield s


def test_redirect_sends_the_location_and_is_logged(replica, client, faults):
    faults(host="slideslive.com", path="/moved", kind="redirect", location="http://127.0.0.1:9/x", times=1)
    response = client.get("https://slideslive.com/moved", allow_redirects=False)
    assert (response.status_code, response.headers["Location"]) == (302, "http://127.0.0.1:9/x")
    assert replica.log.entries[-1].fault == "redirect"
    assert client.get("https://slideslive.com/moved", allow_redirects=False).status_code == 404  # times=1


def test_redirect_with_a_3xx_status_is_followed_by_an_ordinary_client(client, faults):
    faults(host="slideslive.com", path="/moved", kind="redirect", location=PAGE, status=301)
    response = client.get("https://slideslive.com/moved")
    assert response.history[0].status_code == 301
    assert (response.status_code, response.url) == (200, PAGE)


def test_endless_streams_until_the_client_hangs_up(replica, client, faults):
    faults(host="slideslive.com", path="/endless", kind="endless", status=200, body=b"abc" * 1000)
    with client.get("https://slideslive.com/endless", stream=True) as response:
        assert "Content-Length" not in response.headers
        read = 0
        for chunk in response.iter_content(65536):
            read += len(chunk)
            if read > 20 * 1024 * 1024:
                break
    assert replica.log.entries[-1].fault == "endless"
    assert client.get(PAGE).status_code == 200  # the proxy goes on


def test_endless_with_a_pause_drips(client, faults):
    faults(host="slideslive.com", path="/drip", kind="endless", status=200, body=b"x", pause=0.2)
    started = time.monotonic()
    with client.get("https://slideslive.com/drip", stream=True) as response:
        chunks = [response.raw.read1(100) for _ in range(4)]
    assert chunks == [b"x"] * 4
    assert time.monotonic() - started >= 0.6


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("s.slideslive.com:/x:redirect:http://127.0.0.1:9/y", {"kind": "redirect", "location": "http://127.0.0.1:9/y"}),
        ("*:*.vtt:endless:0.5", {"kind": "endless", "pause": 0.5}),
        ("*:*.vtt:endless", {"kind": "endless"}),
    ],
)
def test_fault_specs_for_hostile_servers(spec, rule):
    parsed = parse_fault(spec)
    assert rule.items() <= parsed.items()
    FaultPlan().add(**parsed)


def test_bad_hostile_rules_are_refused():
    with pytest.raises(argparse.ArgumentTypeError, match="needs a location"):
        parse_fault("h:/p:redirect")
    with pytest.raises(ValueError, match="needs a location"):
        FaultPlan().add(kind="redirect")
    with pytest.raises(ValueError, match="pause"):
        FaultPlan().add(kind="endless", pause=-1)
