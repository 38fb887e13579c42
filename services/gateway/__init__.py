"""The API gateway: every external request enters here.

Per request, in order: route by path prefix (404 when none matches); for non-public routes,
verify the bearer JWT against auth's cached JWKS, then take a token from the tenant's bucket and
check the token's revocation in one Redis round trip (429 with Retry-After when empty; permissive
when Redis is down, with `meridian_gateway_ratelimit_degraded` = 1); replace the identity headers
with the token's; stream the request to the upstream over one keep-alive session and the answer
back. Upstream failures say whether the request may have had an effect: 503 with Retry-After when
no connection could be made (nothing was sent: any retry is safe), 502 when the upstream broke
off before answering and 504 when it did not answer in time (it may have acted: retry with the
same Idempotency-Key). Request id and W3C traceparent travel on.
Start: `python -m meridian.services.gateway`.
"""
