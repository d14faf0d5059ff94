"""library.db and search: archives written by hand (talk.json + transcript.json, no Whisper), then one real
archive fetched from the replica with a transcript placed from the fixture's own sentences."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import slidegrab.library as library
from slidegrab.errors import UsageError
from slidegrab.library import Library, format_hit
from slidegrab.replica.fixtures import by_id
from slidegrab.talk import MediaSource, Slide, Talk
from slidegrab.urls import slugify

# (id, title, speakers, [(slide start, slide OCR text)], [(start, end, spoken text, slide)])
TALKS = [
    ("10000001", "Sparse Networks that Resist Noise", ("Mira Castellanos", "Jonas Weber"),
     [(0.0, "Sparse Networks\nk-winners-take-all"), (4.5, "Robustness\nLipschitz continuity"),
      (9.0, "Noise\nadversarial perturbation"), (13.5, "Conclusion\nsparsity")],
     [(0.5, 3.8, "Today we study k-winners-take-all layers.", 1),
      (4.7, 8.2, "Sparse layers improve Lipschitz continuity.", 2),
      (9.2, 12.9, "We add an adversarial perturbation to each image.", 3),
      (13.6, 17.0, "In short, sparsity gives robust features for free.", 4)]),
    ("10000002", "Gaussian Processes for Structured Smoothness", ("Zoë Müller",),
     [(0.0, "Structured Smoothness\nGaussian process"), (5.0, "Kernels\nradial basis function"),
      (10.0, "Matérn kernel\nlength scale"), (15.0, "Results\nmarginal likelihood")],
     [(0.4, 4.6, "A Gaussian process gives smooth functions, even under noise.", 1),
      (5.2, 9.5, "We start from a radial basis function kernel.", 2),
      (10.3, 14.5, "Schrödinger bridges need a naïve prior over paths.", 3),
      (15.2, 19.0, "The marginal likelihood improves on every dataset.", 4)]),
    ("10000003", "Robust Layers under Label Noise", ("Ana Souza",),
     [(0.0, "Label Noise"), (6.0, "Robust losses")],
     [(0.5, 5.5, "Noise in the labels hurts every layer of the network, even a naive baseline.", 1),
      (6.2, 11.0, "A robust loss keeps the features clean, and clean features transfer for free.", 2),
      (11.5, 16.0, "We also tried adversarial training with the winners of past challenges.", 2)]),
]  # fmt: skip
QUERIES = ['"k-winners-take-all"', "winners", "noise", "robust features", "perturb*", "NEAR(robust features, 5)",
           "smooth*", "schrodinger", "naive", '"length scale"', "castellanos", "layers OR kernel"]  # fmt: skip


def write_talk(root: Path, spec, *, mp4: bool = True) -> Path:
    """A talk folder as the pipeline leaves it: talk.json (talk, slide table, OCR texts) and transcript.json."""
    talk_id, title, speakers, slides, segments = spec
    duration = segments[-1][1] + 1.5
    talk = Talk(
        id=talk_id,
        url=f"https://slideslive.com/{talk_id}",
        title=title,
        media=MediaSource("yoda", "x", "https://example.invalid/master.m3u8"),
        slides=tuple(Slide(i + 1, start, f"{i + 1:05d}", ".png", None) for i, (start, _) in enumerate(slides)),
        speakers=speakers,
        conference="ICLR 2020",
        duration=duration,
    )
    ends = [start for start, _ in slides[1:]] + [duration]
    table = [
        {"index": i + 1, "start": start, "end": end, "file": f"slides/{i + 1:04d}.png", "kind": "image"}
        for i, ((start, _), end) in enumerate(zip(slides, ends, strict=True))
    ]
    stages = {"ocr": {"status": "done", "texts": [text for _, text in slides]}, "transcribe": {"status": "done"}}
    folder = root / f"{talk_id}-{slugify(title)}"
    folder.mkdir(parents=True)
    state = {"format": 1, "talk": talk.to_dict(), "slides": table, "stages": stages}
    (folder / "talk.json").write_text(json.dumps(state, ensure_ascii=False))
    write_transcript(
        folder, [{"start": a, "end": b, "text": f" {t}", "slide": s, "words": []} for a, b, t, s in segments]
    )
    if mp4:
        (folder / "slides-video.mp4").write_bytes(b"")  # only its presence is indexed
    return folder


def write_transcript(folder: Path, segments: list[dict]) -> None:
    transcript = {"engine": "test", "model": "none", "language": "en", "duration": 0, "quality": {}}
    (folder / "transcript.json").write_text(json.dumps({**transcript, "segments": segments}, ensure_ascii=False))


@pytest.fixture
def archive(tmp_path) -> Path:
    for spec in TALKS:
        write_talk(tmp_path, spec)
    return tmp_path


@pytest.fixture
def lib(archive):
    with Library.for_archive(archive) as lib:
        yield lib


def results(lib: Library) -> dict[str, list[dict]]:
    return {query: [hit.to_dict() for hit in lib.search(query)] for query in QUERIES}


def counts(db: Path) -> tuple[int, int, int, int]:
    with sqlite3.connect(db) as conn:
        tables = ("talks", "slides", "segments", "search")
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)  # noqa: S608


def test_missing_index_is_built_on_open(archive):
    assert not (archive / "library.db").exists()
    with Library.for_archive(archive) as lib:
        assert lib.search("noise")
    assert counts(archive / "library.db") == (3, 10, 11, 3 + 10 + 11)


def test_a_phrase_finds_its_talk_first(lib):
    for query, talk_id in [('"robust features for free"', "10000001"), ("sparse layers improve", "10000001"),
                           ('"robust loss"', "10000003"), ("gaussian smooth noise", "10000002")]:  # fmt: skip
        hits = lib.search(query)
        assert hits[0].talk_id == talk_id, (query, hits)
    assert {h.talk_id for h in lib.search("noise")} == {"10000001", "10000002", "10000003"}


def test_prefix_and_near(lib):
    assert [(h.talk_id, h.slide) for h in lib.search("perturb*")] == [("10000001", 3), ("10000001", 3)]
    assert {h.kind for h in lib.search("perturb*")} == {"slide", "speech"}
    near = lib.search("NEAR(robust features, 1)")
    assert [h.talk_id for h in near] == ["10000001"]
    assert {h.talk_id for h in lib.search("NEAR(robust features, 5)")} == {"10000001", "10000003"}
    without = lib.search("robust NOT features")
    assert {(h.talk_id, h.kind) for h in without} == {
        ("10000001", "slide"),
        ("10000003", "title"),
        ("10000003", "slide"),
    }


def test_slide_text_hits_give_the_slide_and_its_start(lib):
    (hit,) = lib.search('"length scale"')
    assert (hit.talk_id, hit.kind, hit.slide, hit.start, hit.end) == ("10000002", "slide", 3, 10.0, 15.0)
    assert hit.snippet == "Matérn kernel «length scale»"
    assert lib.search("matern")[0].slide == 3


def test_speech_hits_give_their_time_and_slide(lib):
    (hit,) = lib.search('"radial basis function kernel"')
    assert (hit.kind, hit.start, hit.end, hit.slide) == ("speech", 5.2, 9.5, 2)
    assert hit.snippet == "We start from a «radial basis function kernel»."


def test_titles_and_speakers_rank_first(lib):
    hits = lib.search("structured smoothness")
    assert (hits[0].talk_id, hits[0].kind, hits[0].start, hits[0].slide) == ("10000002", "title", 0.0, None)
    assert hits[1].kind == "slide"
    assert lib.search("castellanos")[0].kind == "title"
    assert [h.kind for h in lib.search("noise", kinds=["title"])] == ["title", "title"]
    assert {h.kind for h in lib.search("noise", kinds=("speech", "slide"))} == {"speech", "slide"}


def test_hyphenated_jargon(lib):
    for query in ('"k-winners-take-all"', "k-winners-take-all", "winners-take*"):
        hits = lib.search(query)
        assert [(h.talk_id, h.kind) for h in hits] == [("10000001", "slide"), ("10000001", "speech")], query
    assert "«k-winners-take-all»" in lib.search("k-winners-take-all", kinds=["speech"])[0].snippet
    parts = lib.search("winners")
    assert {h.talk_id for h in parts} == {"10000001", "10000003"}
    assert any("k-«winners»-take-all" in h.snippet for h in parts)


def test_diacritics_do_not_matter(lib):
    assert [h.snippet for h in lib.search("schrodinger")] == ["«Schrödinger» bridges need a naïve prior over paths."]
    assert lib.search("Schrödinger") == lib.search("schrodinger")
    assert {h.talk_id for h in lib.search("naïve")} == {"10000002", "10000003"}
    assert lib.search("muller")[0].speakers == ("Zoë Müller",)


@pytest.mark.parametrize("query", ['"unbalanced', "NEAR(", "AND", '"', "*", "-", "a OR", "NOT x", "foo:bar", "()"])
def test_malformed_queries_are_one_line(lib, query):
    with pytest.raises(UsageError) as caught:
        lib.search(query)
    message = str(caught.value)
    assert message.startswith("malformed search query")
    assert "\n" not in message
    assert 'double quotes, e.g. "k-winners-take-all"' in message


def test_unbalanced_quote_message(lib):
    with pytest.raises(UsageError, match=r"""malformed search query '"k-winners': unbalanced quote"""):
        lib.search('"k-winners')
    with pytest.raises(UsageError, match="empty search query"):
        lib.search("  ")
    with pytest.raises(UsageError, match="unknown kind of hit: slides"):
        lib.search("noise", kinds=["slides"])


def test_hit_output(lib, archive):
    hit = lib.search('"adversarial perturbation"', kinds=["speech"])[0]
    folder = archive / "10000001-sparse-networks-that-resist-noise"
    assert (hit.folder, hit.mp4) == (folder, folder / "slides-video.mp4")
    assert hit.seek == f"{(folder / 'slides-video.mp4').as_uri()}#t=9"
    assert format_hit(hit).splitlines() == [
        "Sparse Networks that Resist Noise — Mira Castellanos, Jonas Weber",
        "  0:09 · slide 3 · speech",
        "  We add an «adversarial perturbation» to each image.",
        f"  mpv --start=9 {folder / 'slides-video.mp4'}",
    ]
    data = json.loads(json.dumps(hit.to_dict()))
    assert (data["talk_id"], data["start"], data["seek"]) == ("10000001", 9.2, hit.seek)
    assert data["speakers"] == ["Mira Castellanos", "Jonas Weber"]
    assert data["rank"] < 0


def test_talk_before_merge_and_transcription(tmp_path):
    """No slide table, MP4 or transcript yet: the slides' times come from the talk itself."""
    folder = write_talk(tmp_path, TALKS[2], mp4=False)
    (folder / "transcript.json").unlink()
    state = json.loads((folder / "talk.json").read_text())
    del state["slides"]
    (folder / "talk.json").write_text(json.dumps(state))
    with Library.for_archive(tmp_path) as lib:
        (hit,) = lib.search('"robust losses"')
        assert (hit.kind, hit.slide, hit.start, hit.end, hit.mp4) == ("slide", 2, 6.0, 17.5, None)
        assert "no slides-video.mp4 yet" in format_hit(hit)
        assert lib.search("clean features") == []


def test_add_talk_twice_does_not_duplicate(lib, archive):
    before, db = results(lib), archive / "library.db"
    for folder in sorted(archive.glob("1000000*")):
        assert lib.add_talk(folder) == folder.name[:8]
        lib.add_talk(folder)
    assert counts(db) == (3, 10, 11, 24)
    assert results(lib) == before
    assert lib.remove_talk("10000003")
    assert not lib.remove_talk("10000003")
    assert {h.talk_id for h in lib.search("noise")} == {"10000001", "10000002"}
    assert counts(db) == (2, 8, 8, 18)


def test_add_talk_sees_a_new_transcript(lib, archive):
    folder = archive / "10000003-robust-layers-under-label-noise"
    write_transcript(folder, [{"start": 1.0, "end": 2.0, "text": "Hyperbolic embeddings.", "slide": 1}])
    assert lib.search("hyperbolic") == []
    lib.add_talk(folder)
    assert [(h.talk_id, h.start) for h in lib.search("hyperbolic")] == [("10000003", 1.0)]
    assert lib.search('"clean features transfer"') == []


def test_threads_share_one_library(lib, archive):
    folders = sorted(archive.glob("1000000*"))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: (lib.add_talk(folders[i % 3]), lib.search("noise")), range(30)))
    assert counts(archive / "library.db") == (3, 10, 11, 24)


def test_rebuilt_index_gives_identical_results(tmp_path):
    with Library.for_archive(tmp_path) as lib:  # empty archive: an empty index, then talks one by one
        for spec in reversed(TALKS):
            lib.add_talk(write_talk(tmp_path, spec))
        incremental = results(lib)
    for name in ("library.db", "library.db-wal", "library.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with Library.for_archive(tmp_path) as lib:
        assert results(lib) == incremental
        assert lib.rebuild() == 3
        assert results(lib) == incremental
    assert all(incremental.values())


def test_rebuild_skips_an_unreadable_talk(lib, archive, caplog):
    bad = archive / "10000009-broken"
    bad.mkdir()
    (bad / "talk.json").write_text('{"talk": {"id": "10000009", "ti')
    nameless = write_talk(archive, ("10000008", "Nameless", (), [(0.0, "x")], [(0.0, 1.0, "x", 1)]))
    (nameless / "talk.json").write_text(json.dumps({"talk": {"id": "10000008"}}))
    assert lib.rebuild() == 3
    assert "10000009-broken/talk.json: unreadable" in caplog.text
    assert "10000008-nameless/talk.json: unexpected content (KeyError: 'title')" in caplog.text
    assert len(lib.search("noise")) > 3
    with pytest.raises(library.SlidegrabError, match="fetch the talk again"):
        lib.add_talk(bad)


def test_a_failed_rebuild_leaves_the_index_as_it_was(lib, archive, monkeypatch):
    before = results(lib)
    write_talk(archive, ("10000004", "Hyperbolic Embeddings", (), [(0.0, "Trees")], [(0.0, 2.0, "Trees.", 1)]))
    real, calls = library.read_talk, []

    def fail_on_the_third(folder, base):
        calls.append(folder)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(folder, base)

    monkeypatch.setattr(library, "read_talk", fail_on_the_third)
    with pytest.raises(OSError, match="No space left"):
        lib.rebuild()
    monkeypatch.undo()
    assert results(lib) == before
    assert lib.search("hyperbolic") == []
    assert not [p.name for p in archive.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert lib.rebuild() == 4
    assert lib.search("hyperbolic")[0].kind == "title"


def test_unreadable_index_is_rebuilt(archive, caplog):
    with Library.for_archive(archive) as lib:
        before = results(lib)
    (archive / "library.db").write_bytes(b"this is not a database" * 300)
    with Library.for_archive(archive) as lib:
        assert results(lib) == before
    assert "rebuilding it from the talk folders" in caplog.text


def test_other_connections_see_a_rebuild(lib, archive):
    other = Library.for_archive(archive)
    write_talk(archive, ("10000004", "Hyperbolic Embeddings", (), [(0.0, "Trees")], [(0.0, 2.0, "Trees.", 1)]))
    lib.rebuild()
    assert other.search("hyperbolic")[0].talk_id == "10000004"
    other.add_talk(archive / "10000001-sparse-networks-that-resist-noise")
    assert lib.search("hyperbolic")
    assert counts(archive / "library.db")[0] == 4
    other.close()


def test_no_archive_folder(tmp_path):
    with pytest.raises(UsageError, match="no such archive folder"):
        Library.for_archive(tmp_path / "missing")


WORDS = """network layer sparse robust noise kernel gaussian process transformer attention diffusion gradient loss
training model data image token embedding graph equivariant symmetry scaling inference prior posterior sample batch
normalization dropout contrastive negative momentum optimizer""".split()  # noqa: SIM905


def test_two_hundred_talks(tmp_path):
    """200 talks × 100 segments: builds in seconds, searches in milliseconds (printed, not asserted)."""
    rng = random.Random(7)
    for n in range(200):
        slides = [(s * 30.0, " ".join(rng.choices(WORDS, k=6))) for s in range(20)]
        segments = [(i * 6.0, i * 6.0 + 5.5, " ".join(rng.choices(WORDS, k=14)), i // 5 + 1) for i in range(100)]
        title = f"Talk {n} on {' '.join(rng.choices(WORDS, k=3))}"
        write_talk(tmp_path, (f"2{n:07d}", title, ("A B",), slides, segments))
    started = time.perf_counter()
    with Library.for_archive(tmp_path) as lib:
        built = time.perf_counter() - started
        timings = {}
        for query in ("gaussian", '"sparse robust"', "NEAR(kernel noise, 2)", "diff*", "graph NOT token"):
            started = time.perf_counter()
            hits = lib.search(query)
            timings[query] = f"{(time.perf_counter() - started) * 1000:.1f} ms"
            assert len(hits) == 20
    assert counts(tmp_path / "library.db")[:3] == (200, 4000, 20000)
    print(f"\nbuilt 200 talks in {built:.2f} s; searches: {timings}")


@pytest.mark.slow
def test_fetched_talks_are_searchable(replica, net_args, tmp_path):
    """The real pipeline's folders, with a transcript placed from the replica's own sentences."""
    fixtures = [by_id("38990101"), by_id("38925901")]
    help_text = run_cli("fetch", "--help").stdout
    skip = ["--no-transcribe"] if "--no-transcribe" in help_text else []
    urls = [f"https://slideslive.com/{f.id}" for f in fixtures]
    result = run_cli("fetch", *urls, "-o", str(tmp_path), *skip, *net_args)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = tmp_path / f"{fixtures[0].id}-{slugify(fixtures[0].title)}"
    starts = [s.time_ms / 1000 for s in fixtures[0].slides]
    placed = replica.app.media_store.get(fixtures[0]).speech
    segments = [
        {"start": a, "end": b, "text": text, "slide": sum(s <= a for s in starts), "words": []} for a, b, text in placed
    ]
    write_transcript(folder, segments)
    with Library.for_archive(tmp_path) as lib:
        lib.add_talk(folder)
        (hit,) = lib.search('"Lipschitz continuity"', kinds=["speech"])
        assert (hit.talk_id, hit.slide, hit.start) == (fixtures[0].id, 2, placed[1][0])
        assert hit.mp4 == folder / "slides-video.mp4"
        assert hit.mp4.stat().st_size > 0
        assert hit.seek.endswith(f"#t={int(placed[1][0])}")
        title = lib.search("gaussian processes", kinds=["title"])
        assert [h.talk_id for h in title] == [fixtures[1].id]
        assert lib.search("k-winners-take-all", kinds=["speech"])[0].start == placed[0][0]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slidegrab", *args], capture_output=True, text=True, timeout=600, check=False
    )
