"""`python -m meridian.services.inventory`: serve until SIGTERM (settings from MERIDIAN_INVENTORY_*)."""

from __future__ import annotations

from meridian.services.inventory import app, settings
from meridian.services.kit import app as kit_app


def main() -> None:
    config = settings.Settings()
    kit_app.run(app.create_app(config), config)


if __name__ == "__main__":
    main()
