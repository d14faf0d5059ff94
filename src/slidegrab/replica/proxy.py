"""The replica's front door: an HTTP proxy on loopback that terminates TLS for the hosts its app serves.

``CONNECT host:443`` is answered "200 Connection established", then the socket turns into a TLS server for
``host`` (certificate from tls.py) and carries any number of keep-alive HTTP/1.1 requests. Plain
``GET http://host/path`` requests are served the same way, without TLS. Every request becomes a
``wire.Request`` for ``App.handle``; hosts the app does not serve get 502 and are recorded as escapes.
Faults (faults.py) spoil requests on the way. One thread per connection (connection.py); ``stop()`` ends
them all.
"""

from __future__ import annotations

import logging
import socketserver
import threading
import time
from typing import Protocol

from slidegrab.replica.connection import ProxyHandler
from slidegrab.replica.faults import FaultPlan, RequestLog
from slidegrab.replica.tls import CertificateAuthority
from slidegrab.replica.wire import Request, Response

logger = logging.getLogger("slidegrab.replica")


class App(Protocol):
    def serves(self, host: str) -> bool: ...

    def handle(self, request: Request) -> Response: ...


class ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        app: App,
        tls: CertificateAuthority,
        faults: FaultPlan,
        log: RequestLog,
        escapes: list[str],
    ):
        super().__init__(address, ProxyHandler)
        self.app, self.tls, self.faults, self.log, self.escapes = app, tls, faults, log, escapes
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self._handlers: set[ProxyHandler] = set()
        self._connection_threads: set[threading.Thread] = set()
        self._serving = threading.Thread(
            target=self.serve_forever, args=(0.05,), name="replica-proxy", daemon=True
        )

    def start(self) -> None:
        self._serving.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, close the listening socket and every open connection, wait for the threads."""
        self.stopping.set()
        if self._serving.is_alive():
            self.shutdown()
        self.server_close()
        with self.lock:
            handlers, threads = list(self._handlers), list(self._connection_threads)
        for handler in handlers:
            handler.abort()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def register(self, handler: ProxyHandler) -> bool:
        with self.lock:
            if self.stopping.is_set():
                return False
            self._handlers.add(handler)
            return True

    def unregister(self, handler: ProxyHandler) -> None:
        with self.lock:
            self._handlers.discard(handler)

    def process_request(self, request, client_address) -> None:
        thread = threading.Thread(
            target=self._connection_thread,
            args=(request, client_address),
            name="replica-connection",
            daemon=True,
        )
        with self.lock:
            self._connection_threads.add(thread)
        thread.start()

    def _connection_thread(self, request, client_address) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self.lock:
                self._connection_threads.discard(threading.current_thread())

    def handle_error(self, request, client_address) -> None:
        logger.exception("replica: unexpected error on the connection from %s", client_address)
