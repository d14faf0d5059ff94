"""An offline imitation of SlidesLive, Vimeo and a conference site, reached as an HTTPS proxy.

    with Replica() as r:
        r.proxy_url, r.ca_path          # give these to slidegrab as --proxy and --ca-bundle
        r.faults.add(host="slideslive.com", path="/player/*", kind="status", status=503, times=1)
        r.log.count(host="s.slideslive.com")
        r.escapes                       # hosts clients asked for that the replica does not serve

Clients keep the real URLs (https://slideslive.com/…): the proxy terminates TLS with certificates for the
real host names, signed by the replica's own CA.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from slidegrab.replica.faults import FaultPlan, FaultRule, LogEntry, RequestLog
from slidegrab.replica.fixtures import Fixture
from slidegrab.replica.proxy import App, ProxyServer
from slidegrab.replica.tls import CertificateAuthority

__all__ = ["FaultPlan", "FaultRule", "LogEntry", "Replica", "RequestLog"]


class Replica:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cache_dir: Path | None = None,
        catalogue: Iterable[Fixture] | None = None,
        app: App | None = None,  # a site to serve instead of the replica's own (transport tests)
    ):
        self.host, self.port = host, port
        self.cache_dir = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "slidegrab" / "replica"
        self.ca_path = self.cache_dir / "ca.pem"
        self.app = app
        if catalogue is None:
            catalogue = () if app is not None else _default_catalogue()
        self.catalogue = tuple(catalogue)
        self.faults = FaultPlan()
        self.log = RequestLog()
        self.escapes: list[str] = []
        self._server: ProxyServer | None = None

    @property
    def proxy_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the replica is not running; call start() or use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Replica:
        if self._server is not None:
            return self
        if self.app is None:
            self.app = self._build_app()
        authority = CertificateAuthority.load_or_create(self.cache_dir)
        self._server = ProxyServer(
            (self.host, self.port),
            app=self.app,
            tls=authority,
            faults=self.faults,
            log=self.log,
            escapes=self.escapes,
        )
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Replica:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _build_app(self) -> App:
        from slidegrab.replica.app import App as Sites  # imported late: the sites are heavy
        from slidegrab.replica.media import MediaStore

        return Sites(self.catalogue, MediaStore(self.cache_dir / "media"))


def _default_catalogue() -> tuple[Fixture, ...]:
    from slidegrab.replica.fixtures import CATALOGUE

    return tuple(CATALOGUE)
