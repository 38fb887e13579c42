"""`python -m meridian.services.gateway`: serve until SIGTERM (settings: `MERIDIAN_GATEWAY_*`)."""

from __future__ import annotations

from meridian.services.gateway.app import create_app
from meridian.services.gateway.settings import GatewaySettings
from meridian.services.kit import app as kit_app


def main() -> None:
    settings = GatewaySettings()
    kit_app.run(create_app(settings), settings)


if __name__ == "__main__":
    main()
