"""The serving certificate, re-read when its files change: rotation without a restart.

The listener's context never changes; its `sni_callback` (called on every handshake, with or
without SNI) hands the connection the current context. A reload builds a fresh context from the
files and swaps it in only when the pair loads and matches, so a half-written rotation (new
certificate, old key) keeps the previous pair serving until the next look. Connections already
open keep the certificate they were made with.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from meridian.core.runtime import logging as meridian_logging

log = meridian_logging.get_logger("meridian.webhooks.tls")


def _context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class ReloadingCertificate:
    def __init__(self, cert: Path, key: Path) -> None:
        self.cert = cert
        self.key = key
        self._seen = self._stamp()
        self.current = _context(cert, key)
        self.listener = _context(cert, key)
        self.listener.sni_callback = self._choose
        self.reloads = 0

    def _stamp(self) -> tuple[int, int]:
        return (self.cert.stat().st_mtime_ns, self.key.stat().st_mtime_ns)

    def _choose(self, connection: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        connection.context = self.current

    def reload_if_changed(self) -> bool:
        """Swap in the files' pair if they changed and load; True when swapped."""
        try:
            stamp = self._stamp()
            if stamp == self._seen:
                return False
            context = _context(self.cert, self.key)
        except (OSError, ssl.SSLError) as error:
            log.warning("Certificate not reloaded", failure=str(error), cert=str(self.cert))
            return False
        self.current, self._seen = context, stamp
        self.reloads += 1
        log.info("Certificate reloaded", cert=str(self.cert))
        return True
