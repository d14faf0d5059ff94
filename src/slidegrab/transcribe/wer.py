"""Word error rate: word-level Levenshtein distance over the reference length, after normalising both texts
(lower case, punctuation dropped, hyphens split, so "k-winners-take-all" is four words either way)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9\u00e0-\u024f']+")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; apostrophes stay inside words ("don't")."""
    return [w.strip("'") for w in _WORD.findall(text.lower().replace("-", " ")) if w.strip("'")]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Substitutions + deletions + insertions that turn ``ref`` into ``hyp``."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Errors per reference word (0.0 = perfect; can exceed 1.0 when the hypothesis adds words)."""
    ref = words(reference)
    if not ref:
        return float(bool(words(hypothesis)))
    return edit_distance(ref, words(hypothesis)) / len(ref)
