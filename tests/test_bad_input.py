"""Bad input (issue 5): every kind is refused in one clear line, usage errors with exit status 2, before any
request, and an archive that is already there is left exactly as it was.

Cases tests/test_fetch.py and tests/test_cli.py already cover are not repeated here: a list with "not a url
at all", file:// and javascript: lines, a 5,000-character line, a NUL-only and a Latin-1 list, ``-o`` naming
a file (exit status only), `resolve` of file:// and javascript: URLs and of a page that embeds nothing, and
a search with an unbalanced quote on the big batch. Usage errors that need no network run through
``cli.main`` in-process (the same entry point as the command, without 1 s of interpreter start-up each);
what involves standard input, the file system's permissions or the replica runs the real command.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from PIL import Image

from slidegrab.cli import main
from slidegrab.replica.fixtures import by_id

TALK = "38990101"  # five slides, a few seconds to fetch
FORMS = "38925901"  # a talk with a conference page (ICLR 2020), four legacy jpg slides
WIDE = {**os.environ, "COLUMNS": "400"}  # the summary table keeps each talk on one line


def slidegrab(*args: str, stdin: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "slidegrab", *args]
    return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, check=False, env=WIDE)


def in_process(capsys, *args: str) -> tuple[int, str]:
    """Exit status and stderr of ``slidegrab ARGS`` run through the command's own entry point."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    return exited.value.code, capsys.readouterr().err


def assert_one_line(code: int, stderr: str | bytes, *fragments: str, status: int = 2) -> None:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    assert code == status, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("slidegrab: error: "), lines[0]
    assert "Traceback" not in text
    assert len(lines[0]) < 600, f"an error line of {len(lines[0])} characters"
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def snapshot(root: Path, only: str = "*") -> dict[str, tuple[int, str]]:
    """Every file under ``root`` (matching ``only``): its modification time and content digest."""
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob(only))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def archive(replica, tmp_path_factory) -> Path:
    """An archive holding one complete talk, which no refused command may change."""
    out = tmp_path_factory.mktemp("archive")
    net = ["--proxy", replica.proxy_url, "--ca-bundle", str(replica.ca_path)]
    result = slidegrab("fetch", f"https://slideslive.com/{TALK}", "-o", str(out), "--no-transcribe", *net)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture
def untouched(archive, replica):
    """The archive after the test is the archive before it, and the test asked the replica nothing."""
    before, mark = snapshot(archive), len(replica.log.entries)
    yield archive
    assert snapshot(archive) == before
    assert replica.log.entries[mark:] == []


# --- URL lists and URLs ---


@pytest.mark.parametrize(
    ("lines", "fragments"),
    [
        ([f"https://slideslive.com/{TALK}", "", "# a comment", "<html><body>"], ("line 4", "without a scheme")),
        ([f"https://slideslive.com/{TALK}", "https://slideslive.com/3899\x070101"], ("line 2", "control characters")),
        ([f"https://slideslive.com/{TALK} https://slideslive.com/38925901"], ("line 1", "spaces")),
        (["# only the last line is bad", f"https://slideslive.com/{TALK}", "http://"], ("line 3", "no valid host")),
        (["https://exa<mple>.org/talk"], ("line 1", "no valid host")),
        (["https://slideslive.com:99999/38990101"], ("line 1", "not a valid URL")),
    ],
)
def test_garbage_lines_stop_the_list_before_any_request(untouched, capsys, tmp_path, lines, fragments):
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, err = in_process(capsys, "fetch", str(urls), "-o", str(untouched))
    assert_one_line(code, err, str(urls), *fragments)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("JavaScript:alert(document.cookie)", "'javascript:' URLs are not supported"),
        ("data:text/html,<script>alert(1)</script>", "'data:' URLs are not supported"),
        ("ftp://slideslive.com/38990101", "'ftp:' URLs are not supported"),
        ("file://localhost/etc/passwd", "'file:' URLs are not supported"),
        ("slideslive.com/38990101", "write it as https://slideslive.com/38990101"),
        ("mailto:chairs@iclr.cc", "is neither a URL nor a file of URLs"),
    ],
)
def test_non_http_schemes_are_refused_as_arguments_and_list_lines(untouched, capsys, tmp_path, url, fragment):
    assert_one_line(*in_process(capsys, "fetch", url, "-o", str(untouched)), fragment)
    if "neither" not in fragment:  # in a list, every line is read as a URL
        (tmp_path / "urls.txt").write_text(f"https://slideslive.com/{TALK}\n{url}\n")
        assert_one_line(*in_process(capsys, "fetch", str(tmp_path / "urls.txt"), "-o", str(untouched)), "line 2")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://slideslive.com/0", "0 is not"),
        ("https://slideslive.com/000/slug", "000 is not"),
        ("https://slideslive.com/-38990101", "-38990101 is not"),
        ("https://slideslive.com/" + "9" * 40, "is not a SlidesLive talk id"),
        ("https://slideslive.com/1234567890123", "1234567890123 is not"),
        ("https://slideslive.com/embed/presentation/0?embed_parent_url=https://iclr.cc/", "0 is not"),
        ("http://SLIDESLIVE.COM/embed/-1/", "-1 is not"),
        ("https://player.videoken.com/embed/slideslive-0", "0 is not"),
    ],
)
def test_ids_out_of_range_are_usage_errors(untouched, capsys, url, shown):
    for command in (["fetch", url, "-o", str(untouched)], ["resolve", url, "--no-browser"]):
        assert_one_line(*in_process(capsys, *command), shown, "SlidesLive talk id", "at most 12 digits")


def test_an_id_out_of_range_in_a_list_names_its_line(untouched, capsys, tmp_path):
    (tmp_path / "urls.txt").write_text(f"https://slideslive.com/{TALK}\n\nhttps://slideslive.com/0\n")
    assert_one_line(*in_process(capsys, "fetch", str(tmp_path / "urls.txt"), "-o", str(untouched)), "line 3")


def test_pages_that_are_no_talks_fail_alone_in_one_line_each(archive, replica, net_args):
    """Hosts that are not SlidesLive, a page that embeds nothing, an id SlidesLive does not know: each talk
    fails with its reason on its own row, the complete talk is untouched, and no folder is made for them."""
    folders = snapshot(archive, f"{TALK}-*/*")
    failing = {
        "https://iclr.cc/virtual_2020/about.html": "no SlidesLive talk found on this page",
        "https://player.vimeo.com/video/401234567": "answered HTTP 403",
        "https://slideslive-slides.b-cdn.net/": "answered HTTP 404",
        "https://slideslive.com/38999999": "no SlidesLive talk with id 38999999",
    }
    urls = [*failing, f"https://slideslive.com/{TALK}"]
    result = slidegrab("fetch", *urls, "-o", str(archive), "--no-browser", "--no-transcribe", *net_args)
    out = result.stdout.decode()
    assert result.returncode == 1, out + result.stderr.decode()
    assert "0 fetched, 1 already complete, 4 failed" in out
    for url, reason in failing.items():
        rows = [line for line in out.splitlines() if url in line and "failed" in line]
        assert len(rows) == 1, out
        assert reason in rows[0], out
    assert "Traceback" not in out + result.stderr.decode()
    assert snapshot(archive, f"{TALK}-*/*") == folders
    assert sorted(p.parent.name.split("-")[0] for p in archive.glob("*/talk.json")) == [TALK]


@pytest.mark.browser
def test_a_page_that_builds_no_player_fails_in_one_line_with_the_browser(archive, net_args):
    page = "https://iclr.cc/virtual_2020/papers.html"  # its script lists papers; it embeds no talk
    result = slidegrab("fetch", page, "-o", str(archive), "--no-transcribe", *net_args)
    out = result.stdout.decode()
    assert result.returncode == 1, out + result.stderr.decode()
    row = next(line for line in out.splitlines() if page in line)
    assert "failed" in row, out
    assert "no SlidesLive talk" in row, out
    assert "Traceback" not in out + result.stderr.decode()


def test_one_talk_in_every_url_form_is_fetched_once(replica, tmp_path, net_args):
    """Eight SlidesLive forms of one talk and the conference page that embeds it: one talk, fetched once."""
    page = f"https://{by_id(FORMS).conference.host}{by_id(FORMS).conference.path}"
    forms = [
        f"https://slideslive.com/{FORMS}",
        f"https://slideslive.com/{FORMS}/gaussian-processes-for-structured-smoothness",
        f"http://slideslive.com/{FORMS}",
        f"https://slideslive.com/{FORMS}/",
        f"https://slideslive.com/{FORMS}?ref=search#t=12",
        f"https://SlidesLive.COM/embed/presentation/{FORMS}",
        page,
        f"https://slideslive.com/embed/{FORMS}",
        f"https://player.videoken.com/embed/slideslive-{FORMS}",
    ]
    (tmp_path / "urls.txt").write_text("\n".join(forms) + "\n")
    mark = len(replica.log.entries)
    result = slidegrab(
        "fetch", str(tmp_path / "urls.txt"), "-o", str(tmp_path / "out"), "-j", "4", "--no-transcribe", *net_args
    )
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "1 fetched, 0 already complete, 0 failed" in out
    assert [p.parent.name[:8] for p in (tmp_path / "out").glob("*/talk.json")] == [FORMS]
    log = replica.log.entries[mark:]
    assert sum(e.path == f"/player/{FORMS}" for e in log) == 1  # resolved once
    assert sum(e.path.startswith(f"/data/presentations/{FORMS}/slides/") for e in log) == 4  # each slide once
    assert sum(e.path.endswith("/chunk_2_00001.m4s") for e in log) == 1  # the audio once
    state = json.loads(next((tmp_path / "out").glob("*/talk.json")).read_text())
    assert state["source_url"] == page  # the page is the form kept: it names the authors and the conference
    assert state["talk"]["conference"] == "ICLR 2020"


def test_enormous_lines_are_refused_in_a_short_line(untouched, capsys, tmp_path):
    line = "https://slideslive.com/38990101?" + "a" * 10_000_000
    (tmp_path / "long.txt").write_text(f"https://slideslive.com/{TALK}\n{line}")
    code, err = in_process(capsys, "fetch", str(tmp_path / "long.txt"), "-o", str(untouched))
    assert_one_line(code, err, "line 2", f"a line of {len(line)} characters")
    code, err = in_process(capsys, "fetch", line[:100_000], "-o", str(untouched))
    assert_one_line(code, err, "100000 characters long", "at most 4096")
    with open(tmp_path / "huge.txt", "wb") as huge:  # 65 MiB: no list of URLs is that big
        huge.truncate(65 * 2**20)
    assert_one_line(*in_process(capsys, "fetch", str(tmp_path / "huge.txt"), "-o", str(untouched)), "too big")


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (_png(), "is a binary file"),
        (gzip.compress(b"https://slideslive.com/38990101\n"), "is a binary file"),
        (Path(sys.executable).read_bytes()[:65536], "is a binary file"),
        (b"https://slideslive.com/38990101\n\x00\x00\x00\n", "is a binary file"),
        ("https://slideslive.com/38990101\n".encode("utf-16"), "is UTF-16 text"),
        ("https://slideslive.com/38990101 \u201cICLR\u201d\n".encode("cp1252"), "is not UTF-8 text"),
        (b"", "no URLs given"),
        (b"# nothing but comments\n\n   \n", "no URLs given"),
    ],
    ids=["png", "gzip", "executable", "nul", "utf16", "cp1252", "empty", "comments"],
)
def test_files_that_are_no_url_lists(untouched, capsys, tmp_path, content, fragment):
    (tmp_path / "urls.txt").write_bytes(content)
    assert_one_line(*in_process(capsys, "fetch", str(tmp_path / "urls.txt"), "-o", str(untouched)), fragment)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(_png(), "<stdin> is a binary file"), (b"https://slideslive.com/\xe9\n", "<stdin> is not UTF-8 text")],
    ids=["png", "latin1"],
)
def test_standard_input_that_is_no_url_list(untouched, content, fragment):
    result = slidegrab("fetch", "-", "-o", str(untouched), stdin=content)
    assert_one_line(result.returncode, result.stderr, fragment)


def test_a_folder_or_a_device_is_no_url_list(untouched, capsys, tmp_path):
    for path in (tmp_path, Path(os.devnull)):
        assert_one_line(*in_process(capsys, "fetch", str(path), "-o", str(untouched)), "neither a URL nor a file")


# --- where to write ---


def test_output_that_is_a_file_or_inside_one(capsys, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    url = f"https://slideslive.com/{TALK}"
    assert_one_line(*in_process(capsys, "fetch", url, "-o", str(target)), "notes.txt", "is a file")
    assert_one_line(*in_process(capsys, "fetch", url, "-o", str(target / "archive")), "cannot write", "Not a directory")
    assert target.read_text() == "mine\n"


@contextmanager
def unwritable(folder: Path, fill):
    """``folder``, filled by ``fill``, then made unwritable even for root: a tmpfs remounted read-only when
    run as root (root writes through any chmod), a chmod otherwise."""
    folder.mkdir()
    root = os.geteuid() == 0
    if root and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], check=False).returncode:
        pytest.skip("running as root without mount(8): no folder root cannot write to")
    try:
        fill(folder)
        if root:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        else:
            folder.chmod(0o555)
        yield folder
    finally:
        if root:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        else:
            folder.chmod(0o755)


def test_output_that_is_not_writable(archive, net_args, tmp_path):
    def fill(folder: Path) -> None:
        for path in archive.glob(f"{TALK}-*/**/*"):
            if path.is_file():
                (folder / path.relative_to(archive)).parent.mkdir(parents=True, exist_ok=True)
                (folder / path.relative_to(archive)).write_bytes(path.read_bytes())

    with unwritable(tmp_path / "ro", fill) as folder:
        before = snapshot(folder)
        for out in (folder, folder / "new-archive"):
            result = slidegrab("fetch", f"https://slideslive.com/{TALK}", "-o", str(out), "--no-transcribe", *net_args)
            assert_one_line(result.returncode, result.stderr, f"cannot write to the archive {out}")
        assert snapshot(folder) == before


# --- options ---


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["fetch", "-j", "0"], "'-j' / '--jobs': 0 is not in the range"),
        (["fetch", "-j", "abc"], "'abc' is not a valid integer"),
        (["fetch", "--jobs", "1000"], "1000 is not in the range"),
        (["fetch", "--shard", "5/3"], "shard 5 of 3 does not exist"),
        (["fetch", "--shard", "x"], "expected K/N or auto"),
        (["fetch", "--shard", "1/0"], "shard 1 of 0 does not exist"),
        (["fetch", "--shard", "auto", "--shard-count", "0"], "'--shard-count': 0 is not in the range"),
        (["fetch", "--device", "bogus"], "'--device': 'bogus' is not one of"),
        (["fetch", "--engine", "whisper.cpp"], "'--engine'"),
        (["fetch", "--compute-type", "int3"], "'--compute-type': 'int3' is not one of"),
        (["fetch", "--language", "klingon"], "not a language code Whisper knows"),
        (["fetch", "--model-dir", sys.executable], "'--model-dir'"),
        (["fetch", "--proxy", "proxy.example.org:3128"], "--proxy proxy.example.org:3128: not a URL"),
        (["fetch", "--ca-bundle", "/nonexistent/ca.pem"], "--ca-bundle /nonexistent/ca.pem: no such file"),
        (["fetch", "--ca-bundle", "/"], "'--ca-bundle'"),
        (["fetch", "--referer", "javascript:alert(1)"], "'javascript:' URLs are not supported"),
        (["fetch", "--no-such-option"], "No such option"),
        (["search", "x", "-n", "0"], "'-n' / '--limit': 0 is not in the range"),
        (["search", "x", "--limit", "many"], "'many' is not a valid integer"),
        (["search", "x", "--kind", "audio"], "'--kind': 'audio' is not one of"),
        (["transcribe", "--device", "tpu"], "'--device': 'tpu' is not one of"),
        (["index", "--merge", "--rebuild"], "--merge and --rebuild: choose one"),
        (["resolve"], "Missing argument 'URL'"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_option_values(untouched, capsys, args, fragment):
    url = [f"https://slideslive.com/{TALK}"] if args[0] == "fetch" else []
    output = ["-o", str(untouched)] if args[0] in ("fetch", "search", "transcribe", "index") else []
    assert_one_line(*in_process(capsys, *args, *url, *output), fragment)


@pytest.mark.parametrize("query", ['"unbalanced', 'sparse "networks', "NEAR(sparse noise", "(sparse OR", '"'])
def test_search_queries_with_unbalanced_quotes_or_brackets(archive, capsys, query):
    talks = snapshot(archive, f"{TALK}-*/*")
    assert_one_line(*in_process(capsys, "search", query, "-o", str(archive)), "malformed search query")
    assert snapshot(archive, f"{TALK}-*/*") == talks
    code, _ = in_process(capsys, "search", '"k-winners-take-all"', "-o", str(archive))
    assert code == 0  # the index still answers


def test_two_urls_of_one_talk_in_one_batch_never_work_on_it_at_once(replica, tmp_path, net):
    """Below the URL-list dedupe (which cannot see through a page whose talk appears only once its scripts
    run): two URLs of one talk given straight to a Batch with two workers. The second waits for the first's
    stages and then finds them complete, so every slide and the audio are fetched once."""
    from slidegrab.pipeline import Batch, FetchOptions
    from slidegrab.progress import Display

    urls = [f"https://slideslive.com/{FORMS}", f"https://slideslive.com/embed/presentation/{FORMS}"]
    mark = len(replica.log.entries)
    (tmp_path / "out").mkdir()
    options = FetchOptions(tmp_path / "out", net, jobs=2, browser=False, transcript=None)
    results = Batch(options, Display()).run(urls)
    assert [r.status for r in results] == ["done", "done"], results  # the second only resolved
    log = replica.log.entries[mark:]
    assert sum(e.path.startswith(f"/data/presentations/{FORMS}/slides/") for e in log) == 4
    assert sum(e.path.endswith("/chunk_2_00001.m4s") for e in log) == 1
