"""Shared fixtures: one replica per test session, and the network settings that point at it."""

from __future__ import annotations

import pytest

from slidegrab.net import NetConfig
from slidegrab.replica import Replica


@pytest.fixture(scope="session")
def replica(tmp_path_factory):
    with Replica(cache_dir=tmp_path_factory.getbasetemp().parent / "replica-cache") as r:
        yield r


@pytest.fixture(autouse=True)
def _no_escapes(request):
    """Any request that would have left the replica fails the test that made it."""
    if "replica" not in request.fixturenames:
        yield
        return
    r = request.getfixturevalue("replica")
    before = len(r.escapes)
    yield
    assert r.escapes[before:] == [], f"requests left the replica: {r.escapes[before:]}"


@pytest.fixture
def net(replica) -> NetConfig:
    return NetConfig(proxy=replica.proxy_url, ca_bundle=replica.ca_path, retries=1, backoff=0.05)


@pytest.fixture
def net_args(replica) -> list[str]:
    """The command-line options a user gives to reach the replica."""
    return ["--proxy", replica.proxy_url, "--ca-bundle", str(replica.ca_path)]


@pytest.fixture
def faults(replica):
    """``faults(**rule)`` adds a fault rule to the replica for this test only (see replica/faults.py)."""
    added = []
    yield lambda **kw: added.append(replica.faults.add(**kw)) or added[-1]
    for rule in added:
        replica.faults.remove(rule)
