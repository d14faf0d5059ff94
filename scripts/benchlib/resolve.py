"""Resolve: slidegrab's direct client and reused browser vs the seed workflow vs yt-dlp's extractor."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable

import yt_dlp
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from benchlib.common import Row, Settings, median_time, rate
from slidegrab.net import NetConfig
from slidegrab.replica.fixtures import CATALOGUE, Fixture, generated
from slidegrab.resolve import resolve
from slidegrab.resolve.browser import BrowserResolver
from slidegrab.resolve.chromium import FLAGS, QUIET, QUIET_PREFS

SEED_FLAGS = ("--no-sandbox", *FLAGS)  # the project's quiet switches, so Chromium's own calls stay off the proxy


def plain_talks(net: NetConfig, fixtures: Iterable[Fixture] = CATALOGUE) -> list[str]:
    """slideslive.com URLs of the talks that resolve directly (no embed-only or broken talks), less YouTube-hosted
    ones: yt-dlp would follow those to youtube.com, which the replica does not serve. Resolving also has the
    replica generate each talk's media now, not during a measured run."""
    urls = []
    for fixture in (f for f in fixtures if f.service != "youtube"):
        url = f"https://slideslive.com/{fixture.id}"
        try:
            resolve(url, net)
        except Exception:  # noqa: BLE001 - talks built to fail are not resolve benchmarks
            continue
        urls.append(url)
    return urls


def bench_talks(net: NetConfig, count: int) -> list[str]:
    """``count`` distinct talk URLs: the catalogue's plain talks, topped up with ``generated`` ones (the replica
    must serve ``generated(count)``)."""
    catalogue = plain_talks(net)[:count]
    return catalogue + plain_talks(net, generated(count - len(catalogue)))


def seed_resolve(url: str, net: NetConfig, wait: float) -> str:
    """The seed workflow: a new headless Chromium, a fixed wait, then the player iframe's address."""
    profile = tempfile.mkdtemp(prefix="seed-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*SEED_FLAGS, *QUIET, f"--user-data-dir={profile}", *net.chromium_args()):
        options.add_argument(flag)
    options.add_experimental_option("prefs", QUIET_PREFS)  # keeps Chromium's own calls home off the proxy
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        time.sleep(wait)
        frames = driver.find_elements(By.TAG_NAME, "iframe")
        return frames[0].get_attribute("src") if frames else ""
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def ytdlp_resolve(ydl: yt_dlp.YoutubeDL, url: str) -> dict:
    return ydl.extract_info(url, download=False)


def per_second(job: Callable[[str], object], urls: list[str], runs: int) -> tuple[float, int]:
    """Talks per second over ``urls`` (median of runs after a warm-up) and how many calls failed."""
    failures = []

    def batch() -> None:
        failures.clear()
        for url in urls:
            try:
                job(url)
            except Exception:  # noqa: BLE001 - counted and reported, not fatal to the benchmark
                failures.append(url)

    job(urls[0])  # warm-up: one talk (a whole seed batch would cost minutes)
    return len(urls) / median_time(batch, runs, warmup=False), len(failures)


def run(net: NetConfig, urls: list[str], settings: Settings) -> list[Row]:
    wait = 0.5 if settings.quick else 10.0
    params = {**net.ytdlp_params(), "quiet": True, "no_warnings": True}
    with yt_dlp.YoutubeDL(params) as ydl:
        theirs_ytdlp, ytdlp_failed = per_second(lambda u: ytdlp_resolve(ydl, u), urls, settings.runs)
    with net.session() as session:  # one session for the batch, as the pipeline does
        direct, direct_failed = per_second(lambda u: resolve(u, net, session=session), urls, settings.runs)
    with BrowserResolver(net) as browser:
        ours_browser, browser_failed = per_second(browser.resolve, urls, settings.runs)
    seed, seed_failed = per_second(lambda u: seed_resolve(u, net, wait), urls, settings.runs)
    talks = f"{len(urls)} talks ({len(set(urls))} distinct), {settings.runs} run(s) after a warm-up"
    note = f"{talks}; failures: direct {direct_failed}, yt-dlp {ytdlp_failed}"
    seed_note = f"{talks}; seed: new Chromium per URL + fixed {wait:g} s wait; failures {seed_failed}"
    return [
        rate("resolve", "direct client vs yt-dlp extractor", direct, theirs_ytdlp, "talks/s", target=1.0, note=note),
        rate("resolve", "direct client vs seed workflow", direct, seed, "talks/s", note=seed_note),
        rate(
            "resolve",
            "reused browser vs seed workflow",
            ours_browser,
            seed,
            "talks/s",
            note=f"{seed_note}; browser failures {browser_failed}",
        ),
    ]
