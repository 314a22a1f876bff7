"""``tactful serve``: the HTTP service under uvicorn (SQLite + offline engine with no configuration).

Without API keys the service is single-tenant and listens on 127.0.0.1 only; a non-loopback ``--host`` is
refused until keys are configured. Several ``--workers`` share one database; turns of one conversation still
run one at a time (see docs/service.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import logging.config
import sys
from typing import Any

from tactful.errors import InputError
from tactful.service.auth import KeyRing
from tactful.service.masking import logging_filter_config
from tactful.settings import Settings, load_settings

LOOPBACK = "127.0.0.1"
WORKER_STARTUP_S = 120


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP service (uvicorn)")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes sharing the database (default 1)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def log_config(settings: Settings, level: str) -> dict[str, Any]:
    """uvicorn's logging, with every handler masking card numbers, passwords and secrets."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG}
    config["filters"] = {
        "mask": logging_filter_config(
            emails=settings.mask_emails, phones=settings.mask_phones, phone_regions=settings.mask_phone_regions
        )
    }
    config["handlers"] = {name: {**h, "filters": ["mask"]} for name, h in LOGGING_CONFIG["handlers"].items()}
    config["loggers"] = {
        **LOGGING_CONFIG["loggers"],
        "tactful": {"handlers": ["default"], "level": level.upper(), "propagate": False},
    }
    return config


def run(args: argparse.Namespace) -> int:
    import uvicorn

    if not 0 < args.port < 65536:
        raise InputError(f"--port must be between 1 and 65535, not {args.port}")
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, not {args.workers}")
    settings = load_settings()  # an unknown TACTFUL_* variable or a bad value: one line, here
    keyring = KeyRing.from_settings(settings)  # a bad keys file fails here, with its file and line
    host = args.host or LOOPBACK
    if keyring.single_tenant:
        if not is_loopback(host):
            raise InputError(
                f"no API keys configured, so the service is single-tenant and listens on {LOOPBACK} only "
                f"(not {host}); set TACTFUL_API_KEYS or TACTFUL_API_KEYS_FILE to serve other hosts"
            )
        print(
            f"tactful: no API keys configured — single-tenant mode (tenant {settings.tenant!r}), "
            f"listening on {host} only",
            file=sys.stderr,
        )
    storage = "PostgreSQL" if settings.database_url else f"SQLite at {settings.data_dir}/tactful.db"
    print(
        f"tactful: {storage}, {settings.engine} engine, {args.workers} worker(s), http://{host}:{args.port}",
        file=sys.stderr,
    )
    logging.config.dictConfig(log_config(settings, args.log_level))
    if args.workers == 1:
        from tactful.service.app import create_app

        uvicorn.run(
            create_app(settings),
            host=host,
            port=args.port,
            log_config=log_config(settings, args.log_level),
            log_level=args.log_level,
            lifespan="on",
        )
    else:
        uvicorn.run(
            "server:app",
            host=host,
            port=args.port,
            workers=args.workers,
            # a worker imports the graph stack and fits intent models before it answers the supervisor's ping
            timeout_worker_healthcheck=WORKER_STARTUP_S,
            log_config=log_config(settings, args.log_level),
            log_level=args.log_level,
            lifespan="on",
        )
    return 0
