"""The real command line, run as a user runs it, against the replica through --proxy/--ca-bundle only."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from slidegrab.replica.fixtures import by_id


def slidegrab(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slidegrab", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_help_lists_the_commands():
    result = slidegrab("--help")
    assert result.returncode == 0
    for command in ("resolve", "discover"):
        assert command in result.stdout


def test_resolve_prints_the_talk(net_args):
    fixture = by_id("38990101")
    result = slidegrab("resolve", "https://slideslive.com/38990101/sparse-networks", *net_args)
    assert result.returncode == 0, result.stderr
    assert fixture.title in result.stdout
    assert "master.m3u8" in result.stdout


def test_resolve_json_is_the_talk(net_args):
    fixture = by_id("38980107")
    result = slidegrab("resolve", "https://slideslive.com/embed/38980107", "--json", *net_args)
    assert result.returncode == 0, result.stderr
    talk = json.loads(result.stdout)
    assert talk["id"] == fixture.id
    assert talk["title"] == fixture.title
    assert [s["start"] for s in talk["slides"]] == [s.time_ms / 1000 for s in fixture.slides]
    assert talk["slides"][0]["start"] == 4.2


def test_resolve_conference_page_carries_citation_metadata(net_args):
    fixture = by_id("38925902")
    page = f"https://{fixture.conference.host}{fixture.conference.path}"
    result = slidegrab("resolve", page, "--json", *net_args)
    assert result.returncode == 0, result.stderr
    talk = json.loads(result.stdout)
    assert talk["id"] == fixture.id
    assert talk["speakers"] == list(fixture.conference.authors)
    assert talk["conference"] == fixture.conference.conference
    assert talk["media"]["service"] == "vimeo"
    assert talk["media"]["headers"]["Referer"] == page


def test_embed_only_talk_from_bare_url_names_referer(net_args):
    result = slidegrab("resolve", "https://slideslive.com/embed/presentation/39021404", *net_args)
    assert_one_line_error(result, 4, "39021404", "--referer", "icml.cc")


def test_embed_only_talk_with_referer_resolves(net_args):
    result = slidegrab(
        "resolve",
        "https://slideslive.com/embed/presentation/39021404",
        "--referer",
        "https://icml.cc/",
        "--json",
        *net_args,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["title"] == by_id("39021404").title


@pytest.mark.parametrize(
    ("url", "code", "fragments"),
    [
        ("https://slideslive.com/38999999", 4, ("38999999", "no SlidesLive talk")),
        ("https://slideslive.com/39030011", 4, ("39030011", "live")),
        ("not a url", 2, ("not a url",)),
        ("file:///etc/passwd", 2, ("file",)),
        ("javascript:alert(1)", 2, ("javascript",)),
    ],
)
def test_bad_input_is_one_clear_line(net_args, url, code, fragments):
    assert_one_line_error(slidegrab("resolve", url, "--no-browser", *net_args), code, *fragments)


@pytest.mark.browser
def test_page_that_embeds_nothing_is_one_clear_line(net_args):
    result = slidegrab("resolve", "https://iclr.cc/virtual_2020/about.html", *net_args)
    assert_one_line_error(result, 4, "iclr.cc/virtual_2020/about.html", "no SlidesLive talk")


def test_verbose_shows_the_traceback(net_args):
    result = slidegrab("-v", "resolve", "https://slideslive.com/38999999", "--no-browser", *net_args)
    assert result.returncode == 4
    assert "Traceback" in result.stderr


def test_missing_ca_bundle_is_a_usage_error(replica):
    result = slidegrab("resolve", "https://slideslive.com/38990101", "--ca-bundle", "/nonexistent.pem")
    assert_one_line_error(result, 2, "--ca-bundle")


@pytest.mark.browser
def test_discover_lists_the_talks_a_listing_page_builds_with_javascript(net_args):
    result = slidegrab("discover", "https://iclr.cc/virtual_2020/papers.html", "--json", *net_args)
    assert result.returncode == 0, result.stderr
    urls = json.loads(result.stdout)
    for fixture_id in ("38925901", "38925902"):
        conf = by_id(fixture_id).conference
        assert f"https://{conf.host}{conf.path}" in urls


def test_readme_first_command_resolves_a_replica_talk():
    """The README's set-up line ends by resolving a talk on the replica; run that part as written."""
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    line = next(x for x in readme.splitlines() if "slidegrab.replica run" in x)
    command = line.split("python3 -m slidegrab.replica run -- ", 1)[1].split()
    assert command[0] == "slidegrab"
    result = subprocess.run(
        [sys.executable, "-m", "slidegrab.replica", "run", "--", sys.executable, "-m", "slidegrab", *command[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert by_id("38990101").title in result.stdout


@pytest.mark.parametrize(
    ("path", "status", "body", "fragments"),
    [
        ("/player/38990101", 401, None, ("38990101", "token")),
        ("/player/38990101", 200, b"#EXTM3U\n#EXT-SL-PRESENTATION-TITLE:No service", ("38990101", "lacks #EXT-SL-")),
        ("/player/38990101", 200, b"<html>maintenance</html>", ("38990101", "EXTM3U")),
    ],
    ids=["expired-token", "missing-tags", "not-a-player-response"],
)
def test_broken_player_responses_are_one_clear_line(replica, net_args, path, status, body, fragments):
    rule = replica.faults.add(host="slideslive.com", path=path, kind="status", status=status, body=body)
    try:
        result = slidegrab("resolve", "https://slideslive.com/38990101", "--no-browser", *net_args)
    finally:
        replica.faults.remove(rule)
    assert_one_line_error(result, 4, *fragments)


def test_malformed_timing_files_are_one_clear_line(replica, net_args):
    rule = replica.faults.add(host="s.slideslive.com", path="/38990101/*", kind="status", status=200, body=b"{]")
    try:
        result = slidegrab("resolve", "https://slideslive.com/38990101", "--no-browser", *net_args)
    finally:
        replica.faults.remove(rule)
    assert_one_line_error(result, 4, "38990101", "slides")


def test_absent_timing_files_give_a_talk_without_slides(replica, net_args):
    rule = replica.faults.add(host="s.slideslive.com", path="/38990101/*", kind="status", status=404)
    try:
        result = slidegrab("resolve", "https://slideslive.com/38990101", "--json", "--no-browser", *net_args)
    finally:
        replica.faults.remove(rule)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["slides"] == []
