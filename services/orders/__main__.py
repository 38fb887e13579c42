"""`python -m meridian.services.orders`: serve until SIGTERM (settings from MERIDIAN_ORDERS_*)."""

from __future__ import annotations

from meridian.services.kit import app as kit_app
from meridian.services.orders import app, settings


def main() -> None:
    config = settings.Settings()
    kit_app.run(app.create_app(config), config)


if __name__ == "__main__":
    main()
