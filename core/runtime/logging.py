"""Structured JSON logs for every Meridian process, including what kopf and aiohttp log.

structlog renders; the stdlib root logger is routed through the same renderer so a line from
kopf's internals and a line from our code look alike to Loki.
"""

from __future__ import annotations

import logging
import sys

import structlog


def _object_reference(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """kopf's object loggers pass their settings and a k8s_ref; keep the object, drop the rest."""
    event.pop("settings", None)
    event.pop("k8s_skip", None)
    ref = event.pop("k8s_ref", None)
    if isinstance(ref, dict):
        event.setdefault("object", "/".join(filter(None, (ref.get("namespace"), ref.get("name")))))
        event.setdefault("kind", ref.get("kind"))
    return event


_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    # `logger.info("...", extra={...})` from kopf handlers and our own code become JSON keys.
    structlog.stdlib.ExtraAdder(),
    _object_reference,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure(level: str = "INFO", json: bool = True) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
