"""Events between services: the broker topology, the transactional outbox and its relay, consumers
with retries and dead letters, and applying each event once."""
