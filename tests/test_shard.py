"""Sharded fetches: which talks a shard takes, K and N from SLURM or Kubernetes, and N shards run as separate
processes over one archive, merged into one index that searches like a single-machine one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from slidegrab.archive import Archive
from slidegrab.errors import UsageError
from slidegrab.identity import one_per_talk, talk_keys
from slidegrab.library import Library
from slidegrab.lock import ArchiveLock
from slidegrab.replica.fixtures import CATALOGUE, by_id, talk_url
from slidegrab.shard import Shard, from_environment, parse_shard, shard_key, shard_of

SLIDESLIVE = "https://slideslive.com/38990101"
EMBED = "https://slideslive.com/embed/presentation/38990101?embed_parent_url=https://iclr.cc/virtual/x.html"
PAGE = "https://iclr.cc/virtual_2020/poster_B1xSperKvH.html"


def test_a_talk_hashes_by_its_slideslive_id_else_its_url():
    assert shard_key(SLIDESLIVE) == shard_key(EMBED) == "38990101"
    assert shard_key(f" {PAGE} ") == PAGE
    assert shard_of(SLIDESLIVE, 7) == shard_of(EMBED, 7)
    # SHA-1, not hash(): the same on every run and machine (these values are part of the contract)
    assert [shard_of(SLIDESLIVE, 3), shard_of(SLIDESLIVE, 7), shard_of(PAGE, 7)] == [0, 3, 2]


def test_shards_partition_any_url_list():
    urls = [f"https://slideslive.com/{38900000 + i}" for i in range(300)] + [talk_url(f) for f in CATALOGUE]
    for count in (1, 2, 3, 8):
        parts = [Shard(k, count).select(urls) for k in range(count)]
        assert sorted(u for part in parts for u in part) == sorted(urls)
        assert all(parts) or count > len(urls)
    assert min(len(Shard(k, 3).select(urls)) for k in range(3)) > 80  # spread evenly, roughly


@pytest.mark.parametrize(("spec", "expected"), [("0/1", Shard(0, 1)), ("2/3", Shard(2, 3)), (" 7/8 ", Shard(7, 8))])
def test_parse_shard(spec, expected):
    assert parse_shard(spec) == expected


@pytest.mark.parametrize("spec", ["3/3", "4/3", "0/0", "-1/3", "1", "a/b", "1/3/5", "", "1 / 3"])
def test_bad_shards_are_usage_errors(spec):
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(spec)


@pytest.mark.parametrize(
    ("environ", "count", "expected"),
    [
        ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"}, None, Shard(2, 4)),
        ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "1"}, None, Shard(0, 4)),
        ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "8"}, None, Shard(4, 8)),
        ({"SLURM_ARRAY_TASK_ID": "3"}, 5, Shard(3, 5)),
        ({"JOB_COMPLETION_INDEX": "0"}, 3, Shard(0, 3)),
        ({"JOB_COMPLETION_INDEX": "2", "SLIDEGRAB_SHARD_COUNT": "3"}, None, Shard(2, 3)),
        ({"JOB_COMPLETION_INDEX": "2", "SLIDEGRAB_SHARD_COUNT": "9"}, 3, Shard(2, 3)),  # the option wins
    ],
)
def test_shard_from_the_scheduler(environ, count, expected):
    assert from_environment(environ, count) == expected
    assert parse_shard("auto", count, environ) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "no SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX"),
        ({"JOB_COMPLETION_INDEX": "1"}, "number of shards is unknown"),
        ({"SLURM_ARRAY_TASK_ID": "1"}, "number of shards is unknown"),
        ({"JOB_COMPLETION_INDEX": "3", "SLIDEGRAB_SHARD_COUNT": "3"}, "shard 3 of 3 does not exist"),
        ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"}, "not a whole number"),
    ],
)
def test_scheduler_environment_errors(environ, message):
    with pytest.raises(UsageError, match=message):
        parse_shard("auto", None, environ)


@pytest.mark.parametrize(
    ("args", "environ", "message"),
    [
        (["--shard", "3/3"], {}, "shard 3 of 3 does not exist"),
        (["--shard", "one/3"], {}, "expected K/N or auto"),
        (["--shard", "auto"], {}, "no SLURM_ARRAY_TASK_ID"),
        (["--shard", "auto"], {"JOB_COMPLETION_INDEX": "0"}, "--shard-count"),
    ],
)
def test_cli_refuses_bad_shards_in_one_line(tmp_path, args, environ, message):
    result = run_cli("fetch", SLIDESLIVE, "-o", str(tmp_path), *args, environ=environ)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_merge_needs_shard_indexes(tmp_path):
    result = run_cli("index", "--merge", "-o", str(tmp_path))
    assert result.returncode == 2
    assert "no library-shard-*.db" in result.stderr
    assert run_cli("index", str(tmp_path), "-o", str(tmp_path)).returncode == 2


@pytest.mark.slow
def test_shards_on_separate_processes_cover_every_talk_once(replica, net_args, tmp_path):
    urls = [talk_url(f) for f in CATALOGUE[:9]]
    (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
    archive = tmp_path / "archive"
    fetch = ["fetch", str(tmp_path / "urls.txt"), "-o", str(archive), "--no-transcribe", "-j", "1", *net_args]
    shards = [["--shard", "0/3"], ["--shard", "auto"], ["--shard", "auto", "--shard-count", "3"]]
    env = [{}, {"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3"}]
    env.append({"JOB_COMPLETION_INDEX": "2"})  # shards 0, 1 and 2 of 3: by hand, from SLURM, from Kubernetes
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda k: run_cli(*fetch, *shards[k], environ=env[k]), range(3)))
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]

    ids = [f.id for f in CATALOGUE[:9]]
    assert sorted(p.parent.name.split("-")[0] for p in archive.glob("*/talk.json")) == sorted(ids)
    held = [set(shard_ids(archive / f"library-shard-{k}-of-3.db")) for k in range(3)]
    assert sorted(i for part in held for i in part) == sorted(ids)  # every talk in exactly one shard
    for k, part in enumerate(held):  # by id, also where the list gives a conference page
        assert part == {f.id for f in CATALOGUE[:9] if shard_of(f"https://slideslive.com/{f.id}", 3) == k}
    assert not (archive / "library.db").exists()

    requests = len(replica.log.entries)
    again = run_cli(*fetch, *shards[0])  # the shard resumes from its own state: nothing left, nothing asked
    assert again.returncode == 0
    assert f"all {len(held[0])} talk(s) are already complete" in again.stdout
    assert len(replica.log.entries) == requests

    merged = run_cli("index", "--merge", "-o", str(archive))
    assert merged.returncode == 0, merged.stderr
    assert "indexed 9 talk(s)" in merged.stdout
    assert_searches_alike(archive / "library.db", archive / "single.db")


def assert_searches_alike(merged: Path, single_path: Path) -> None:
    """The merged index answers like one built by a single machine over the same archive."""
    with Library(merged, derive=False) as union, Library(single_path) as single:
        assert sorted(shard_ids(merged)) == sorted(shard_ids(single_path))
        for query in ("gaussian processes", "networks", "sparse OR adapters", "transformers", "learn*"):
            expected = [h.to_dict() for h in single.search(query, limit=50)]
            assert expected, query
            assert [h.to_dict() for h in union.search(query, limit=50)] == expected, query
        for table in ("talks", "entries"):
            assert dump(union, table) == dump(single, table)


def dump(library: Library, table: str) -> list[tuple]:
    columns = "*" if table == "talks" else 'talk_id, kind, start, "end", slide, text'
    return sorted(library._connection().execute(f"SELECT {columns} FROM {table}").fetchall())  # noqa: S608


def shard_ids(db: Path) -> list[str]:
    with Library(db, derive=False) as library:
        return [row[0] for row in library._connection().execute("SELECT id FROM talks")]


def run_shards(fetch: list[str], count: int = 3) -> list[subprocess.CompletedProcess]:
    """``fetch`` as shard k of ``count``, every k at once, each its own process; all must exit 0."""
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda k: run_cli(*fetch, "--shard", f"{k}/{count}"), range(count)))
    assert [r.returncode for r in results] == [0] * count, [r.stderr for r in results]
    return results


def run_cli(*args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    scheduler = ("SLURM_", "JOB_COMPLETION_INDEX", "SLIDEGRAB_SHARD_COUNT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(scheduler)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[1] / "src"), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "slidegrab", "-q", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**env, **(environ or {})},
    )


# --- a talk in two forms, and the locks between shards and plain fetches ---

SLIDES_HOST = "slideslive-slides.b-cdn.net"


def test_page_keys_place_a_conference_page_by_its_talk():
    keys = {PAGE: "38925901"}  # what identity.talk_keys learns by reading the page
    for count in (2, 3, 7):
        owners = [k for k in range(count) if Shard(k, count).select([PAGE], keys)]
        assert owners == [shard_of("https://slideslive.com/38925901", count)]
    assert Shard(0, 3).select([PAGE]) == [PAGE]  # without keys: by the URL, as before


def test_talk_keys_read_pages_and_one_per_talk_keeps_the_page(net, tmp_path):
    direct, about = "https://slideslive.com/embed/38925901", "https://iclr.cc/virtual_2020/about.html"
    refused = "https://player.vimeo.com/video/401234567"  # 403: unreadable, the talk fails later on its own
    urls = [direct, "https://slideslive.com/38990101", PAGE, about, refused]
    keys = talk_keys(urls, Archive(tmp_path), net)
    assert keys == {direct: "38925901", urls[1]: "38990101", PAGE: "38925901", about: about, refused: refused}
    assert one_per_talk(urls, keys) == [PAGE, urls[1], about, refused]  # the page, in the direct URL's place


@pytest.mark.slow
def test_a_talk_listed_in_two_forms_is_fetched_by_one_shard(replica, net_args, tmp_path):
    talk = "38925901"
    page, direct = talk_url(by_id(talk)), f"https://slideslive.com/{talk}/gaussian-processes"
    assert shard_of(page, 3) != shard_of(direct, 3)  # by their URLs they would land in two shards
    (tmp_path / "urls.txt").write_text(f"{page}\n{direct}\nhttps://slideslive.com/embed/presentation/{talk}\n")
    archive, mark = tmp_path / "archive", len(replica.log.entries)
    run_shards(["fetch", str(tmp_path / "urls.txt"), "-o", str(archive), "--no-transcribe", *net_args])
    assert [p.parent.name[:8] for p in archive.glob("*/talk.json")] == [talk]
    log = replica.log.entries[mark:]
    assert sum(e.path == f"/player/{talk}" for e in log) == 1  # resolved once, by one shard
    assert sum(e.path.startswith(f"/data/presentations/{talk}/slides/") for e in log) == 4  # each slide once
    owner = shard_of(direct, 3)
    assert [set(shard_ids(archive / f"library-shard-{k}-of-3.db")) for k in range(3)] == [
        {talk} if k == owner else set() for k in range(3)
    ]


def test_locks_let_shards_run_together_and_keep_a_plain_fetch_out(tmp_path):
    pid = os.getpid()
    with ArchiveLock(tmp_path, Shard(0, 3)), ArchiveLock(tmp_path, Shard(1, 3)), ArchiveLock(tmp_path, Shard(0, 4)):
        with pytest.raises(UsageError, match="sharded slidegrab fetches are working on"):
            ArchiveLock(tmp_path).__enter__()
        with pytest.raises(UsageError, match=rf"shard shard-0-of-3 is already being fetched \(pid {pid}\)"):
            ArchiveLock(tmp_path, Shard(0, 3)).__enter__()
    with ArchiveLock(tmp_path):  # the refused ones let go of what they had taken
        with pytest.raises(UsageError, match=rf"an unsharded slidegrab fetch \(pid {pid}\) is working on"):
            ArchiveLock(tmp_path, Shard(1, 3)).__enter__()
        with pytest.raises(UsageError, match=rf"another slidegrab fetch \(pid {pid}\) is working on"):
            ArchiveLock(tmp_path).__enter__()
    with ArchiveLock(tmp_path, Shard(2, 3)):
        pass


@pytest.mark.slow
def test_a_plain_fetch_and_shards_keep_each_other_out(replica, net_args, tmp_path):
    """Real processes: while shard 0 works, a plain fetch and a second shard 0 are refused and shard 1 runs
    to its end beside it; while a plain fetch works, a shard is refused. Nothing is fetched twice or lost."""
    slow, quick, last = "38990101", "38980107", "38932408"  # shards 0, 1 and 1 of 3
    assert [shard_of(f"https://slideslive.com/{t}", 3) for t in (slow, quick, last)] == [0, 1, 1]
    (tmp_path / "urls.txt").write_text(f"https://slideslive.com/{slow}\nhttps://slideslive.com/{quick}\n")
    archive = tmp_path / "archive"
    fetch = ["fetch", "-o", str(archive), "--no-transcribe", *net_args]
    shard0 = stalled(replica, slow, [*fetch, str(tmp_path / "urls.txt"), "--shard", "0/3"])
    plain = run_cli(*fetch, str(tmp_path / "urls.txt"))
    assert_refused(plain, f"sharded slidegrab fetches are working on {archive}")
    assert_refused(run_cli(*fetch, str(tmp_path / "urls.txt"), "--shard", "0/3"), f"(pid {shard0.pid})")
    beside = run_cli(*fetch, str(tmp_path / "urls.txt"), "--shard", "1/3")
    assert beside.returncode == 0, beside.stdout + beside.stderr
    assert shard0.poll() is None  # shard 1 ran to its end while shard 0 was still at work
    assert shard0.wait(timeout=120) == 0

    whole = stalled(replica, last, [*fetch, f"https://slideslive.com/{last}"])
    refused = run_cli(*fetch, str(tmp_path / "urls.txt"), "--shard", "2/3")
    assert_refused(refused, f"an unsharded slidegrab fetch (pid {whole.pid}) is working on {archive}")
    assert whole.wait(timeout=120) == 0
    assert sorted(p.parent.name[:8] for p in archive.glob("*/talk.json")) == sorted([slow, quick, last])
    for k in (0, 1):
        again = run_cli(*fetch, str(tmp_path / "urls.txt"), "--shard", f"{k}/3")
        assert "already complete" in again.stdout, again.stdout + again.stderr


def stalled(replica, talk: str, args: list[str]) -> subprocess.Popen:
    """``slidegrab ARGS`` started, returned once it waits on a stalled slide of ``talk`` (holding its locks)."""
    rule = replica.faults.add(host=SLIDES_HOST, path=f"/{talk}/slides/*", kind="stall", seconds=10, times=1)
    process = subprocess.Popen(
        [sys.executable, "-m", "slidegrab", "-q", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while not rule.fired:
        assert process.poll() is None, "the fetch ended before its slide stalled"
        assert time.monotonic() < deadline, "the slide never stalled"
        time.sleep(0.05)
    replica.faults.remove(rule)
    return process


def assert_refused(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr
