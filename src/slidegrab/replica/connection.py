"""One client connection of the replica's proxy: CONNECT and TLS, then keep-alive HTTP/1.1 requests.

Each request becomes a ``wire.Request`` for the app (absolute URL with the real host); the fault plan may
spoil it first; the answer goes back with Content-Length (and Range handled, see body.py); the request log
records it. Hosts the app does not serve get 502 and join the escapes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import struct
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from slidegrab.replica.body import Payload, prepare
from slidegrab.replica.faults import FaultRule, LogEntry
from slidegrab.replica.wire import Request, Response

if TYPE_CHECKING:
    from slidegrab.replica.proxy import ProxyServer

logger = logging.getLogger("slidegrab.replica")
IDLE_TIMEOUT = 120.0  # seconds a connection may sit idle (or a client take to send a request)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    server: ProxyServer
    tunnel: str | None = None  # the authority a CONNECT opened: requests inside are https://{tunnel}/…

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go at once
        self.registered = self.server.register(self)

    def handle(self) -> None:
        try:
            if self.registered:
                super().handle()
        except OSError as e:  # the client went away, a TLS handshake failed, or stop() cut the socket
            logger.debug("replica: connection ended: %s", e)
        finally:
            self.server.unregister(self)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        if self.connection is not self.request:  # the TLS socket; socketserver closes only the original
            self.connection.close()

    def abort(self) -> None:
        """Cut the connection from another thread: the handler's blocked read or write returns at once."""
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.connection, socket.SHUT_RDWR)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        logger.debug("replica: " + format, *args)

    # -- CONNECT and TLS ---------------------------------------------------------------------------

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        host = host.strip("[]").lower() if port.isdigit() else self.path.lower()
        port = port if port.isdigit() else "443"
        if not self.server.app.serves(host):
            self.close_connection = True
            self._refuse(host, f"https://{host}:{port}/")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self._start_tls(host)
        self.tunnel = host if port == "443" else f"{host}:{port}"
        self.close_connection = False  # a tunnel stays open whatever HTTP version the CONNECT spoke

    def _start_tls(self, host: str) -> None:
        tls = self.server.tls.context(host).wrap_socket(
            self.connection, server_side=True, do_handshake_on_connect=False
        )
        with self.server.lock:  # so that abort() always sees the socket in use
            self.connection = tls
        if self.server.stopping.is_set():
            raise ConnectionAbortedError("the replica is stopping")
        tls.do_handshake()
        self.rfile.close()
        self.rfile = tls.makefile("rb", self.rbufsize)
        self.wfile = SocketWriter(tls)

    # -- requests ----------------------------------------------------------------------------------

    def serve(self) -> None:
        request = self._request()
        if not self.server.app.serves(request.host):
            self._refuse(request.host, request.url)
            return
        rule = self.server.faults.pick(request.host, request.path)
        if rule and rule.kind == "reset":
            self._reset(request)
        elif rule and rule.kind == "stall" and self.server.stopping.wait(rule.seconds):
            self.close_connection = True
            self._record(request, 0, 0, "stall")
        elif rule and rule.kind in ("status", "redirect"):
            self._respond(request, _fault_response(rule), rule.kind)
        elif rule and rule.kind == "endless":
            self._endless(request, rule)
        else:
            self._respond(request, self._app_response(request), rule.kind if rule else None)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = serve

    def _request(self) -> Request:
        if self.path.startswith(("http://", "https://")):
            url = self.path
        elif self.tunnel:
            url = f"https://{self.tunnel}{self.path}"
        else:
            url = f"http://{self.headers.get('Host', '')}{self.path}"
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(self.command, url, headers, self._read_body())

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            while self.rfile.readline(1024).strip():  # trailers, up to the blank line
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _app_response(self, request: Request) -> Response:
        try:
            return self.server.app.handle(request)
        except Exception:
            logger.exception("replica: the app failed on %s %s", request.method, request.url)
            return Response.text("replica: internal error (see the log)\n", 500)

    def _respond(self, request: Request, response: Response, fault: str | None) -> None:
        try:
            prepared = prepare(response, request.header("range"))
        except OSError as e:  # the app named a file that is not there
            logger.error("replica: cannot send %s: %s", request.url, e)
            prepared = prepare(Response.text("replica: internal error (see the log)\n", 500))
        payload = prepared.payload if request.method != "HEAD" else Payload()
        limit = payload.length // 2 if fault == "truncate" else payload.length
        # Recorded before the last byte leaves, so a client that has its answer finds it in the log.
        self._record(request, prepared.status, limit, fault)
        self.send_response(prepared.status)
        for name, value in prepared.headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close" if self.close_connection else "keep-alive")
        self.end_headers()
        payload.write(self.wfile, limit)
        if fault == "truncate":
            self.close_connection = True

    def _refuse(self, host: str, url: str) -> None:
        self.server.escapes.append(host)
        body = f"slidegrab replica: {host} is not served here (only the replica's own sites are)\n"
        request = Request(self.command, url, {})
        self._respond(request, Response.text(body, 502), None)

    def _endless(self, request: Request, rule: FaultRule) -> None:
        """Headers without a length, then the body over and over until the client or the replica stops."""
        status = rule.status if rule.status != 503 else 200
        self._record(request, status, 0, "endless")
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = rule.body or b"x" * 65536
        while not self.server.stopping.wait(rule.pause):
            self.wfile.write(chunk)  # OSError once the client hangs up: handle() ends the connection

    def _reset(self, request: Request) -> None:
        self._record(request, 0, 0, "reset")
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the last reference to the socket: closing it now sends RST
        self.connection.close()

    def _record(self, request: Request, status: int, nbytes: int, fault: str | None) -> None:
        self.server.log.add(LogEntry(request.method, request.url, status, nbytes, fault))


def _fault_response(rule: FaultRule) -> Response:
    if rule.kind == "redirect":
        return Response.redirect(rule.location or "/", rule.status if 300 <= rule.status < 400 else 302)
    response = Response.text(f"replica: injected fault, HTTP {rule.status}\n", rule.status)
    if rule.body is not None:
        response.body = rule.body
    response.headers["Access-Control-Allow-Origin"] = "*"  # so a browser sees the status, not a CORS error
    if rule.retry_after is not None:
        response.headers["Retry-After"] = str(rule.retry_after)
    return response


class SocketWriter(io.BufferedIOBase):
    """A file-like writer that sends everything it is given at once (as socketserver's own does)."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._sock.sendall(data)
        return len(data)
