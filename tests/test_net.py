"""net.py: one set of network settings, applied alike to requests, yt-dlp and Chromium."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import certifi
import pytest
import requests

from slidegrab.errors import NetworkError, UsageError
from slidegrab.net import NetConfig, fetch, spki_hashes


def _openssl_spki_pin(pem: Path) -> str:
    pub = subprocess.run(["openssl", "x509", "-in", str(pem), "-pubkey", "-noout"], capture_output=True, check=True)
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=pub.stdout, capture_output=True, check=True
    )
    return base64.b64encode(hashlib.sha256(der.stdout).digest()).decode()


def test_spki_pin_matches_openssl(replica):
    assert spki_hashes(replica.ca_path) == [_openssl_spki_pin(replica.ca_path)]


def test_chromium_args_carry_proxy_and_pin_never_a_blanket_bypass(net):
    args = net.chromium_args()
    assert f"--proxy-server={net.proxy}" in args
    assert any(a.startswith("--ignore-certificate-errors-spki-list=") for a in args)
    assert "--ignore-certificate-errors" not in args


def test_verify_bundle_holds_public_and_extra_cas(replica):
    bundle = Path(NetConfig(ca_bundle=replica.ca_path).verify_path).read_bytes()
    assert replica.ca_path.read_bytes().strip() in bundle
    assert Path(certifi.where()).read_bytes().strip() in bundle


def test_proxy_comes_from_the_environment_when_not_given(monkeypatch):
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert NetConfig().effective_proxy is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert NetConfig().effective_proxy == "http://proxy.example:3128"
    assert NetConfig(proxy="http://other:1").effective_proxy == "http://other:1"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"ca_bundle": Path("/nonexistent/ca.pem")}, "--ca-bundle"), ({"proxy": "localhost:8080"}, "--proxy")],
)
def test_bad_settings_are_usage_errors(kwargs, fragment):
    with pytest.raises(UsageError, match=fragment):
        NetConfig(**kwargs)


def test_ytdlp_params_use_the_same_proxy_and_bundle(net, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    params = net.ytdlp_params()
    assert params["proxy"] == net.proxy
    assert params["compat_opts"] == {"no-certifi"}
    import os

    assert os.environ["SSL_CERT_FILE"] == net.verify_path


def test_session_reaches_the_replica_with_real_host_names(net):
    response = net.session().get("https://slideslive.com/embed_presentation.js")
    assert response.status_code == 200


def test_session_retries_transient_errors_and_honours_retry_after(replica, net):
    url = "https://slideslive.com/embed_presentation.js"
    replica.log.clear()
    rule = replica.faults.add(host="slideslive.com", path="/embed_presentation.js", kind="status", status=503, times=1)
    rule2 = replica.faults.add(
        host="slideslive.com", path="/embed_presentation.js", kind="status", status=429, times=1, retry_after=1
    )
    try:
        response = NetConfig(proxy=net.proxy, ca_bundle=net.ca_bundle, retries=3, backoff=0.01).session().get(url)
    finally:
        replica.faults.remove(rule)
        replica.faults.remove(rule2)
    assert response.status_code == 200
    assert replica.log.count(host="slideslive.com", path="/embed_presentation.js") == 3


def test_fetch_names_what_failed_after_retries(replica, net):
    rule = replica.faults.add(host="slideslive.com", path="/embed_presentation.js", kind="reset", times=10)
    try:
        with pytest.raises(NetworkError, match="could not fetch the player script"):
            fetch(net.session(), "https://slideslive.com/embed_presentation.js", what="player script")
    finally:
        replica.faults.remove(rule)


def test_every_request_has_a_timeout(replica, net):
    rule = replica.faults.add(host="slideslive.com", path="/embed_presentation.js", kind="stall", seconds=5, times=1)
    try:
        session = NetConfig(proxy=net.proxy, ca_bundle=net.ca_bundle, timeout=0.5, retries=0).session()
        with pytest.raises(requests.RequestException):
            session.get("https://slideslive.com/embed_presentation.js")
    finally:
        replica.faults.remove(rule)


def test_one_tls_context_per_session_and_it_still_verifies(replica, net, monkeypatch):
    """The CA bundle is loaded into one SSLContext per session, not per connection; a session without the
    replica's CA (the public CAs only) is refused its certificate, however the context is shared."""
    import ssl

    loads = []
    real = ssl.SSLContext.load_verify_locations
    monkeypatch.setattr(
        ssl.SSLContext, "load_verify_locations", lambda self, *a, **k: loads.append(a) or real(self, *a, **k)
    )
    session = net.session()
    for host in ("slideslive.com", "s.slideslive.com", "slideslive.com"):
        session.get(f"https://{host}/embed_presentation.js", headers={"Connection": "close"})
    assert len(loads) <= 1  # the session's own context (or none, when an earlier test built it)
    public_only = NetConfig(proxy=net.proxy, retries=0).session()
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        public_only.get("https://slideslive.com/embed_presentation.js")
