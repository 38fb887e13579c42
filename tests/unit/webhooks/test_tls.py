"""The serving certificate is re-read when its files change, and a half-written pair is not."""

from __future__ import annotations

import shutil
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509

from meridian.localplatform import pki
from meridian.webhooks import tls


def _issue(directory: Path, stem: str) -> pki.KeyPair:
    ca = pki.create_ca(directory, "test-ca")
    return pki.issue(
        ca, directory, stem, common_name=stem, ip_addresses=("127.0.0.1",), server=True
    )


def _served_common_name(certificate: tls.ReloadingCertificate, ca: Path) -> str:
    """One TLS handshake against the listener context; the CN of the certificate it presented."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def accept() -> None:
        connection, _ = server.accept()
        try:
            with certificate.listener.wrap_socket(connection, server_side=True) as wrapped:
                wrapped.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    client = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(server.getsockname()) as raw,
        client.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        der = wrapped.getpeercert(binary_form=True)
        wrapped.send(b"x")
    thread.join()
    server.close()
    assert der is not None
    name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    return name.removeprefix("CN=")


def test_a_rotated_pair_is_served_to_new_connections_and_a_mismatched_one_is_not(
    tmp_path: Path,
) -> None:
    first, second = _issue(tmp_path, "first"), _issue(tmp_path, "second")
    served = pki.KeyPair(tmp_path / "tls.crt", tmp_path / "tls.key")
    shutil.copy(first.cert, served.cert)
    shutil.copy(first.key, served.key)
    certificate = tls.ReloadingCertificate(served.cert, served.key)
    ca = tmp_path / "ca.crt"
    assert _served_common_name(certificate, ca) == "first"
    assert not certificate.reload_if_changed()

    shutil.copy(second.cert, served.cert)  # the new certificate, the old key: half a rotation
    assert not certificate.reload_if_changed()
    assert _served_common_name(certificate, ca) == "first"

    shutil.copy(second.key, served.key)
    assert certificate.reload_if_changed()
    assert _served_common_name(certificate, ca) == "second"
    assert certificate.reloads == 1
