"""LangSmith tracing with the packet's masking: every traced input and output passes through the same masking
as stored transcripts and handoff packets (cards, passwords, secrets, IBANs...; e-mails and phone numbers when
the settings mask them) before it leaves the process.

Tracing is LangSmith's own switch (``LANGSMITH_TRACING=true``, ``LANGSMITH_API_KEY``, ``LANGSMITH_PROJECT``;
``LANGSMITH_OTEL_ENABLED=true`` to send OpenTelemetry); :func:`install_trace_masking` puts a masking client in
place of LangSmith's global one. Each request to the model is traced as an LLM run with its token usage
(``openai`` engine: the SDK client is wrapped by ``langsmith.wrappers.wrap_openai``). docs/observability.md.
"""

from __future__ import annotations

from typing import Any

import langsmith
from langsmith.anonymizer import create_anonymizer
from langsmith.utils import tracing_is_enabled

from tactful.agents.guards.redact import mask
from tactful.settings import Settings


def trace_anonymizer(settings: Settings) -> Any:
    """A LangSmith anonymizer: every string anywhere in a run's inputs and outputs, masked."""

    def replace(text: str, path: list[str | int]) -> str:
        return mask(
            text, emails=settings.mask_emails, phones=settings.mask_phones, phone_regions=settings.mask_phone_regions
        )

    return create_anonymizer(replace)


def tracing_client(
    settings: Settings, *, client_cls: type[langsmith.Client] = langsmith.Client, **client_kwargs: Any
) -> langsmith.Client:
    """A LangSmith client whose traces are masked (``client_kwargs`` go to ``client_cls``)."""
    return client_cls(anonymizer=trace_anonymizer(settings), **client_kwargs)


def install_trace_masking(settings: Settings, *, force: bool = False) -> langsmith.Client | None:
    """Make the masking client LangSmith's global one when tracing is on (or ``force``); None when it is off."""
    if not (force or tracing_is_enabled()):
        return None
    client = tracing_client(settings)
    langsmith.configure(client=client)
    return client
