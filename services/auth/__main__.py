"""`python -m meridian.services.auth [serve | create-user ... | rotate-keys ...]`.

- serve (the default): the HTTP service, until SIGTERM.
- create-user --tenant T --email E [--scope S ...] [--ensure] < password: prints the user's id. The
  password is the first line of stdin, never an argument: argv is visible in `ps` and shell
  history, and a password starting with '-' would be parsed as an option.
- rotate-keys [--activate-in SECONDS]: a new signing key now (the old one stays published until
  its tokens have expired); prints its kid.

Settings come from `MERIDIAN_AUTH_*` (PG_DSN: meridian_auth; PLATFORM_DSN: meridian_platform;
REDIS_URL; see `settings.Settings`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from meridian.core.registry import users as registry_users
from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import db
from meridian.services.auth import keys, registry, users
from meridian.services.auth.app import create_app
from meridian.services.auth.settings import Settings


async def _rotate(settings: Settings, activate_in: float | None) -> str:
    await registry.migrate(settings)
    assert settings.pg_dsn is not None
    pool = await db.create_pool(settings.pg_dsn.get_secret_value(), application_name="auth-cli")
    try:
        return await keys.rotate(pool, settings, activate_in=activate_in)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meridian.services.auth")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP service (default)")
    create = commands.add_parser("create-user", help="create a tenant's user; prints its id")
    create.add_argument("--tenant", required=True, help="the tenant's name")
    create.add_argument("--email", required=True)
    create.add_argument("--scope", action="append", dest="scopes", help="repeatable")
    create.add_argument(
        "--ensure",
        action="store_true",
        help="an existing user gets this password and these scopes instead of an error",
    )
    rotate = commands.add_parser("rotate-keys", help="create a new signing key; prints its kid")
    rotate.add_argument(
        "--activate-in", type=float, default=None, help="seconds (default: settings)"
    )
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "create-user":
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            print("create-user: the password is read from stdin, and it was empty", file=sys.stderr)
            return 2
        try:
            user_id = asyncio.run(
                users.create_user_from_settings(
                    settings,
                    tenant=args.tenant,
                    email=args.email,
                    password=password,
                    scopes=args.scopes,
                    ensure=args.ensure,
                )
            )
        except (users.UnknownTenant, registry_users.DuplicateEmail) as error:
            print(error, file=sys.stderr)
            return 1
        print(user_id)
    elif args.command == "rotate-keys":
        print(asyncio.run(_rotate(settings, args.activate_in)))
    else:
        runtime_app.run(create_app(settings), settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
