"""`python -m meridian.services.fulfillment`: serve with settings from MERIDIAN_FULFILLMENT_*."""

from __future__ import annotations

from meridian.services.fulfillment import app, settings
from meridian.services.kit import app as kit_app


def main() -> None:
    config = settings.FulfillmentSettings()
    kit_app.run(app.create_app(config), config)


if __name__ == "__main__":
    main()
