"""ffmpeg for the replica: the talk's MP4, its yoda-style fMP4 HLS + DASH, and video-slide clips.

The dash muxer with ``-hls_playlist 1`` writes master.mpd, master.m3u8 and media_N.m3u8 over one set of
``init_N.m4s`` / ``chunk_N_00001.m4s`` segments, the way the yoda CDN serves a talk.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

FPS = 5  # slides barely move: a low frame rate keeps encoding cheap
SEGMENT_S = 6
BASE = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
BITEXACT = ["-fflags", "+bitexact", "-map_metadata", "-1"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-flags:v", "+bitexact"]
KEYS = ["-g", str(FPS * SEGMENT_S), "-keyint_min", str(FPS * SEGMENT_S), "-sc_threshold", "0"]


def ffmpeg(args: list[str]) -> None:
    """Run ffmpeg with pinned flags; on failure raise RuntimeError with its last stderr line."""
    done = subprocess.run([*BASE, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(f"ffmpeg failed: {lines[-1]}")


def encode_audio(wav: Path, m4a: Path) -> None:
    """AAC-LC, mono, ~64 kb/s, in an M4A with its index up front."""
    ffmpeg(["-i", str(wav), "-c:a", "aac", "-aac_coder", "fast", "-b:a", "64k", "-ac", "1", *BITEXACT,
            "-movflags", "+faststart", "-f", "mp4", str(m4a)])


def write_concat(path: Path, frames: list[tuple[Path, float]]) -> None:
    """An ffconcat list: each frame image with how long it shows (last one repeated, the demuxer's quirk)."""
    lines = ["ffconcat version 1.0"]
    for image, seconds in frames:
        lines += [f"file '{image.name}'", f"duration {seconds:.6f}"]
    lines.append(f"file '{frames[-1][0].name}'")
    path.write_text("\n".join(lines) + "\n")


def slideshow(concat: Path, m4a: Path, duration: float, talk_mp4: Path, small_mp4: Path) -> None:
    """The slide frames as H.264 at FPS, still-image tuned, in one pass: the progressive MP4 (640x360 + the
    AAC copied in, faststart) and a video-only 320x180 MP4 for the second HLS variant."""
    graph = f"[0:v]format=yuv420p,split=2[a][b];[a]fps={FPS}[big];[b]scale=320:180,fps={FPS}[small]"
    encode = [*X264, "-tune", "stillimage", *KEYS, "-t", f"{duration:.6f}", *BITEXACT, "-f", "mp4"]
    ffmpeg(["-f", "concat", "-safe", "0", "-i", str(concat), "-i", str(m4a), "-filter_complex", graph,
            "-map", "[big]", "-map", "1:a", "-c:a", "copy", *encode, "-movflags", "+faststart", str(talk_mp4),
            "-map", "[small]", *encode, str(small_mp4)])


def talk_hls(talk_mp4: Path, small_mp4: Path, out_dir: Path) -> None:
    """yoda HLS/DASH by stream copy: 640x360 and 320x180 video variants plus the AAC audio rendition."""
    args = ["-i", str(talk_mp4), "-i", str(small_mp4), "-map", "0:v", "-map", "1:v", "-map", "0:a",
            "-c", "copy"]
    _dash(args, "id=0,streams=v id=1,streams=a", out_dir)


def clip_hls(duration: float, out_dir: Path) -> None:
    """A muted video-slide clip: a moving test pattern, two variants."""
    source = f"testsrc2=size=640x360:rate=10:duration={duration:.3f}"
    args = ["-f", "lavfi", "-i", source, "-map", "0:v", "-map", "0:v", *X264, "-s:v:1", "320x180",
            "-g", "20", "-keyint_min", "20", "-sc_threshold", "0"]
    _dash(args, "id=0,streams=v", out_dir)


def _dash(args: list[str], sets: str, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    ffmpeg([*args, *BITEXACT, "-f", "dash", "-seg_duration", str(SEGMENT_S), "-adaptation_sets", sets,
            "-init_seg_name", "init_$RepresentationID$.m4s",
            "-media_seg_name", "chunk_$RepresentationID$_$Number%05d$.m4s",
            "-hls_playlist", "1", "-hls_master_name", "master.m3u8", str(out_dir / "master.mpd")])
    for playlist in out_dir.glob("media_*.m3u8"):
        _drop_wall_clock(playlist)


def _drop_wall_clock(playlist: Path) -> None:
    """ffmpeg stamps segments with today's date; a VOD playlist needs none, and bytes stay reproducible."""
    lines = playlist.read_text().splitlines()
    kept = [line for line in lines if not line.startswith("#EXT-X-PROGRAM-DATE-TIME")]
    playlist.write_text("\n".join(kept) + "\n")


def extinf_total(playlist: Path) -> float:
    """Sum of a media playlist's #EXTINF durations."""
    total = 0.0
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            total += float(line[len("#EXTINF:") :].split(",")[0])
    return total
