"""The API gateway: every external request enters here.

Per request, in order: route by path prefix (404 when none matches); for non-public routes,
verify the bearer JWT against auth's cached JWKS, then take a token from the tenant's bucket and
check the token's revocation in one Redis round trip (429 with Retry-After when empty; permissive
when Redis is down, with `meridian_gateway_ratelimit_degraded` = 1); replace the identity headers
with the token's; stream the request to the upstream over one keep-alive session and the answer
back (504 on the upstream's timeout, 502 when it cannot be reached). Request id and W3C
traceparent travel on. Start: `python -m meridian.services.gateway`.
"""
