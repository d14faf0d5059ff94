"""The replica's certificate authority: one CA kept on disk, and a leaf certificate per host on demand.

The CA (certificate and key) lives in ``ca-key.pem`` beside ``ca.pem`` (the certificate alone, what clients
are given as ``--ca-bundle``), so a restarted replica keeps the CA that clients were already told to trust.
Servers send leaf + CA: Chromium trusts the CA through an SPKI pin, which needs the CA in the chain.
"""

from __future__ import annotations

import datetime
import os
import ssl
import threading
from pathlib import Path

import trustme

LEAF_LIFETIME = datetime.timedelta(days=90)  # under the 398 days browsers accept


class CertificateAuthority:
    def __init__(self, ca: trustme.CA):
        self._ca = ca
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    @classmethod
    def load_or_create(cls, directory: Path) -> CertificateAuthority:
        """The CA stored in ``directory`` (made there first if missing); ``ca.pem`` is (re)written."""
        directory.mkdir(parents=True, exist_ok=True)
        key_file = directory / "ca-key.pem"
        if not key_file.exists():
            fresh = trustme.CA(organization_name="slidegrab replica")
            _create_exclusive(key_file, fresh.private_key_pem.bytes() + fresh.cert_pem.bytes())
        pem = key_file.read_bytes()  # whoever created it first, everyone uses the same CA
        authority = cls(trustme.CA.from_pem(pem, pem))
        _write_atomic(directory / "ca.pem", authority.cert_pem)
        return authority

    @property
    def cert_pem(self) -> bytes:
        return self._ca.cert_pem.bytes()

    def context(self, host: str) -> ssl.SSLContext:
        """A server-side TLS context presenting a certificate for ``host`` (made once per host)."""
        with self._lock:
            if host not in self._contexts:
                self._contexts[host] = self._new_context(host)
            return self._contexts[host]

    def _new_context(self, host: str) -> ssl.SSLContext:
        now = datetime.datetime.now(datetime.timezone.utc)
        leaf = self._ca.issue_cert(
            host, not_before=now - datetime.timedelta(days=1), not_after=now + LEAF_LIFETIME
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])
        chain = trustme.Blob(leaf.private_key_and_cert_chain_pem.bytes() + self.cert_pem)
        with chain.tempfile() as path:
            context.load_cert_chain(path)
        return context


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _create_exclusive(path: Path, data: bytes) -> None:
    """Write ``path`` whole, only if it does not exist yet (a racing creator's file wins)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
