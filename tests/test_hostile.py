"""Hostile content after resolving: names that try to leave the talk's folder, titles that try to run a command
or drive the terminal, images that are decompression bombs or other formats, bodies without end, redirects into
the local network; and the ways slidegrab itself runs programs (never a shell) and Chromium (sandboxed unless
root, a fresh profile, no blanket certificate bypass).

Site responses are the replica's real ones with one thing changed, served by its fault rules.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, UnidentifiedImageError

from slidegrab.archive import Archive, TalkFolder
from slidegrab.download import DECODE_ERRORS, SlidesStage, SubtitlesStage, image_format, slide_files, subtitles_file
from slidegrab.errors import MediaError, SiteChangedError, UnsafeContentError
from slidegrab.replica.fixtures import by_id
from slidegrab.replica.sites import documents
from slidegrab.resolve import resolve
from slidegrab.resolve.slides import parse_slides_json, parse_slides_xml
from slidegrab.stages import StageContext
from slidegrab.talk import MediaSource, Talk
from slidegrab.urls import slugify

SRC = Path(__file__).resolve().parents[1] / "src" / "slidegrab"
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
HOSTILE_NAMES = [
    "../../../../etc/passwd",
    "/etc/passwd",
    "C:\\Windows\\System32\\config",
    "..",
    ".",
    "CON",
    "nul",
    "Com1",
    "LPT9",
    "aux.txt",
    "\x00\x1b[31mred\x07\x9b2J",
    "A" * 2000,
    "word " * 400,
    "．．／．．／etc",  # fullwidth dots and slash: NFKD makes them ../
    "~/.ssh/authorized_keys",
    "$(touch /tmp/pwned); `id`",
    "-rf --help",
    "",
    "\u202egnp.exe",
]


# -- names: every file name derived from site data ------------------------------------------------------


@pytest.mark.parametrize("title", HOSTILE_NAMES)
def test_slugs_are_plain_words(title):
    slug = slugify(title)
    assert SLUG.fullmatch(slug), slug
    assert len(slug) <= 80
    assert slug not in RESERVED


@pytest.mark.parametrize("title", HOSTILE_NAMES)
def test_talk_folders_stay_in_the_archive(tmp_path, title):
    talk = Talk(id="38990101", url="https://slideslive.com/38990101", title=title, media=MediaSource("url", "x", "x"))
    folder = Archive(tmp_path / "archive").create(talk, talk.url)
    assert folder.path.parent == tmp_path / "archive"
    assert folder.path.name == f"38990101-{slugify(title)}"
    assert [p.name for p in tmp_path.iterdir()] == ["archive"]


@pytest.mark.parametrize("language", HOSTILE_NAMES + ["en/../../x", "en"])
def test_subtitle_file_names_are_plain(language):
    name = subtitles_file(language, ["site-subtitles.en.vtt"])
    assert re.fullmatch(r"site-subtitles\.[A-Za-z0-9-]{1,20}(-\d+)?\.vtt", name), name


SLIDE_NAMES = ["../../../../tmp/evil", "/etc/passwd", "..\\..\\boot.ini", "CON", "a/../../b", "\x1b[2J", "x" * 2000]


def test_slide_names_stay_inside_the_url_path_and_never_name_a_file():
    deck = {"slides": [{"time": i, "image": {"name": n, "extname": "png"}} for i, n in enumerate(SLIDE_NAMES)]}
    slides = parse_slides_json(json.dumps(deck), "38990101")
    rows = "".join(f"<slide><time>{i}</time><slideName>{n}</slideName></slide>" for i, n in enumerate(SLIDE_NAMES))
    legacy = parse_slides_xml(f"<videoContent>{rows.replace(chr(27), '')}</videoContent>", "38990101")
    for slide in slides + legacy:
        path = urlsplit(slide.image_url).path
        assert path.startswith(("/38990101/slides/original/", "/data/presentations/38990101/slides/big/"))
        assert ".." not in path.split("/")
        assert path.count("/") == (4 if path.startswith("/38990101") else 6)
    talk = Talk(id="1", url="", title="t", media=MediaSource("url", "x", "x"), slides=tuple(slides))
    assert slide_files(talk) == [f"slides/{i:04d}.png" for i in range(1, len(SLIDE_NAMES) + 1)]


@pytest.mark.parametrize("ext", ["../../x", "png/../../../x", "/png", "p ng", "png\x00"])
def test_slide_extensions_that_are_paths_are_refused(ext):
    deck = {"slides": [{"time": 0, "image": {"name": "00001", "extname": ext}}]}
    with pytest.raises(SiteChangedError, match=r"slides\[0\]\.image\.extname"):
        parse_slides_json(json.dumps(deck), "38990101")


# -- one whole talk with a hostile title and hostile slide names, through the CLI -------------------------

AUDITED = """
import json, sys
out = open(sys.argv[1], "a")
def hook(event, args):
    if event == "subprocess.Popen":
        out.write(json.dumps([event, str(args[0]), type(args[1]).__name__, [str(a) for a in args[1]]]) + "\\n")
    elif event in ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "pty.spawn"):
        out.write(json.dumps([event, repr(args)]) + "\\n")
    out.flush()
sys.addaudithook(hook)
from slidegrab.cli import main
main(sys.argv[2:])
"""


def png(size=(640, 360), colour=(40, 90, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_a_hostile_talk_is_archived_inside_its_folder_without_running_anything(tmp_path, net_args, faults):
    fixture, pwned = by_id("38990101"), tmp_path / "pwned"
    title = f"../../../../tmp/$(touch {pwned})`touch {pwned}`\x1b]0;owned\x07\x1b[31m\x00 CON NUL.txt " + "A" * 2000
    body = "\n".join(
        f"#EXT-SL-PRESENTATION-TITLE:{title}" if line.startswith("#EXT-SL-PRESENTATION-TITLE:") else line
        for line in documents.player_body(fixture).split("\n")
    )
    names = SLIDE_NAMES[: len(fixture.slides)]
    deck = [
        {"time": s.time_ms, "image": {"name": n, "extname": "png"}} for s, n in zip(fixture.slides, names, strict=True)
    ]
    faults(host="slideslive.com", path="/player/38990101", status=200, body=body.encode())
    faults(
        host="s.slideslive.com", path="/38990101/*/slides.json", status=200, body=json.dumps({"slides": deck}).encode()
    )
    faults(host="slideslive-slides.b-cdn.net", path="/38990101/slides/original/*", status=200, body=png())
    archive, events = tmp_path / "archive", tmp_path / "events.jsonl"
    command = [
        sys.executable,
        "-c",
        AUDITED,
        str(events),
        "fetch",
        "https://slideslive.com/38990101",
        "-o",
        str(archive),
    ]
    result = subprocess.run([*command, "--no-transcribe", "--no-browser", *net_args], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "events.jsonl"]  # no pwned, nothing beside
    (folder,) = [p for p in archive.iterdir() if p.is_dir()]
    assert SLUG.fullmatch(folder.name.removeprefix("38990101-"))
    for path in folder.rglob("*"):
        assert path.resolve().is_relative_to(folder.resolve())
        assert not path.is_symlink()
    state = json.loads((folder / "talk.json").read_text())
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", state["talk"]["title"])
    assert len(state["talk"]["title"]) <= 1000
    assert state["stages"]["slides"]["files"] == [f"slides/{i:04d}.png" for i in range(1, len(names) + 1)]
    assert "\x1b]0;" not in result.stdout + result.stderr
    runs = [json.loads(line) for line in events.read_text().splitlines()]
    assert runs, "ffmpeg ran, so the audit hook saw it"
    for run in runs:
        assert run[0] == "subprocess.Popen", run
        assert run[2] in ("list", "tuple"), run
        assert Path(run[3][0]).name not in ("sh", "bash", "dash", "zsh"), run


def test_a_hostile_player_fails_its_talk_in_one_line_and_the_batch_goes_on(tmp_path, net_args, faults):
    body = documents.player_body(by_id("38990101")).replace("https://s.slideslive.com/", "http://127.0.0.1:9/", 1)
    faults(host="slideslive.com", path="/player/38990101", status=200, body=body.encode())
    urls = ["https://slideslive.com/38990101", "https://slideslive.com/38980107"]
    command = [sys.executable, "-m", "slidegrab", "-v", "fetch", *urls, "-o", str(tmp_path), "--no-transcribe"]
    result = subprocess.run([*command, "-j", "2", *net_args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 fetched, 0 already complete, 1 failed" in result.stdout
    assert "trying the browser" not in result.stderr  # the browser would meet the same data
    line = next(x for x in result.stdout.splitlines() if "38990101" in x)
    assert "VOD-SLIDES-JSON-URL is a URL to this machine" in line, result.stdout


# -- images: bombs, other formats, bodies without end, redirects ------------------------------------------


def png_header(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG that declares ``width`` x ``height`` RGB pixels, with ``idat`` as its compressed pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zero_rows(width: int, height: int) -> bytes:
    """The compressed pixels of a black image: ~1000x smaller than what they decompress to."""
    packer, row = zlib.compressobj(9), b"\0" * (1 + 3 * width)
    return b"".join(packer.compress(row) for _ in range(height)) + packer.flush()


@pytest.mark.parametrize(
    ("width", "height", "why"),
    [(8000, 8000, "too large for a slide"), (60000, 60000, "exceeds limit"), (1, 100_000_000, "too large")],
)
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns from 89 MP, refuses at 179
def test_decompression_bombs_are_refused_before_decoding(width, height, why):
    idat = zero_rows(width, height) if width * height < 10**8 else zero_rows(16, 16)
    started = time.monotonic()
    with pytest.raises(DECODE_ERRORS, match=why):
        image_format(png_header(width, height, idat))
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("kind", ["EPS", "TIFF", "BMP", "ICO", "PPM", "TGA", "PCX"])
def test_only_slide_formats_are_opened(kind):
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(out, kind)
    with pytest.raises(UnidentifiedImageError):
        image_format(out.getvalue())


@pytest.fixture(scope="module")
def talks(replica, tmp_path_factory):
    from slidegrab.net import NetConfig

    net = NetConfig(proxy=replica.proxy_url, ca_bundle=replica.ca_path, retries=1, backoff=0.05)
    return {i: resolve(f"https://slideslive.com/{i}", net) for i in ("38980107", "38956513")}


def run_stage(stage, talk: Talk, root: Path, net) -> tuple[TalkFolder, Exception]:
    folder = Archive(root).create(talk, talk.url)
    with net.session() as session, pytest.raises((MediaError, UnsafeContentError)) as caught:
        stage.run(folder, StageContext(net=net, session=session))
    return folder, caught.value


def test_a_bomb_slide_fails_the_stage_and_writes_nothing(talks, tmp_path, net, faults):
    talk = talks["38980107"]
    faults(
        host="slideslive-slides.b-cdn.net",
        path="/38980107/slides/original/*",
        status=200,
        body=png_header(8000, 8000, zero_rows(8000, 8000)),
    )
    folder, error = run_stage(SlidesStage(), talk, tmp_path, net)
    assert f"talk {talk.id}: slide" in str(error)
    assert "8000x8000 pixels is too large for a slide" in str(error)
    assert not list(folder.path.glob("slides/*"))


def test_a_slide_without_end_is_cut_at_its_cap(talks, tmp_path, net, faults):
    talk = talks["38980107"]
    first = urlsplit(talk.slides[0].image_url).path
    faults(host="slideslive-slides.b-cdn.net", path=first, kind="endless", status=200)
    started = time.monotonic()
    folder, error = run_stage(SlidesStage(), talk, tmp_path, net)
    assert isinstance(error, UnsafeContentError)
    assert "larger than 64 MiB" in str(error)
    assert time.monotonic() - started < 60
    assert not (folder.path / "slides" / "0001.png").exists()


def test_a_slide_redirected_to_loopback_is_refused(talks, tmp_path, net, faults):
    talk = talks["38980107"]
    faults(host="slideslive-slides.b-cdn.net", path="/38980107/*", kind="redirect", location="http://127.0.0.1:22/")
    _, error = run_stage(SlidesStage(), talk, tmp_path, net)
    assert isinstance(error, UnsafeContentError)
    assert "is a URL to this machine (http://127.0.0.1:22/)" in str(error)


def test_subtitles_without_end_are_cut_at_their_cap(talks, tmp_path, net, faults):
    talk = talks["38956513"]
    faults(
        host="slideslive-video-subtitles.s3.amazonaws.com",
        path="*.vtt",
        kind="endless",
        status=200,
        body=b"WEBVTT\n\n" + b"00:00.000 --> 00:01.000\nla\n\n" * 1000,
    )
    folder, error = run_stage(SubtitlesStage(), talk, tmp_path, net)
    assert isinstance(error, UnsafeContentError)
    assert "subtitles of talk 38956513" in str(error)
    assert "larger than 8 MiB" in str(error)
    assert not list(folder.path.glob("*.vtt"))


# -- programs: never a shell ----------------------------------------------------------------------------

SHELL_CALLS = {
    "os.system",
    "os.popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "pty.spawn",
    "asyncio.create_subprocess_shell",
    "commands.getoutput",
}
SUBPROCESS_CALLS = {"run", "call", "check_call", "check_output", "Popen"}


def shell_uses(source: str, name: str = "<src>") -> list[str]:
    """Every place in ``source`` that hands a command line to a shell, or a string where an argument list
    belongs: shell= anything but False, os.system/popen and friends, os.exec*/spawn*, string commands."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        called, where = ast.unparse(node.func), f"{name}:{node.lineno}"
        if called in SHELL_CALLS or re.fullmatch(r"os\.(exec|spawn|posix_spawn)\w*", called):
            found.append(f"{where} {called}")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{where} shell={ast.unparse(keyword.value)}")
        command = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "args"), None)
        if called.rsplit(".", 1)[-1] in SUBPROCESS_CALLS and _is_string(command):
            found.append(f"{where} {called} with a string command")
    return found


def _is_string(node: ast.AST | None) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _is_string(node.left) or _is_string(node.right)
    is_format = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
    return isinstance(node, ast.JoinedStr) or is_format


def test_no_code_passes_a_shell():
    found = [use for path in sorted(SRC.rglob("*.py")) for use in shell_uses(path.read_text(), str(path))]
    assert found == []


@pytest.mark.parametrize(
    "line",
    [
        "subprocess.run(cmd, shell=True)",
        "subprocess.Popen(args, shell=flag)",
        "os.system('ffmpeg -i ' + path)",
        "os.popen(command)",
        "subprocess.check_output(f'ffprobe {path}')",
        "subprocess.run('ls -l')",
        "sp.call('rm %s' % name)",
        "subprocess.run(args='echo {}'.format(x))",
        "os.execvp('sh', ['sh', '-c', text])",
        "asyncio.create_subprocess_shell(text)",
    ],
)
def test_the_shell_scan_catches_each_form(line):
    assert shell_uses(line), line


def test_the_shell_scan_lets_argument_lists_pass():
    assert shell_uses("subprocess.run(['ffmpeg', '-i', path], check=False, shell=False)\nrun(command)") == []


# -- Chromium: its sandbox, a fresh profile, no blanket certificate bypass --------------------------------


def chromium_flags(net, profile: Path, monkeypatch, euid: int) -> tuple[list[str], dict]:
    from slidegrab.resolve import chromium

    monkeypatch.setattr(chromium.os, "geteuid", lambda: euid)
    options = chromium._options(net, profile)
    return list(options.arguments), options.to_capabilities()


@pytest.mark.parametrize("euid", [0, 1000])
def test_chromium_options_keep_the_sandbox_unless_root(net, tmp_path, monkeypatch, euid):
    flags, capabilities = chromium_flags(net, tmp_path, monkeypatch, euid)
    assert ("--no-sandbox" in flags) == (euid == 0)
    assert f"--user-data-dir={tmp_path}" in flags
    assert not [f for f in flags if f.split("=")[0] in ("--ignore-certificate-errors", "--allow-insecure-localhost")]
    assert not [f for f in flags if f.startswith(("--disable-web-security", "--disable-setuid-sandbox"))]
    (pins,) = [f for f in flags if f.startswith("--ignore-certificate-errors-spki-list=")]
    assert pins.split("=", 1)[1] == ",".join(net.chromium_args()[-1].split("=", 1)[1].split(","))
    assert not capabilities.get("acceptInsecureCerts")


@pytest.mark.browser
def test_each_chromium_gets_a_fresh_profile_and_the_flags_reach_the_browser(net):
    from slidegrab.resolve.chromium import Chromium

    profiles = []
    for _ in range(2):
        browser = Chromium(net, timeout=30)
        try:
            assert browser.profile.is_dir()
            assert browser.profile.name.startswith("slidegrab-chromium-")
            assert browser.driver.capabilities.get("acceptInsecureCerts") is False
            commands = [_cmdline(pid) for pid in browser.pids()]
            (main,) = [
                c
                for c in commands
                if c and "--user-data-dir=" + str(browser.profile) in c and "--type" not in " ".join(c)
            ]
            assert ("--no-sandbox" in main) == (os.geteuid() == 0)
            assert "--ignore-certificate-errors" not in main
            profiles.append(browser.profile)
        finally:
            browser.quit()
        assert not browser.profile.exists()
    assert profiles[0] != profiles[1]


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []
