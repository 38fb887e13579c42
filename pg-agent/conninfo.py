"""Pure helpers on libpq connection strings and postgresql.auto.conf (unit-tested).

The primary's conninfo arrives with a password. It is handed to pg_rewind and pg_basebackup
through PGPASSWORD, never as an argument (arguments show in `ps`), and written only into the
data directory's postgresql.auto.conf (0600, the server's own), where streaming needs it.
"""

from __future__ import annotations

import urllib.parse

AUTO_CONF = "postgresql.auto.conf"
STANDBY_SIGNAL = "standby.signal"


def _is_uri(conninfo: str) -> bool:
    return conninfo.startswith(("postgresql://", "postgres://"))


def split_password(conninfo: str) -> tuple[str, str | None]:
    """(the conninfo without its password, the password or None); URIs and key=value both."""
    if _is_uri(conninfo):
        parts = urllib.parse.urlsplit(conninfo)
        if parts.password is None:
            return conninfo, None
        password = urllib.parse.unquote(parts.password)
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{user}@{host}" if user else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), password
    kept: list[str] = []
    given: str | None = None
    for item in conninfo.split():
        key, _, value = item.partition("=")
        if key == "password":
            given = value.strip("'")
        else:
            kept.append(item)
    return " ".join(kept), given


def endpoint(conninfo: str) -> tuple[str, int]:
    """(host, port) a conninfo names: how a re-seed request and a WAL receiver are compared."""
    if _is_uri(conninfo):
        parts = urllib.parse.urlsplit(conninfo)
        return parts.hostname or "", parts.port or 5432
    fields = dict(item.partition("=")[::2] for item in conninfo.split())
    return fields.get("host", ""), int(fields.get("port") or 5432)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def with_primary_conninfo(auto_conf: str, conninfo: str) -> str:
    """postgresql.auto.conf with `primary_conninfo` set to `conninfo` (any earlier one dropped:
    pg_rewind copies the source's file, which may name the source's own old upstream)."""
    lines = [
        line
        for line in auto_conf.splitlines()
        if line.split("=", 1)[0].strip() not in ("primary_conninfo", "primary_slot_name")
    ]
    lines.append(f"primary_conninfo = {_quote(conninfo)}")
    return "\n".join(lines) + "\n"
