"""`python -m meridian.services.search`: serve until SIGTERM (settings from MERIDIAN_SEARCH_*)."""

from __future__ import annotations

from meridian.core.runtime import app as runtime_app
from meridian.services.search import app, settings


def main() -> None:
    config = settings.Settings()
    runtime_app.run(app.create_app(config), config)


if __name__ == "__main__":
    main()
