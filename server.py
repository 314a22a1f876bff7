"""The tactful HTTP service for uvicorn: ``uvicorn server:app`` (or ``tactful serve``).

Settings come from the environment (``TACTFUL_*``, ``DATABASE_URL``); see docs/service.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from tactful.service.app import create_app
from tactful.settings import Settings, get_settings

__all__ = ["Settings", "app", "create_app"]

app: FastAPI = create_app(get_settings())
