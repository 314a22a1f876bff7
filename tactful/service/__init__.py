"""The HTTP service: a FastAPI app over the support graph with durable conversations, one turn at a time per
conversation (also across workers), idempotent retries, tenants, limits, a handoff queue and webhooks.

``create_app(settings)`` builds the app; ``server.py`` holds the module-level ``app`` for uvicorn.
"""

from tactful.service.app import create_app

__all__ = ["create_app"]
