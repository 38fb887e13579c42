"""`python -m meridian.webhooks`: serve admission reviews over TLS until SIGTERM
(settings: `MERIDIAN_WEBHOOKS_*`; `meridian webhooks run` is the same)."""

from __future__ import annotations

from meridian.core.runtime import app as runtime_app
from meridian.webhooks import tls
from meridian.webhooks.app import create_app
from meridian.webhooks.settings import Settings


def main() -> None:
    settings = Settings()  # the TLS files come from the environment
    certificate = tls.ReloadingCertificate(settings.tls_cert_file, settings.tls_key_file)
    runtime_app.run(create_app(settings, certificate), settings, certificate.listener)


if __name__ == "__main__":
    main()
