"""`python -m meridian.pg_agent`: serve the instance agent with settings from MERIDIAN_PG_AGENT_*."""

from meridian.pg_agent import app

if __name__ == "__main__":
    app.main()
