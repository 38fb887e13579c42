"""Auth authenticates every caller itself (password, refresh token, API key, access token) and
never reads the identity headers (issue 9, item 11)."""

from __future__ import annotations

import jwt

from tests import issuer
from tests.integration.services.auth.conftest import AuthClient, MakeTenant, MakeUser
from tests.integration.services.auth.test_login import login


async def test_forged_identity_headers_without_a_credential_are_unauthorized(
    auth: AuthClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    forged = issuer.headers(tenant.id)
    internal = issuer.mint(tenant.id)  # a token for the services is not an access token
    for path in ("/v1/auth/token", "/v1/auth/revoke"):
        for extra in ({}, {"Authorization": f"Bearer {internal}"}):
            response = await auth.post(path, headers={**forged, **extra})
            assert response.status == 401, (path, extra)
            assert response.content_type == "application/problem+json"


async def test_a_credential_for_one_tenant_with_headers_naming_another_acts_as_the_credential(
    auth: AuthClient, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    user, other = await make_user(), await make_tenant()
    headers = issuer.headers(other.id)
    exchanged = await auth.post(
        "/v1/auth/token",
        headers={"Authorization": f"ApiKey {user.tenant.api_key.token}", **headers},
    )
    assert exchanged.status == 200
    machine = jwt.decode(
        (await exchanged.json())["access_token"], options={"verify_signature": False}
    )
    assert machine["tenant_id"] == str(user.tenant.id)
    session = await login(auth, user)
    claims = jwt.decode(str(session["access_token"]), options={"verify_signature": False})
    assert claims["tenant_id"] == str(user.tenant.id)
    # Revoking acts for the token's tenant: another tenant's refresh token is refused even when
    # the headers name that tenant.
    stranger = await make_user(tenant=other)
    theirs = await login(auth, stranger)
    response = await auth.post(
        "/v1/auth/revoke",
        json={"refresh_token": theirs["refresh_token"]},
        headers={"Authorization": f"Bearer {session['access_token']}", **headers},
    )
    assert response.status == 403
    refreshed = await auth.post("/v1/auth/refresh", json={"refresh_token": theirs["refresh_token"]})
    assert refreshed.status == 200  # their login lives on
