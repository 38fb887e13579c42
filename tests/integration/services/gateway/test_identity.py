"""The gateway takes no identity from the client's headers, and forwards its own proof: an
internal token it signs for the upstream, verifiable against its JWKS (issue 9, item 11)."""

from __future__ import annotations

import uuid

from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens
from tests import issuer
from tests.integration.services.auth.conftest import AuthClient, MakeTenant
from tests.integration.services.gateway.conftest import GatewayClient, echoed, token_for


async def test_forged_identity_headers_without_a_valid_token_are_unauthorized(
    gateway: GatewayClient,
) -> None:
    tenant = uuid.uuid4()
    # An internal token is no access token: the gateway takes only auth's.
    internal = issuer.mint(tenant, issuer="meridian-auth")
    for authorization in (None, "Bearer garbage", f"Bearer {internal}"):
        headers = issuer.headers(tenant)
        if authorization:
            headers["Authorization"] = authorization
        response = await gateway.get("/v1/orders", headers=headers)
        assert response.status == 401, authorization
        assert response.content_type == "application/problem+json"


async def test_the_upstream_gets_a_token_for_the_callers_tenant_not_the_headers(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    access = await token_for(auth, tenant.api_key.token)
    response = await gateway.get(
        "/v1/orders/1", headers={"Authorization": f"Bearer {access}", **issuer.headers(other.id)}
    )
    assert response.status == 200
    seen = {k.lower(): v for k, v in echoed(await response.text())["headers"].items()}
    scheme, _, forwarded = seen["authorization"].partition(" ")
    assert scheme == "Bearer"
    assert forwarded != access  # the user's token stops at the gateway
    document = await (await gateway.get(contracts.JWKS_PATH)).json()
    keys = {jwk["kid"]: tokens.public_key(jwk) for jwk in document["keys"]}
    claims = tokens.verify(
        forwarded,
        keys[tokens.kid_of(forwarded)],
        issuer="meridian-gateway",
        audience="meridian-orders",
        claims=tokens.InternalClaims,
    )
    assert claims.tenant_id == tenant.id
    assert claims.sub == f"apikey:{tenant.api_key.prefix}"
    assert claims.exp - claims.iat <= 60
    assert seen[contracts.TENANT_HEADER.lower()] == str(tenant.id)


async def test_a_public_route_gets_the_clients_authorization_and_no_internal_token(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    """Auth authenticates its callers itself: revoking through the gateway revokes the token."""
    tenant = await make_tenant()
    access = await token_for(auth, tenant.api_key.token)
    revoked = await gateway.post(
        "/v1/auth/revoke",
        headers={"Authorization": f"Bearer {access}", **issuer.headers(tenant.id)},
    )
    assert revoked.status == 204
    response = await gateway.get("/v1/orders/1", headers={"Authorization": f"Bearer {access}"})
    assert response.status == 401
