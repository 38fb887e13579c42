"""The PostgreSQL instance agent: a small process beside one PostgreSQL server that owns its data
directory and exposes what SQL cannot do (re-seed it as a standby of another server) over a narrow,
token-authenticated HTTP API on loopback. The FailoverPlan operator reaches PostgreSQL over SQL
only; a failback's Reseed step asks this agent (CloudNativePG's instance manager, Patroni's agent).
"""
