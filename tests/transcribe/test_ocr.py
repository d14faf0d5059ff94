"""OCR of the slides with the real Tesseract, on replica talks downloaded by the real slides stage: the words
the fixtures put on each slide (title and terms) come back, light text on dark slides too, in png, jpg and
webp decks; slides.txt and the talk.json record; resume, skip and a missing Tesseract."""

from __future__ import annotations

import json
import re
import shutil
import sys

import pytest
from PIL import Image, ImageDraw, ImageFont

from slidegrab.archive import Archive, TalkFolder
from slidegrab.cores import CpuShare
from slidegrab.download import SlidesStage
from slidegrab.errors import MediaError
from slidegrab.net import NetConfig
from slidegrab.replica.fixtures import by_id
from slidegrab.replica.slideart import BOLD, ink_for, slide_colour
from slidegrab.resolve import resolve
from slidegrab.stages import StageContext, run_stage
from slidegrab.transcribe import ocr as ocr_module
from slidegrab.transcribe.ocr import SLIDES_TXT, OcrStage, kept, slide_text, slide_texts

# png (light and dark slides), jpg 1024x576 (XML timings), webp, two video slides, and png + jpg mixed
DECKS = ["38990101", "38925901", "38975015", "38979606", "38932408"]
HEADING = re.compile(r"=== Slide (\d+) \[(\d\d):(\d\d):(\d\d)\] ===")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def context(net: NetConfig) -> StageContext:
    return StageContext(net=net, session=net.session())


@pytest.fixture(scope="module")
def decks(replica, tmp_path_factory) -> dict[str, TalkFolder]:
    """Each deck's talk folder: resolved, its slides downloaded, then OCR'd."""
    net = NetConfig(proxy=replica.proxy_url, ca_bundle=replica.ca_path, retries=1, backoff=0.05)
    archive, ctx, folders = Archive(tmp_path_factory.mktemp("ocr")), context(net), {}
    for talk_id in DECKS:
        url = f"https://slideslive.com/{talk_id}"
        folder = archive.create(resolve(url, net, session=ctx.session), url)
        assert run_stage(SlidesStage(), folder, ctx)
        assert run_stage(OcrStage(), folder, ctx)
        folders[talk_id] = folder
    return folders


@pytest.fixture
def copied(decks, tmp_path) -> TalkFolder:
    """A copy of the first deck's folder with its slides downloaded and no OCR record."""
    path = shutil.copytree(decks[DECKS[0]].path, tmp_path / decks[DECKS[0]].path.name)
    folder = TalkFolder.load(path)
    folder.state["stages"].pop("ocr")
    (path / SLIDES_TXT).unlink()
    return folder


def test_ocr_finds_the_titles_and_terms_of_every_deck(decks):
    found = wanted = 0
    inks, formats = set(), set()
    for talk_id, folder in decks.items():
        fixture, texts = by_id(talk_id), folder.stage("ocr")["texts"]
        assert len(texts) == len(fixture.slides)
        for index, (slide, text) in enumerate(zip(fixture.slides, texts, strict=True), 1):
            if slide.kind == "video":  # its still is the clip's first frame, not the fixture's drawing
                continue
            expected, got = words(f"{slide.title} {' '.join(slide.terms)}"), set(words(text))
            found += sum(word in got for word in expected)
            wanted += len(expected)
            assert set(words(slide.title)) <= got, (talk_id, index, text)
            inks.add(ink_for(slide_colour(talk_id, index)))
            formats.add(slide.ext)
    assert inks == {(0, 0, 0), (255, 255, 255)}  # dark text on light slides and light text on dark ones
    assert formats == {".png", ".jpg", ".webp"}
    assert found / wanted >= 0.9, f"{found} of {wanted} words"


def test_video_slide_stills_are_read_too(decks):
    folder = decks["38979606"]
    texts = folder.stage("ocr")["texts"]
    video = [i for i, s in enumerate(by_id("38979606").slides) if s.kind == "video"]
    assert video
    assert all(isinstance(texts[i], str) for i in video)
    assert "Memory" in texts[2]  # the image slide after the first clip


def test_slides_txt_lists_every_slide_with_its_time_and_text(decks):
    for folder in decks.values():
        record, talk = folder.stage("ocr"), folder.talk
        assert record["status"] == "done"
        assert record["files"] == [SLIDES_TXT]
        assert re.fullmatch(r"tesseract 5\.\d+\.\d+.*", record["engine"])
        text = (folder.path / SLIDES_TXT).read_text(encoding="utf-8")
        blocks = re.split(r"\n(?==== Slide )", text.rstrip("\n"))
        assert len(blocks) == len(talk.slides)
        for block, slide, ocr in zip(blocks, talk.slides, record["texts"], strict=True):
            heading, _, body = block.partition("\n")
            match = HEADING.fullmatch(heading)
            assert match, heading
            h, m, s = (int(g) for g in match.group(2, 3, 4))
            assert int(match.group(1)) == slide.index
            assert h * 3600 + m * 60 + s == int(slide.start)
            assert body.rstrip("\n") == ocr


def test_a_done_stage_is_skipped_without_running_tesseract(decks, monkeypatch):
    folder = decks["38975015"]
    before = (folder.path / SLIDES_TXT).read_bytes()
    monkeypatch.setattr(ocr_module, "TESSERACT", "/nonexistent/tesseract")
    assert not run_stage(OcrStage(), folder, context(NetConfig()))
    assert (folder.path / SLIDES_TXT).read_bytes() == before


def test_missing_tesseract_is_one_line_with_the_fix_then_a_rerun_finishes(copied, monkeypatch):
    monkeypatch.setattr(ocr_module, "TESSERACT", "/nonexistent/tesseract")
    with pytest.raises(MediaError) as caught:
        run_stage(OcrStage(), copied, context(NetConfig()))
    message = str(caught.value)
    assert "\n" not in message
    assert "/nonexistent/tesseract was not found" in message
    assert "apt install tesseract-ocr" in message
    recorded = json.loads((copied.path / "talk.json").read_text())["stages"]["ocr"]
    assert recorded["status"] == "failed"
    assert not (copied.path / SLIDES_TXT).exists()
    monkeypatch.undo()
    assert run_stage(OcrStage(), copied, context(NetConfig()))
    assert copied.is_done("ocr")


def test_a_lost_slides_txt_is_written_again(decks, tmp_path):
    path = shutil.copytree(decks["38925901"].path, tmp_path / "talk")
    folder = TalkFolder.load(path)
    expected = (path / SLIDES_TXT).read_text()
    (path / SLIDES_TXT).unlink()
    assert not OcrStage().complete(folder)
    assert run_stage(OcrStage(), folder, context(NetConfig()))
    assert (path / SLIDES_TXT).read_text() == expected


def test_an_unreadable_slide_image_says_which_slide(copied):
    (copied.path / copied.stage("slides")["files"][1]).write_bytes(b"not a picture")
    with pytest.raises(MediaError, match=r"slide 2 has no readable image .*run slidegrab fetch again"):
        run_stage(OcrStage(), copied, context(NetConfig()))


def test_light_text_on_a_dark_slide(tmp_path):
    image = Image.new("RGB", (800, 450), (10, 10, 40))
    draw = ImageDraw.Draw(image)
    draw.text((40, 60), "Spectral Normalization", font=ImageFont.truetype(str(BOLD), 44), fill="white")
    draw.text((40, 180), "Wasserstein distance", font=ImageFont.truetype(str(BOLD), 30), fill=(230, 230, 120))
    text = slide_text(image)
    assert text.splitlines() == ["Spectral Normalization", "Wasserstein distance"]


def titled(text: str) -> Image.Image:
    image = Image.new("RGB", (800, 450), "white")
    ImageDraw.Draw(image).text((40, 60), text, font=ImageFont.truetype(str(BOLD), 44), fill="black")
    return image


def test_one_tesseract_run_reads_many_slides_each_to_its_own_text():
    blank, missing = Image.new("RGB", (800, 450), "white"), None
    images = [blank, titled("Gradient Descent"), missing, blank, titled("Attention Heads")]
    assert slide_texts(images) == ["", "Gradient Descent", "", "", "Attention Heads"]


def test_slides_are_read_in_batches_not_one_process_each(copied, tmp_path, monkeypatch):
    """Tesseract loads its model in every process, which costs more than reading a slide: a deck is read by a
    few processes, each given a list of slides (a real Tesseract behind a wrapper that logs its runs)."""
    log, wrapper = tmp_path / "runs.log", tmp_path / "tesseract"
    real = shutil.which("tesseract")
    wrapper.write_text(f"#!{sys.executable}\nimport os, sys\nopen({str(log)!r}, 'a').write('run\\n')\n"
                       f"os.execv({real!r}, [{real!r}, *sys.argv[1:]])\n")  # fmt: skip
    wrapper.chmod(0o755)
    monkeypatch.setattr(ocr_module, "TESSERACT", str(wrapper))
    ctx = context(NetConfig())
    assert run_stage(OcrStage(), copied, ctx)
    slides = len(copied.talk.slides)
    assert slides >= 4
    runs = log.read_text().count("run")
    assert runs <= 1 + 2 * ctx.cpu.threads, f"{runs} Tesseract runs for {slides} slides"  # --version, then batches
    assert "Sparse Networks" in copied.stage("ocr")["texts"][0]


@pytest.mark.parametrize(("threads", "batches"), [(1, [5]), (2, [3, 2]), (4, [2, 2, 1])])
def test_a_deck_is_cut_into_as_many_batches_as_its_talk_has_threads(copied, monkeypatch, threads, batches):
    """A talk alone keeps every core busy; in a batch of talks, one thread each, a short deck is one batch
    (one Tesseract run and its model load, plus one for the slides it was unsure of)."""
    sizes, read = [], ocr_module._batch_texts
    monkeypatch.setattr(
        ocr_module, "_batch_texts", lambda folder, rows, ctx: sizes.append(len(rows)) or read(folder, rows, ctx)
    )
    assert run_stage(OcrStage(), copied, StageContext(net=NetConfig(), session=None, cpu=CpuShare(threads, 1)))
    assert sorted(sizes, reverse=True) == batches
    assert "Sparse Networks" in copied.stage("ocr")["texts"][0]


def test_junk_is_dropped():
    assert kept("Gaussian", 91.0)
    assert kept("7", 95.0)
    assert not kept("Gaussian", 30.0)  # unsure
    assert not kept("¢", 90.0)  # a bullet
    assert not kept("e", 57.0)  # one letter, not sure enough
    assert not kept("--", 96.0)
