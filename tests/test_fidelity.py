"""An independent check of the replica's fidelity: yt-dlp's own SlidesLive extractor, run against the
replica unchanged, must see the same title, slide count and duration that slidegrab resolves."""

from __future__ import annotations

import pytest
import yt_dlp

from slidegrab.replica.fixtures import CATALOGUE
from slidegrab.resolve import resolve

# Fixtures yt-dlp does not support, and why (everything else in the catalogue is compared).
UNSUPPORTED = {
    "39012305": "embedded through a bare <iframe>, which yt-dlp's generic extractor does not look for",
    "39030011": "live: yt-dlp treats it as a live stream, slidegrab refuses it until it is on demand",
}


def talk_url(fixture) -> str:
    if fixture.conference:
        return f"https://{fixture.conference.host}{fixture.conference.path}"
    return f"https://slideslive.com/{fixture.id}"


def ytdlp_info(url: str, net, *, process: bool) -> dict:
    params = {**net.ytdlp_params(), "quiet": True, "no_warnings": True, "playlist_items": "1"}
    with yt_dlp.YoutubeDL(params) as ydl:
        info = ydl.extract_info(url, download=False, process=process)
    return info["entries"][0] if info.get("_type") == "playlist" else info


@pytest.mark.parametrize("fixture", [f for f in CATALOGUE if f.id not in UNSUPPORTED], ids=lambda f: f.id)
def test_ytdlp_sees_what_slidegrab_sees(fixture, net):
    ours = resolve(talk_url(fixture), net)
    theirs = ytdlp_info(talk_url(fixture), net, process=fixture.service != "youtube")
    assert theirs["title"] == ours.title
    # yt-dlp names one chapter per slide "Slide NNN" (and adds an untitled one for a late first slide)
    slide_chapters = [c for c in theirs.get("chapters") or () if c["title"].startswith("Slide")]
    assert len(slide_chapters) == len(ours.slides)
    if ours.duration is None:
        assert theirs.get("duration") is None
    else:
        assert 0 <= ours.duration - theirs["duration"] <= 1.0  # yt-dlp truncates to whole seconds
