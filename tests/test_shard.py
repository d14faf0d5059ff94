"""Sharded fetches: which talks a shard takes, K and N from SLURM or Kubernetes, and N shards run as separate
processes over one archive, merged into one index that searches like a single-machine one."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from slidegrab.errors import UsageError
from slidegrab.library import Library
from slidegrab.replica.fixtures import CATALOGUE, talk_url
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
    for k, part in enumerate(held):
        assert part == {f.id for f in CATALOGUE[:9] if shard_of(talk_url(f), 3) == k}
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
