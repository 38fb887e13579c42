"""`python -m meridian.services.gateway`: serve until SIGTERM (settings: `MERIDIAN_GATEWAY_*`)."""

from __future__ import annotations

from meridian.core.runtime import app as runtime_app
from meridian.services.gateway.app import create_app
from meridian.services.gateway.settings import Settings


def main() -> None:
    settings = Settings()
    runtime_app.run(create_app(settings), settings)


if __name__ == "__main__":
    main()
