"""The replica's transport: TLS-terminating proxy, keep-alive, Range, refusals, faults, log, stop().

These tests drive a small in-test site through the real proxy with real clients (requests, http.client,
openssl, Chromium); the replica's own sites are tested elsewhere.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from slidegrab.net import NetConfig
from slidegrab.replica import FaultPlan, Replica
from slidegrab.replica.__main__ import parse_fault
from slidegrab.replica.wire import Request, Response

HOSTS = {"slideslive.com", "s.slideslive.com", "1159783934.rsc.cdn77.org", "player.vimeo.com"}
CHROMIUM_FLAGS = (
    *("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"),
    *("--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"),
)
PAGE = "<html><head><title>Replica test talk</title></head><body><p id='hello'>hello</p></body></html>"


class SmallSite:
    """A real (if tiny) site: an echo, a page, a file, and a failure."""

    def __init__(self, media: Path):
        self.media = media

    def serves(self, host: str) -> bool:
        return host in HOSTS

    def handle(self, request: Request) -> Response:
        if request.path == "/echo":
            return Response.text(f"{request.method} {request.url} {request.body.decode()}")
        if request.path == "/38900001":
            return Response.text(PAGE, content_type="text/html; charset=utf-8")
        if request.path == "/media.bin":
            return Response(file=self.media, headers={"Content-Type": "application/octet-stream"})
        if request.path == "/boom":
            raise RuntimeError("the site broke")
        return Response.text("not found\n", 404)


@pytest.fixture
def media(tmp_path) -> Path:
    path = tmp_path / "media.bin"
    path.write_bytes(os.urandom(256 * 1024))
    return path


@pytest.fixture
def proxy(tmp_path, media):
    with Replica(app=SmallSite(media), cache_dir=tmp_path / "replica") as r:
        yield r


def client(replica: Replica) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
    s.proxies = {"http": replica.proxy_url, "https": replica.proxy_url}
    s.verify = str(replica.ca_path)
    return s


def proxy_address(replica: Replica) -> tuple[str, int]:
    host, port = replica.proxy_url.removeprefix("http://").split(":")
    return host, int(port)


def tunnel(replica: Replica, host: str) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(replica.ca_path))
    conn = http.client.HTTPSConnection(*proxy_address(replica), context=context, timeout=5)
    conn.set_tunnel(host, 443)
    return conn


def connection_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "replica-connection"]


# -- TLS, keep-alive, plain HTTP, refusals -----------------------------------------------------------


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_https_through_the_proxy_keeps_the_real_host_names(proxy, host):
    r = client(proxy).get(f"https://{host}/echo?x=1", timeout=5)
    assert r.status_code == 200
    assert r.text == f"GET https://{host}/echo?x=1 "
    assert r.headers["Content-Length"] == str(len(r.content))
    assert r.headers["Connection"] == "keep-alive"


def test_the_server_sends_leaf_and_ca(proxy):
    host, port = proxy_address(proxy)
    out = subprocess.run(
        [
            "openssl",
            "s_client",
            "-proxy",
            f"{host}:{port}",
            "-connect",
            "slideslive.com:443",
            "-servername",
            "slideslive.com",
            "-showcerts",
            "-CAfile",
            str(proxy.ca_path),
        ],
        input=b"",
        capture_output=True,
        timeout=20,
        check=False,
    ).stdout.decode()
    assert out.count("BEGIN CERTIFICATE") == 2
    assert "Verify return code: 0 (ok)" in out


def test_a_ca_survives_a_restart(tmp_path, media):
    with Replica(app=SmallSite(media), cache_dir=tmp_path) as r:
        first = r.ca_path.read_bytes()
    with Replica(app=SmallSite(media), cache_dir=tmp_path) as r:
        assert r.ca_path.read_bytes() == first
        assert client(r).get("https://slideslive.com/echo", timeout=5).status_code == 200


@pytest.mark.parametrize("via_tls", [True, False])
def test_keep_alive_reuses_one_connection(proxy, via_tls):
    conn = tunnel(proxy, "slideslive.com") if via_tls else http.client.HTTPConnection(*proxy_address(proxy))
    path = "/echo" if via_tls else "http://slideslive.com/echo"
    socks = []
    for i in range(4):
        conn.request("GET", f"{path}?n={i}")
        response = conn.getresponse()
        assert response.status == 200
        assert response.read().endswith(f"/echo?n={i} ".encode())
        assert not response.will_close
        socks.append(conn.sock)
    assert all(s is socks[0] for s in socks)
    conn.close()


def test_plain_http_is_served_too(proxy):
    r = client(proxy).post("http://s.slideslive.com/echo", data=b"payload", timeout=5)
    assert r.status_code == 200
    assert r.text == "POST http://s.slideslive.com/echo payload"


def test_chunked_request_bodies_are_read(proxy):
    r = client(proxy).post("https://slideslive.com/echo", data=iter([b"ab", b"cd"]), timeout=5)
    assert r.text == "POST https://slideslive.com/echo abcd"


def test_unknown_hosts_get_502_and_are_recorded(proxy):
    s = client(proxy)
    with pytest.raises(requests.exceptions.ProxyError, match="502"):
        s.get("https://www.youtube.com/watch?v=x", timeout=5)
    r = s.get("http://example.org/x", timeout=5)
    assert r.status_code == 502
    assert "example.org" in r.text
    assert proxy.escapes == ["www.youtube.com", "example.org"]
    assert s.get("https://slideslive.com/echo", timeout=5).status_code == 200
    assert proxy.log.count(host="example.org") == 1


def test_a_failing_site_answers_500_and_the_proxy_goes_on(proxy):
    s = client(proxy)
    assert s.get("https://slideslive.com/boom", timeout=5).status_code == 500
    assert s.get("https://slideslive.com/echo", timeout=5).status_code == 200


# -- files, Range, HEAD ------------------------------------------------------------------------------


def test_files_are_streamed_whole(proxy, media):
    r = client(proxy).get("https://1159783934.rsc.cdn77.org/media.bin", timeout=5)
    assert r.status_code == 200
    assert r.content == media.read_bytes()
    assert r.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=262000-", 262000, 262143),
        ("bytes=-5", 262139, 262143),
        ("bytes=100-999999", 100, 262143),
    ],
)
def test_range_requests_get_206(proxy, media, header, first, last):
    r = client(proxy).get("https://1159783934.rsc.cdn77.org/media.bin", headers={"Range": header}, timeout=5)
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes {first}-{last}/{256 * 1024}"
    assert r.content == media.read_bytes()[first : last + 1]


def test_a_range_past_the_end_gets_416(proxy):
    r = client(proxy).get("https://s.slideslive.com/media.bin", headers={"Range": "bytes=300000-"}, timeout=5)
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{256 * 1024}"


def test_head_sends_the_length_without_the_body(proxy):
    s = client(proxy)
    r = s.head("https://s.slideslive.com/media.bin", timeout=5)
    assert (r.status_code, r.headers["Content-Length"], r.content) == (200, str(256 * 1024), b"")
    # the connection is still in step:
    assert s.get("https://s.slideslive.com/echo", timeout=5).status_code == 200


def test_many_parallel_downloads(proxy, media):
    def download(i: int) -> bytes:
        return client(proxy).get(f"https://{sorted(HOSTS)[i % 4]}/media.bin", timeout=20).content

    with ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(download, range(32)))
    assert all(b == media.read_bytes() for b in bodies)


def test_a_client_that_hangs_up_mid_body_does_not_hurt_the_server(proxy):
    for _ in range(3):
        with socket.create_connection(proxy_address(proxy)) as sock:
            sock.sendall(b"GET http://slideslive.com/media.bin HTTP/1.1\r\nHost: slideslive.com\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200")
    assert client(proxy).get("https://slideslive.com/media.bin", timeout=5).status_code == 200


# -- faults --------------------------------------------------------------------------------------------


def test_status_fault_with_retry_after_fires_times_then_goes_inert(proxy):
    rule = proxy.faults.add(
        host="slideslive.com", path="/echo", kind="status", status=503, retry_after=7, times=2
    )
    s = client(proxy)
    answers = [s.get("https://slideslive.com/echo", timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert (rule.fired, rule.inert) == (2, True)
    assert [e.fault for e in proxy.log.entries] == ["status", "status", None]


def test_rules_match_host_and_path_globs_without_the_query(proxy):
    proxy.faults.add(host="*.slideslive.com", path="/e*", kind="status", status=429)
    s = client(proxy)
    assert s.get("https://s.slideslive.com/echo?x=1", timeout=5).status_code == 429
    assert s.get("https://slideslive.com/echo?x=1", timeout=5).status_code == 200
    assert s.get("https://s.slideslive.com/media.bin", timeout=5).status_code == 200


def test_reset_closes_the_connection_without_an_answer(proxy):
    rule = proxy.faults.add(path="/echo", kind="reset", times=1)
    s = client(proxy)
    with pytest.raises(requests.exceptions.ConnectionError):
        s.get("https://slideslive.com/echo", timeout=5)
    assert s.get("https://slideslive.com/echo", timeout=5).status_code == 200
    assert rule.fired == 1
    assert proxy.log.entries[0].status == 0


def test_stall_makes_the_client_time_out_and_stop_cuts_it_short(proxy):
    proxy.faults.add(host="slideslive.com", kind="stall", seconds=30)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        client(proxy).get("https://slideslive.com/echo", timeout=0.5)
    assert time.monotonic() - started < 5
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 3
    assert connection_threads() == []


def test_stall_then_answers_normally(proxy):
    proxy.faults.add(kind="stall", seconds=0.6, times=1)
    started = time.monotonic()
    assert client(proxy).get("https://slideslive.com/echo", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.6


@pytest.mark.parametrize("path", ["/echo", "/media.bin"])
def test_truncate_sends_half_the_body_then_closes(proxy, path):
    proxy.faults.add(path=path, kind="truncate", times=1)
    s = client(proxy)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        s.get(f"https://slideslive.com{path}", timeout=5)
    assert s.get(f"https://slideslive.com{path}", timeout=5).status_code == 200


def test_truncate_seen_by_http_client(proxy, media):
    proxy.faults.add(path="/media.bin", kind="truncate")
    conn = tunnel(proxy, "s.slideslive.com")
    conn.request("GET", "/media.bin")
    response = conn.getresponse()
    assert response.headers["Content-Length"] == str(256 * 1024)
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == 128 * 1024


def statuses_with_rate(replica: Replica, seed: int) -> list[int]:
    replica.faults.clear()
    rule = replica.faults.add(path="/echo", kind="status", status=500, rate=0.5, seed=seed)
    s = client(replica)
    statuses = [s.get("http://slideslive.com/echo", timeout=5).status_code for _ in range(40)]
    assert rule.fired == statuses.count(500)
    return statuses


def test_rate_fires_about_that_often_and_is_reproducible(proxy):
    first = statuses_with_rate(proxy, seed=3)
    assert 8 <= first.count(500) <= 32
    assert statuses_with_rate(proxy, seed=3) == first
    assert statuses_with_rate(proxy, seed=4) != first


def test_rules_can_be_removed_and_cleared(proxy):
    s = client(proxy)
    rule = proxy.faults.add(kind="status", status=503)
    assert s.get("https://slideslive.com/echo", timeout=5).status_code == 503
    proxy.faults.remove(rule)
    assert s.get("https://slideslive.com/echo", timeout=5).status_code == 200
    proxy.faults.add(kind="status", status=503)
    proxy.faults.clear()
    assert s.get("https://slideslive.com/echo", timeout=5).status_code == 200


def test_bad_rules_are_refused(proxy):
    with pytest.raises(ValueError, match="kind"):
        proxy.faults.add(kind="explode")
    with pytest.raises(ValueError, match="probability"):
        proxy.faults.add(kind="reset", rate=2)


# -- the log -------------------------------------------------------------------------------------------


def test_the_log_counts_by_host_path_and_method(proxy):
    s = client(proxy)
    s.get("https://slideslive.com/echo?a=1", timeout=5)
    s.get("https://s.slideslive.com/echo", timeout=5)
    s.head("https://s.slideslive.com/media.bin", timeout=5)
    s.get("http://slideslive.com/nothing", timeout=5)
    assert proxy.log.count() == 4
    assert proxy.log.count(host="s.slideslive.com") == 2
    assert proxy.log.count(host="*slideslive.com", path="/echo") == 2
    assert proxy.log.count(method="HEAD") == 1
    assert [(e.status, e.nbytes) for e in proxy.log.entries][2:] == [(200, 0), (404, 10)]
    proxy.log.clear()
    assert proxy.log.count() == 0


# -- stopping ------------------------------------------------------------------------------------------


def test_stop_closes_open_keep_alive_connections_promptly(proxy):
    sessions = [client(proxy) for _ in range(6)]
    for i, s in enumerate(sessions):
        assert s.get(f"{'https' if i % 2 else 'http'}://slideslive.com/echo", timeout=5).status_code == 200
    raw = socket.create_connection(proxy_address(proxy))  # connected, never says anything
    address = proxy_address(proxy)
    deadline = time.monotonic() + 2
    while len(connection_threads()) < len(sessions) + 1 and time.monotonic() < deadline:  # until it is taken
        time.sleep(0.01)
    assert len(connection_threads()) == len(sessions) + 1
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 2
    assert connection_threads() == []
    assert raw.recv(1) == b""  # the server's side is closed
    raw.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=1)


# -- Chromium trusts the CA through the SPKI pin --------------------------------------------------------


@pytest.mark.browser
def test_chromium_loads_https_pages_through_the_proxy_without_certificate_errors(proxy, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    for arg in NetConfig(proxy=proxy.proxy_url, ca_bundle=proxy.ca_path).chromium_args():
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get("https://slideslive.com/38900001")
        assert driver.title == "Replica test talk"
        assert driver.find_element("id", "hello").text == "hello"
    finally:
        driver.quit()
    assert proxy.log.count(host="slideslive.com", path="/38900001", method="GET") == 1


# -- python -m slidegrab.replica -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (
            "slideslive.com:/player/*:status:503",
            {"host": "slideslive.com", "path": "/player/*", "status": 503},
        ),
        ("*.b-cdn.net:*:reset", {"host": "*.b-cdn.net", "path": "*", "kind": "reset"}),
        ("s.slideslive.com::stall:2.5", {"path": "*", "kind": "stall", "seconds": 2.5}),
    ],
)
def test_fault_specs_on_the_command_line(spec, rule):
    parsed = parse_fault(spec)
    assert rule.items() <= parsed.items()
    FaultPlan().add(**parsed)  # and the plan takes them


@pytest.mark.parametrize("spec", ["slideslive.com:/x", "h:/p:explode", "h:/p:status:abc", "h:/p:reset:3"])
def test_bad_fault_specs_are_refused(spec):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(repr(spec))):
        parse_fault(spec)


def test_the_standalone_replica_prints_how_to_use_it_and_stops_on_sigterm(tmp_path):
    command = [sys.executable, "-m", "slidegrab.replica", "--cache-dir", str(tmp_path)]
    command += ["--fault", "slideslive.com:/teapot:status:418"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("running"):
            lines.append(process.stdout.readline())
            assert lines[-1], "the replica exited early"
        printed = "".join(lines)
        proxy_url = re.search(r"proxy:\s+(\S+)", printed)[1]
        first = re.search(
            r"slidegrab resolve (https://slideslive.com/\d+) --proxy (\S+) --ca-bundle (\S+)", printed
        )
        assert first[2] == proxy_url
        assert first[3] == str(tmp_path / "ca.pem")
        s = requests.Session()
        s.trust_env = False
        s.proxies = {"https": proxy_url}
        assert s.get(first[1], verify=first[3], timeout=20).status_code == 200
        assert s.get("https://slideslive.com/teapot", verify=first[3], timeout=20).status_code == 418
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read().strip() == "stopped"
    finally:
        process.kill()
        process.wait()
