"""The console's dashboard page (``/console/dashboard``): the live metrics of the caller's tenant with charts,
a static page like the console (same key in the tab's sessionStorage, same security headers) that reads
``/v1/metrics/summary``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from tactful.service.console import SECURITY_HEADERS

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "dashboard"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}

router = APIRouter(tags=["console"])


@router.api_route("/console/dashboard", methods=["GET", "HEAD"], include_in_schema=False)
async def dashboard_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)


@router.api_route("/console/dashboard/assets/{name}", methods=["GET", "HEAD"], include_in_schema=False)
async def dashboard_asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no dashboard asset named {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=f"{media_type}; charset=utf-8", headers=SECURITY_HEADERS)
