"""Internal tokens for tests that call a service directly, as the gateway or a peer would.

Services take only tokens signed by an issuer they trust (`identity_issuers`). Tests served in
process trust `meridian-tests`, whose JWKS a small loopback server publishes; it publishes the
key of `meridian-orders` too, so inventory can trust an orders started after it (the port is not
known before). Tests against the local platform's processes sign as its gateway instead
(`as_gateway`), with the key the platform generated.
"""

from __future__ import annotations

import functools
import http.server
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from meridian.localplatform import servicekeys
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens

TESTS = "meridian-tests"
ORDERS = "meridian-orders"
SERVICES = ("orders", "inventory", "fulfillment", "auth", "billing", "search")
ALL_SCOPES = (
    contracts.ORDERS_READ,
    contracts.ORDERS_WRITE,
    contracts.INVENTORY_READ,
    contracts.INVENTORY_WRITE,
)


@functools.cache
def private_key(issuer: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class _Jwks(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        issuer = self.path.strip("/").removesuffix("/jwks.json")
        key = private_key(issuer).public_key()
        body = json.dumps({"keys": [tokens.public_jwk(key, tokens.thumbprint(key))]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@functools.cache
def _server() -> str:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=server.serve_forever, name="test-jwks", daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def issuers(*names: str) -> dict[str, str]:
    """`identity_issuers` for a service that trusts `names` (JWKS from the test server)."""
    return {name: f"{_server()}/{name}/jwks.json" for name in names}


@functools.cache
def key_file(issuer: str) -> Path:
    """The issuer's private key as a PEM file, for a service's `identity_signing_key_file`."""
    path = Path(tempfile.mkdtemp(prefix="meridian-test-keys-")) / f"{issuer}.pem"
    path.write_bytes(
        private_key(issuer).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def mint(
    tenant_id: uuid.UUID,
    scopes: Iterable[str] = ALL_SCOPES,
    *,
    subject: str = "user-1",
    audience: str | list[str] | None = None,
    issuer: str = TESTS,
    key: rsa.RSAPrivateKey | None = None,
    ttl_s: int = 3600,
) -> str:
    """A token for every service unless `audience` names one."""
    now = int(time.time())
    claims = tokens.InternalClaims(
        iss=issuer,
        aud=audience or [tokens.principal(name) for name in SERVICES],
        sub=subject,
        tenant_id=tenant_id,
        scopes=list(scopes),
        iat=now,
        exp=now + ttl_s,
        jti=tokens.new_jti(),
    )
    return tokens.sign(claims, key or private_key(issuer))


def as_gateway(run_dir: str | Path, tenant_id: uuid.UUID, subject: str, scopes: list[str]) -> str:
    """A token the local platform's gateway could have signed, for every service."""
    path = servicekeys.key_file(Path(run_dir), "gateway")
    key = tokens.load_private_keys(path)[0]
    return mint(tenant_id, scopes, subject=subject, issuer="meridian-gateway", key=key)


def headers(tenant_id: uuid.UUID, scopes: Iterable[str] = ALL_SCOPES) -> dict[str, str]:
    """The identity headers the gateway sets (for logs): naming a tenant proves nothing."""
    return {
        contracts.TENANT_HEADER: str(tenant_id),
        contracts.SUBJECT_HEADER: "admin",
        contracts.SCOPES_HEADER: " ".join(scopes),
    }


def forgeries(tenant_id: uuid.UUID) -> dict[str, dict[str, str]]:
    """Ways to claim `tenant_id` without a valid token, each of which a service must refuse (401):
    the identity headers alone, and with tokens that are not proof."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    unsigned = jwt.encode(
        {"iss": TESTS, "aud": "meridian-orders", "sub": "x", "tenant_id": str(tenant_id)},
        key="",
        algorithm="none",
    )

    def bearer(token: str) -> dict[str, str]:
        return {**headers(tenant_id), "Authorization": f"Bearer {token}"}

    return {
        "headers alone": headers(tenant_id),
        "a token signed by a key the issuer does not publish": bearer(
            mint(tenant_id, key=stranger)
        ),
        "a token from an issuer the service does not trust": bearer(
            mint(tenant_id, issuer="meridian-stranger")
        ),
        "a token for another service": bearer(mint(tenant_id, audience="meridian-elsewhere")),
        "a token expired beyond the clock skew": bearer(mint(tenant_id, ttl_s=-60)),
        "an unsigned token": bearer(unsigned),
        "an access token meant for the gateway": bearer(
            jwt.encode(
                {
                    "iss": TESTS,
                    "sub": "x",
                    "tenant_id": str(tenant_id),
                    "scopes": list(ALL_SCOPES),
                    "iat": now,
                    "exp": now + 60,
                    "jti": "j",
                },
                private_key(TESTS),
                algorithm="RS256",
                headers={"kid": tokens.thumbprint(private_key(TESTS).public_key())},
            )
        ),
    }
