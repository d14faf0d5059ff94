"""Slide intervals → Whisper chunks, and the prompts built from slide text, title and speakers."""

from __future__ import annotations

import pytest
import tokenizers

from slidegrab.replica.fixtures import by_id
from slidegrab.transcribe.chunks import (
    MAX_LEN,
    MIN_LEN,
    around_middle,
    build_prompt,
    clean_lines,
    count_tokens,
    cover,
    slide_chunks,
    snap_to_silence,
    speech_window,
)
from slidegrab.transcribe.model import PROMPT_TOKENS, Chunk
from slidegrab.transcribe.models import bundled_model


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizers.Tokenizer.from_file(str(bundled_model() / "tokenizer.json"))


def table(*starts: float) -> list[dict]:
    return [{"index": i, "start": s} for i, s in enumerate(starts, 1)]


def contiguous(chunks: list[Chunk], duration: float) -> bool:
    return (
        chunks[0].start == 0
        and chunks[-1].end == duration
        and all(a.end == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    )


def test_unpacked_one_chunk_per_slide_the_first_from_zero():
    chunks = slide_chunks(table(4.2, 10.0, 17.5), 25.0, prompts=False, pack=False)
    assert [(c.start, c.end, c.slide) for c in chunks] == [(0.0, 10.0, 1), (10.0, 17.5, 2), (17.5, 25.0, 3)]
    assert all(c.prompt == "" and c.parts == () for c in chunks)


def test_slides_pack_into_thirty_second_chunks_that_know_where_each_slide_starts():
    texts = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]
    chunks = slide_chunks(table(0.0, 10.0, 17.5, 29.0, 45.0), 80.0, slide_texts=texts)
    # 0-29 holds three slides; 29-45 and the first half of 45-80 (split in two) would pass 30 s together
    assert [(c.start, c.end, c.slide) for c in chunks] == [(0.0, 29.0, 1), (29.0, 45.0, 4), (45.0, 62.5, 5),
                                                            (62.5, 80.0, 5)]  # fmt: skip
    assert chunks[0].parts == ((0.0, 1), (10.0, 2), (17.5, 3))
    assert [chunks[0].slide_at(t) for t in (0.0, 9.9, 10.0, 20.0, 28.9)] == [1, 1, 2, 3, 3]
    assert all(c.parts == () for c in chunks[1:])
    assert chunks[0].prompt == "Gamma, Alpha, Beta."  # every slide's text, the longest shown first
    assert contiguous(chunks, 80.0)
    assert all(c.end - c.start <= MAX_LEN for c in chunks)


def test_long_slides_split_evenly():
    chunks = slide_chunks(table(0.0, 70.0), 100.0, prompts=False)
    assert [(c.start, c.end, c.slide) for c in chunks] == [
        (0.0, 23.333, 1),
        (23.333, 46.667, 1),
        (46.667, 70.0, 1),
        (70.0, 100.0, 2),
    ]


def test_short_slides_merge_into_a_neighbour_keeping_the_larger_part():
    texts = ["A one", "B two", "C three", "D four"]
    chunks = slide_chunks(table(0.0, 10.0, 10.4, 20.0), 30.0, slide_texts=texts, pack=False)
    assert [(c.start, c.end, c.slide) for c in chunks] == [(0.0, 10.0, 1), (10.0, 20.0, 3), (20.0, 30.0, 4)]
    assert chunks[1].prompt.startswith("C three, B two.")  # the larger part's text first, both kept


def test_no_slides_gives_windows_of_at_most_thirty_seconds():
    chunks = slide_chunks([], 75.0, title="T")
    assert contiguous(chunks, 75.0)
    assert all(c.slide is None and c.end - c.start <= MAX_LEN and c.prompt == "T." for c in chunks)
    assert slide_chunks([], 0.0) == []


def test_dense_deck_chunks_cover_the_talk_within_bounds():
    fixture = by_id("38935710")  # 300 slides, most 0.2 s apart
    starts = [s.time_ms / 1000 for s in fixture.slides]
    duration = starts[-1] + 3.0
    chunks = slide_chunks(table(*starts), duration, slide_texts=[s.title for s in fixture.slides])
    assert contiguous(chunks, duration)
    assert all(MIN_LEN <= c.end - c.start <= MAX_LEN for c in chunks)
    assert len(chunks) < 10
    spoken = {i for i, s in enumerate(fixture.slides, 1) if s.say}
    assert spoken <= {slide for c in chunks for _, slide in c.parts or [(c.start, c.slide)]}  # each its own part


def test_prompt_order_dedupe_and_junk():
    text = "Sparse Networks\n|\nk-winners-take-all  ~ |\nSparse networks\n— ©\ni\n2019 results"
    assert clean_lines(text) == ["Sparse Networks", "k-winners-take-all", "2019 results"]
    prompt = build_prompt(text, "Sparse Networks that Resist Noise", ["Mira Castellanos", "Jonas Weber"])
    assert prompt == (
        "Sparse Networks, k-winners-take-all, 2019 results. Sparse Networks that Resist Noise. "
        "Mira Castellanos, Jonas Weber."
    )
    assert build_prompt("", "", []) == ""


def test_prompt_fits_the_token_budget(tokenizer):
    slide = "\n".join(f"Ablation study number {i} with hyperparameter sweeps" for i in range(100))
    prompt = build_prompt(slide, "A Title", ["Zoë Ångström"], tokenizer)
    assert PROMPT_TOKENS - 12 <= count_tokens(prompt, tokenizer) <= PROMPT_TOKENS
    assert prompt.startswith("Ablation study number 0")
    assert prompt.endswith("A Title. Zoë Ångström.")
    # without the model's tokenizer the estimate is conservative: the prompt is shorter, never too long
    estimated = build_prompt(slide, "A Title", ["Zoë Ångström"])
    assert count_tokens(estimated, tokenizer) <= count_tokens(estimated) <= PROMPT_TOKENS
    assert len(estimated) < len(prompt)
    huge_title = " ".join(["Transformers"] * 400)
    assert count_tokens(build_prompt("", huge_title, [], tokenizer), tokenizer) <= PROMPT_TOKENS


def test_chunk_prompts_come_from_each_slides_own_text():
    texts, people = ["Alpha", "Beta"], ["Ann Lee"]
    chunks = slide_chunks(table(0.0, 5.0), 10.0, title="Talk", speakers=people, slide_texts=texts, pack=False)
    assert [c.prompt for c in chunks] == ["Alpha. Talk. Ann Lee.", "Beta. Talk. Ann Lee."]
    missing = slide_chunks(table(0.0, 5.0), 10.0, title="Talk", slide_texts=["Alpha"], pack=False)
    assert [c.prompt for c in missing] == ["Alpha. Talk.", "Talk."]
    packed = slide_chunks(table(0.0, 5.0), 10.0, title="Talk", speakers=people, slide_texts=texts)
    assert [c.prompt for c in packed] == ["Alpha, Beta. Talk. Ann Lee."]


def test_boundaries_inside_speech_move_to_the_nearer_silence():
    chunks = [Chunk(0.0, 10.0, 1), Chunk(10.0, 20.0, 2), Chunk(20.0, 35.0, 2), Chunk(35.0, 40.0, 3)]
    speech = [(9.6, 12.0), (16.0, 23.0), (34.0, 40.0)]
    snapped = snap_to_silence(chunks, speech)
    # a slide change moves ≤ 1 s (10 → 9.6); a split moves ≤ 5 s (20 → 23); 35 is 1 s from 34: moves too
    assert [(c.start, c.end) for c in snapped] == [(0.0, 9.6), (9.6, 23.0), (23.0, 34.0), (34.0, 40.0)]
    far = snap_to_silence([Chunk(0.0, 10.0, 1), Chunk(10.0, 20.0, 2)], [(5.0, 15.0)])
    assert [(c.start, c.end) for c in far] == [(0.0, 10.0), (10.0, 20.0)]  # too far: the cut stays


def test_a_slide_change_inside_a_packed_chunk_moves_to_the_nearer_silence_too():
    chunk = Chunk(0.0, 30.0, 1, parts=((0.0, 1), (10.0, 2), (20.0, 3)))
    speech = [(9.2, 10.3), (12.0, 19.0), (22.0, 25.0)]
    (snapped,) = snap_to_silence([chunk], speech)
    assert snapped.parts == ((0.0, 1), (10.3, 2), (20.0, 3))  # 10 is inside speech, 0.3 s from its end


def test_speech_window_and_cover():
    assert speech_window(Chunk(5.0, 15.0, 1), [(0.0, 6.0), (8.0, 9.0), (14.0, 20.0)]) == (5.0, 15.0)
    assert speech_window(Chunk(5.0, 15.0, 1), [(7.0, 9.0), (10.0, 11.0)]) == (7.0, 11.0)
    assert speech_window(Chunk(5.0, 15.0, 1), [(0.0, 4.0), (16.0, 20.0)]) is None
    tail = cover([Chunk(0.0, 10.0, 1, "p")], 75.0)
    assert [(c.start, c.end, c.slide, c.prompt) for c in tail] == [
        (0.0, 10.0, 1, "p"),
        (10.0, 31.667, 1, "p"),
        (31.667, 53.333, 1, "p"),
        (53.333, 75.0, 1, "p"),
    ]
    assert cover([Chunk(0.0, 10.0, 1), Chunk(10.0, 21.8, 2)], 21.827) == [Chunk(0.0, 10.0, 1), Chunk(10.0, 21.827, 2)]
    assert cover([Chunk(0.0, 10.0, 1), Chunk(10.0, 20.0, 2)], 12.0) == [Chunk(0.0, 10.0, 1), Chunk(10.0, 12.0, 2)]
    assert cover([], 20.0) == [Chunk(0.0, 20.0, None)]


def test_language_sample_comes_from_the_middle():
    speech = [(0.0, 30.0), (100.0, 110.0), (118.0, 125.0), (130.0, 150.0), (230.0, 240.0)]
    picked = around_middle(speech, 240.0, 30.0)
    assert picked == [(100.0, 110.0), (118.0, 125.0), (130.0, 143.0)]  # not the first 30 s
    assert around_middle([(0.0, 240.0)], 240.0, 30.0) == [(105.0, 135.0)]
    assert around_middle([], 100.0, 30.0) == [(35.0, 65.0)]
