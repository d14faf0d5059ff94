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


def readme() -> str:
    from pathlib import Path

    return (Path(__file__).parents[1] / "README.md").read_text()


def test_readme_first_command_is_the_demo_and_it_works(tmp_path):
    """The README opens with set-up followed by `slidegrab demo`; run the demo as a new user would."""
    block = readme().split("```sh\n", 1)[1].split("```", 1)[0]
    first = next(x for x in block.splitlines() if x and not x.startswith("#"))
    assert first.endswith("&& slidegrab demo"), first
    result = slidegrab("demo", "-o", str(tmp_path / "demo"), "-q", timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 fetched" in result.stdout
    mp4s = sorted(tmp_path.glob("demo/*/slides-video.mp4"))
    assert len(mp4s) == 3
    for mp4 in mp4s:
        assert mp4.parent.name in result.stdout  # the summary names every talk folder


def test_readme_replica_run_line_works():
    line = next(x for x in readme().splitlines() if "replica run -- slidegrab resolve" in x)
    command = line.strip("`.").split("python3 -m slidegrab.replica run -- ", 1)[1].split()
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


def test_every_command_has_help_and_is_in_the_readme():
    from slidegrab.cli import cli

    text = readme()
    for name, command in cli.commands.items():
        assert command.help, name
        assert f"slidegrab {name}" in text, f"README does not mention `slidegrab {name}`"
