"""Who may call which service, locally: the signing keys and trusted issuers of the pipeline.

Each service that calls a peer (the gateway; those another service lists in `callers`) gets its
own RSA key, generated once into the platform's run directory (mode 0600, like auth's passphrase:
every pipeline on this platform shares them, so a restarted service keeps its key). Each service
behind a token-checked gateway route trusts the gateway, and its `callers`, by the URL of their
JWKS. In a cluster the keys come from Secrets and the URLs from the chart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GATEWAY = "gateway"
JWKS_PATH = "/.well-known/jwks.json"


def key_file(run_dir: Path, service: str) -> Path:
    """The service's private key (PKCS#8 PEM), created on first use; never rewritten."""
    path = run_dir / "identity-keys" / f"{service}.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
    return path


def environment(
    service: Any, services: Sequence[Any], run_dir: Path, urls: dict[str, str]
) -> dict[str, str]:
    """The `IDENTITY_*` settings of `service` (a `pipeline.Service`), without its prefix."""
    settings: dict[str, str] = {}
    signs = service.name == GATEWAY or any(service.name in other.callers for other in services)
    if signs:
        settings["IDENTITY_SIGNING_KEY_FILE"] = str(key_file(run_dir, service.name))
    trusted = (*((GATEWAY,) if service.route and not service.public else ()), *service.callers)
    if trusted:
        issuers = {f"meridian-{caller}": urls[caller] + JWKS_PATH for caller in trusted}
        settings["IDENTITY_ISSUERS"] = json.dumps(issuers)
    return settings
