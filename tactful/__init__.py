"""tactful: empathetic automation for customer support and marketing (LangGraph)."""

from tactful import _deferred

_deferred.install()
