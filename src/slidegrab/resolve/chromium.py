"""One headless Chromium under chromedriver: launch, network log, response bodies, and a clean end.

Debian's ``chromium`` and ``chromedriver`` by default (``SLIDEGRAB_CHROMIUM`` / ``SLIDEGRAB_CHROMEDRIVER``
name others); Selenium Manager is never asked. Each launch gets a fresh temporary profile. Site isolation
is switched off so that a slideslive.com iframe inside a conference page runs in the page's renderer:
ChromeDriver's performance log, and ``Network.getResponseBody``, then see the iframe's requests too (with
site isolation on, Chromium 156 puts the iframe in another process and both miss them).
chromedriver starts in a session of its own, so ``quit`` can end every process the launch made, and a
Ctrl-C meant for slidegrab does not reach the browser; a watchdog (watchdog.py) ends that session when
slidegrab itself is killed. chromedriver's output and Chromium's stderr go to ``output.log`` in the profile: when
Chromium exits at start, chromedriver does not say why, that log does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

from slidegrab.errors import BrowserError
from slidegrab.net import NetConfig
from slidegrab.resolve.watchdog import Watchdog, group, kill_group, processes

__all__ = ["Chromium", "Exchange", "NetLog", "descendants", "first_line", "group", "processes"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCRIPT_TIMEOUT_S = 5  # the scripts run here are instant; a page that takes longer has hung the renderer
FLAGS = (
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--mute-audio",
    "--metrics-recording-only",
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process,Translate,MediaRouter,OptimizationHints,"
    "NetworkTimeServiceQuerying",
    "--window-size=1280,800",
)
# Chromium's own traffic that no switch turns off (account checks, component updates, the default search
# engine's start page) goes to a closed port on loopback, which never passes through the proxy.
SINK = "http://127.0.0.1:9"
QUIET = (f"--gaia-url={SINK}", f"--component-updater=url-source={SINK}")
QUIET_PREFS = {
    "default_search_provider_data": {
        "template_url_data": {"keyword": "none", "short_name": "none", "url": SINK + "/?q={searchTerms}"}
    }
}


class Chromium:
    """A started browser. ``events()`` drains the Network events logged since the last call."""

    def __init__(self, net: NetConfig, *, timeout: float):
        self.profile = Path(tempfile.mkdtemp(prefix="slidegrab-chromium-"))
        self.watchdog = Watchdog(self.profile)  # first: from chromedriver's first instant on, it is guarded
        try:
            self.driver = _launch(_options(net, self.profile), timeout, self.watchdog, self.profile / "output.log")
        except BaseException:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.watchdog.release()
            raise
        self.pid = self.driver.service.process.pid
        self._finalizer = weakref.finalize(self, _shutdown, self.driver, self.pid, self.profile, self.watchdog)
        self.driver.set_page_load_timeout(timeout)
        self.driver.set_script_timeout(SCRIPT_TIMEOUT_S)

    def load(self, url: str) -> None:
        self.driver.get(url)

    def events(self) -> list[tuple[str, dict]]:
        """(method, params) of every Network event logged since the previous call."""
        messages = (json.loads(entry["message"])["message"] for entry in self.driver.get_log("performance"))
        return [(m["method"], m["params"]) for m in messages if m["method"].startswith("Network.")]

    def body(self, request_id: str) -> str | None:
        """The response body of a finished request, or None when Chromium no longer holds it."""
        try:
            reply = self.driver.execute_cdp_cmd("Network.getResponseBody", {"requestId": request_id})
        except WebDriverException as e:
            if "No resource with given identifier" in (e.msg or "") or "No data found" in (e.msg or ""):
                return None
            raise  # the browser itself failed: the caller may restart it
        if reply.get("base64Encoded"):
            return base64.b64decode(reply["body"]).decode("utf-8", "replace")
        return reply["body"]

    def alive(self) -> bool:
        try:
            self.driver.execute_script("return 1")
        except WebDriverException:
            return False
        return True

    def pids(self) -> list[int]:
        """chromedriver and every process under it (the browser, its zygotes and renderers)."""
        return [self.pid, *descendants(self.pid)]

    def kill(self) -> None:
        """SIGKILL every process of this launch at once (from any thread): a page job in flight then fails.
        ``quit`` still has to be called to clean up."""
        kill_group(self.pid)

    def quit(self) -> None:
        """End the session, then anything of this launch still running, then remove the profile.
        Also run at interpreter exit for a browser nobody quit."""
        self._finalizer()


@dataclass
class Exchange:
    """One request as the network log tells it: where it ended up, how it answered, whether it is over."""

    url: str  # the final URL, after any redirects
    kind: str  # Chromium's resource type: Document, XHR, Fetch, Script …
    first_url: str  # the URL first asked for
    status: int | None = None
    done: bool = False
    error: str | None = None  # net::ERR_… when it failed

    @property
    def settled(self) -> bool:
        return self.done or self.error is not None


class NetLog:
    """Network events folded into one Exchange per request, in the order the requests were made."""

    def __init__(self) -> None:
        self.exchanges: dict[str, Exchange] = {}
        self.last_change = time.monotonic()  # when a request last started, answered or ended

    def feed(self, events: list[tuple[str, dict]]) -> None:
        if any(method in _CHANGES for method, _ in events):
            self.last_change = time.monotonic()
        for method, params in events:
            request_id = params.get("requestId", "")
            if method == "Network.requestWillBeSent":
                url, kind = params["request"]["url"], params.get("type", "")
                if request_id in self.exchanges:  # a redirect: same id, new URL
                    self.exchanges[request_id].url = url
                else:
                    self.exchanges[request_id] = Exchange(url, kind, url)
            elif (exchange := self.exchanges.get(request_id)) is None:
                continue
            elif method == "Network.responseReceived":
                exchange.status = params["response"]["status"]
            elif method == "Network.loadingFinished":
                exchange.done = True
            elif method == "Network.loadingFailed":
                exchange.error = _failure(params)

    def find(self, test) -> tuple[str, Exchange] | None:
        """The first (request id, exchange) that passes ``test``."""
        return next(((rid, e) for rid, e in self.exchanges.items() if test(e)), None)

    def pending(self) -> list[Exchange]:
        return [e for e in self.exchanges.values() if not e.settled and e.url.startswith("http")]


def _failure(params: dict) -> str:
    """net::ERR_… and, when Chromium blocked the answer, why (a CORS error, a blocked URL …)."""
    reason = (params.get("corsErrorStatus") or {}).get("corsError") or params.get("blockedReason")
    text = params.get("errorText") or "failed"
    return f"{text} ({reason})" if reason else text


_CHANGES = frozenset(
    {"Network.requestWillBeSent", "Network.responseReceived", "Network.loadingFinished", "Network.loadingFailed"}
)


def _shutdown(driver: webdriver.Chrome, pid: int, profile: Path, watchdog: Watchdog) -> None:
    if group(pid):  # a browser killed already has no session to end (and quitting it would wait on retries)
        with contextlib.suppress(Exception):  # a dead browser cannot quit; the kill below ends it
            driver.quit()
    kill_group(pid)
    shutil.rmtree(profile, ignore_errors=True)
    watchdog.release()


def _options(net: NetConfig, profile: Path) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("SLIDEGRAB_CHROMIUM") or CHROMIUM
    for flag in (*FLAGS, *QUIET, f"--user-data-dir={profile}", *net.chromium_args()):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to start its sandbox as root
    options.page_load_strategy = "eager"
    options.add_experimental_option("prefs", QUIET_PREFS)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    return options


def _launch(options: webdriver.ChromeOptions, timeout: float, watchdog: Watchdog, log: Path) -> webdriver.Chrome:
    driver_path = os.environ.get("SLIDEGRAB_CHROMEDRIVER") or CHROMEDRIVER
    for what, path in (("chromedriver", driver_path), ("Chromium", options.binary_location)):
        if not Path(path).is_file():
            raise BrowserError(f"{what} not found at {path}", hint=_HINT)
    with log.open("wb") as output:  # chromedriver's output and Chromium's stderr; both keep their own copy
        service = _GuardedService(
            watchdog, executable_path=driver_path, log_output=output, popen_kw={"start_new_session": True}
        )
        try:
            return webdriver.Chrome(service=service, options=options)
        except WebDriverException as e:
            if (process := getattr(service, "process", None)) is not None:
                kill_group(process.pid)
            service.stop()
            raise _start_error(f"could not start Chromium ({options.binary_location})", e, log) from e


def _start_error(what: str, error: WebDriverException, log: Path) -> BrowserError:
    """chromedriver says only that Chromium exited; Chromium's stderr, in ``log``, says when it lacked a sandbox."""
    if NO_SANDBOX in log.read_bytes():
        return BrowserError(f"{what}: No usable sandbox!", hint=SANDBOX_HINT)
    return BrowserError(f"{what}: {first_line(error)}", hint=_HINT)


class _GuardedService(Service):
    """chromedriver, put under the watchdog's guard the moment it exists (before it starts Chromium)."""

    def __init__(self, watchdog: Watchdog, **kw):
        super().__init__(**kw)
        self._watchdog = watchdog

    def _start_process(self, path: str) -> None:
        super()._start_process(path)
        self._watchdog.watch(self.process.pid)  # its own session: its pid is the group of all it starts


_HINT = "install matching chromium and chromedriver, or set SLIDEGRAB_CHROMIUM and SLIDEGRAB_CHROMEDRIVER"
# Chromium's sandbox needs unprivileged user namespaces, which Docker's default seccomp profile forbids.
NO_SANDBOX = b"No usable sandbox!"
SANDBOX_HINT = (
    "Chromium's sandbox needs user namespaces: under Docker run with --security-opt "
    "seccomp=docker/chromium-seccomp.json (README, Docker and clusters); elsewhere allow unprivileged user namespaces"
)


def first_line(error: WebDriverException) -> str:
    """The first line of chromedriver's message (the rest is a stack trace)."""
    text = (error.msg or "").strip()
    return text.splitlines()[0] if text else type(error).__name__


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``, children first."""
    table = processes()
    found, frontier = [], {pid}
    while frontier:
        frontier = {p for p, (parent, _) in table.items() if parent in frontier}
        found += sorted(frontier)
    return found
