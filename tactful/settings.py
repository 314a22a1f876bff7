"""Every knob in one place: a pydantic-settings object, overridable by ``TACTFUL_*`` environment variables and a
``.env`` file in the working directory (the environment wins). :func:`load_settings` is what start-up uses: an
unknown ``TACTFUL_*`` variable or a bad value fails with one line naming the variable and what it accepts
(:mod:`tactful.settings_check`). ``docs/settings.md`` is generated from this class (``python -m
tactful.settings --write``); a test keeps it current.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, DotEnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from tactful.resources import POLICY_DIR, PROMPTS_DIR

EngineName = Literal["offline", "openai", "scripted"]


ENV_FILE = ".env"


# Regions libphonenumber has always supported (the default is two of them): checking only these needs no import
# of ``phonenumbers`` (~20-30 ms of every start-up); tests/test_startup_imports.py checks they are supported.
ALWAYS_SUPPORTED_REGIONS = frozenset({"US", "GB"})


def _phone_regions(regions: list[str]) -> list[str]:
    if all(r.upper() in ALWAYS_SUPPORTED_REGIONS for r in regions):
        return [r.upper() for r in regions]
    import phonenumbers

    unknown = [r for r in regions if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValueError(f"unknown phone region(s) {', '.join(unknown)}: use ISO 3166 codes such as US, GB, DE")
    return [r.upper() for r in regions]


class _TactfulDotEnv(DotEnvSettingsSource):
    """``.env`` values for this object's fields only: the file may also hold other tools' variables
    (``LANGSMITH_*``...); unknown ``TACTFUL_*`` ones are reported by :func:`load_settings`."""

    def __call__(self) -> dict[str, Any]:
        known = set(self.settings_cls.model_fields)
        return {k: v for k, v in super().__call__().items() if k in known}


class Settings(BaseSettings):
    """Runtime settings. Unknown ``TACTFUL_*`` variables (:func:`load_settings`) and unknown keyword arguments
    are errors."""

    model_config = SettingsConfigDict(
        env_prefix="TACTFUL_",
        extra="forbid",
        env_nested_delimiter="__",
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
    )  # the fields' docstrings are read by settings_check.field_docs when the reference is written

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        dotenv = _TactfulDotEnv(settings_cls) if isinstance(dotenv_settings, DotEnvSettingsSource) else dotenv_settings
        return init_settings, env_settings, dotenv, file_secret_settings

    engine: EngineName = "offline"
    """Which engine the specialists ask: the embedded offline one, an OpenAI-compatible server, or the scripted fake."""

    data_dir: Path = Path("var")
    """Where the embedded SQLite database and other local files live."""

    durability: Literal["sync", "async", "exit"] = "exit"
    """When a turn's checkpoints are written: ``exit`` once at the end of the turn (the default: one checkpoint
    per turn; the service logs each turn before its graph runs, so a turn a crash stops is run again from the
    log before the conversation's next message — never lost, never twice); ``sync`` after every step, before
    the next starts (a crash between steps resumes where it stopped; ~10 checkpoints per turn); ``async`` after
    every step, while the next runs (the last step's write can be lost). See docs/benchmarks.md."""

    sqlite_synchronous: Literal["normal", "full"] = "normal"
    """SQLite's ``synchronous`` pragma for the embedded database (WAL mode). ``normal`` syncs the log at WAL
    checkpoints, not on every commit: a killed or crashed process loses nothing, a power cut or kernel crash can
    lose the last commits. ``full`` syncs every commit (on a slow disk, ~4× the checkpoint cost of a turn: see
    docs/benchmarks.md)."""

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "TACTFUL_DATABASE_URL", "database_url")
    )
    """PostgreSQL URL; when set, checkpoints, handoffs and the queue live there instead of SQLite."""

    intent_cache: bool = True
    """Keep each taxonomy's fitted intent model on disk and read it back at the next start instead of fitting
    again (~2 s); keyed by a hash of the taxonomy, the background examples, the fit parameters and the package
    version, so an edited taxonomy is fitted afresh."""

    cache_dir: Path | None = None
    """Where that cache lives (default: ``$XDG_CACHE_HOME/tactful``, else ``~/.cache/tactful``)."""

    policy_dir: Path = POLICY_DIR
    """Default taxonomy and policy files; per-tenant overrides live in ``policy_dir/tenants/<tenant>/``."""

    prompts_dir: Path = PROMPTS_DIR
    """Prompt and reply templates, loaded by name."""

    tenant: str = "default"
    """Tenant used when the service runs without API keys (single-tenant mode)."""

    # --- model engine (OpenAI-compatible) ---
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("TACTFUL_OPENAI_BASE_URL", "OPENAI_BASE_URL", "openai_base_url")
    )
    """Base URL of any OpenAI-compatible server (OpenAI, Azure, vLLM, Ollama, llama.cpp); ``OPENAI_BASE_URL`` is
    the fallback. Default: api.openai.com."""
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("TACTFUL_OPENAI_API_KEY", "OPENAI_API_KEY", "openai_api_key")
    )
    """API key; ``OPENAI_API_KEY`` is the fallback. Required for api.openai.com, optional for a self-hosted
    ``openai_base_url``."""
    model: str = "gpt-4o-mini"
    """Default model name; per-node overrides below."""
    model_analysis: str | None = None
    """Model for the combined intent + sentiment + urgency analysis (default: ``model``)."""
    model_responder: str | None = None
    """Model that writes the streamed reply (default: ``model``)."""
    model_summarizer: str | None = None
    """Model that writes the handoff summary (default: ``model``)."""
    structured_output: Literal["json_schema", "json_object", "tools"] = "json_schema"
    """How structured answers are requested: ``json_schema`` (strict schema), or ``json_object`` / ``tools`` (a
    forced function call) for servers that lack ``json_schema``. The answer is validated by pydantic either way."""
    tool_choice: Literal["function", "required"] = "function"
    """How ``tools`` mode forces the call: ``function`` names it (``{"type": "function", "function": {...}}``:
    OpenAI, vLLM); ``required`` is the string form, for servers that reject the object (llama.cpp's
    llama-server, Ollama). A tool call a model writes as plain content is recognised either way."""
    token_limit_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    """Name of the output-token cap in requests: OpenAI's o-series and newer models accept only
    ``max_completion_tokens``; most other OpenAI-compatible servers know ``max_tokens``."""
    request_timeout_s: float = 20.0
    """Timeout of one HTTP request to the model (never more than what is left of the turn's deadline)."""
    turn_deadline_s: float = 45.0
    """Wall-clock budget for all model calls of one turn; past it the offline engine answers."""
    max_retries: int = 3
    """Retries of one call after a transient failure (429, 5xx, timeout, connection error, an unreadable answer);
    the SDK's own retries are off. Every retry also draws on ``turn_max_requests``."""
    turn_max_requests: int = Field(default=3, ge=0)
    """Most requests one turn sends to the model, whatever fails: first tries, retries and re-asks of every call
    of the turn (analysis, reply, handoff summary) draw on it. Then the offline engine answers."""
    retry_after_cap_s: float = 10.0
    """Longest ``Retry-After`` honoured; a server asking for more gets this."""
    retry_backoff_base_s: float = 0.5
    """Exponential backoff between retries: a random wait up to ``base × 2^attempt`` (full jitter)..."""
    retry_backoff_max_s: float = 8.0
    """...and never more than this."""
    breaker_failures: int = 5
    """Consecutive failed model requests (any kind of failure, retries included) that open the circuit breaker
    (the model is then skipped)."""
    breaker_reset_s: float = 30.0
    """How long an open circuit skips the model before one probe call may close it again."""
    prompt_token_budget: int = 2500
    """Most prompt tokens one request may carry; older messages fold into the running summary."""
    summary_token_budget: int = 200
    """Most tokens of the running summary of older turns kept in the conversation's state."""
    reply_max_tokens: int = 350
    """Most completion tokens a streamed reply may use."""
    model_summary_min_user_messages: int = 3
    """Ask the model for a handoff summary only from this many customer messages; shorter conversations get
    the offline (extractive) summary, which is already complete."""
    stream_include_usage: bool = True
    """Ask for token usage at the end of a stream (``stream_options``); turn off for servers that reject it
    (tokens are then counted locally)."""
    company_name: str = "our company"
    """Name the assistant uses for the business in model prompts."""
    price_per_1k_prompt_usd: float = 0.00015
    """Price of 1,000 prompt tokens, for the cost recorded per turn and per conversation."""
    price_per_1k_completion_usd: float = 0.0006
    """Price of 1,000 completion tokens."""
    offline_confidence_skip: float = 0.8
    """Skip the model's analysis when the offline intent confidence is at least this."""
    analysis_trust: Literal["arbitrate", "override"] = "arbitrate"
    """How far the model's analysis may move the offline reading. ``arbitrate``: its intent must be one of the
    offline classifier's candidates (label, runner-up, out of scope) and a sentiment on the other side of the
    offline one (negative against calm or positive, or the reverse) is outvoted, so a small local model refines
    and never overturns. ``override``: any intent label, and its sentiment always merges (a strong hosted model)."""

    # --- HTTP service (tactful serve) ---
    api_keys: dict[str, list[SecretStr]] = Field(default_factory=dict)
    """API keys by tenant, e.g. ``TACTFUL_API_KEYS='{"acme": ["key-1", "key-2"]}'``. With no keys at all (here or
    in ``api_keys_file``) the service runs single-tenant as ``tenant`` and listens on 127.0.0.1 only."""
    api_keys_file: Path | None = None
    """YAML or JSON file mapping tenant → list of API keys; merged with ``api_keys``. Checked at start-up."""
    max_body_bytes: int = Field(default=65_536, ge=1024)
    """Largest request body the service reads; larger bodies get 413."""
    max_message_chars: int = Field(default=4_000, ge=1)
    """Longest user (or human agent) message text; longer texts get 413 naming the field."""
    rate_limit_per_minute: float = Field(default=600.0, ge=0.0)
    """Requests per minute allowed per API key, across all workers (the buckets live in the shared database, or
    in Redis with ``redis_url``); 0 turns the limit off. Over it: 429."""
    rate_limit_burst: int = Field(default=60, ge=1)
    """Requests a key may send at once before the per-minute rate applies."""
    redis_url: str | None = Field(default=None, pattern=r"^rediss?://")
    """Redis for the rate limit's buckets (``redis://host:6379/0``); default: the service's database."""
    ops_require_key: bool | None = None
    """``/metrics`` answers only with an API key (any tenant's), and ``/readyz`` leaves out the tenant count without
    one (a keyless probe still works). Default: on when API keys are configured. ``/healthz`` never needs a key."""
    turn_lock_timeout_s: float = Field(default=30.0, gt=0.0)
    """How long a message waits for an earlier turn of the same conversation to finish before 409."""
    mask_emails: bool = False
    """Also mask e-mail addresses in stored transcripts, handoff packets, logs and webhooks."""
    mask_phones: bool = False
    """Also mask phone numbers in stored transcripts, handoff packets, logs and webhooks."""
    mask_phone_regions: Annotated[list[str], AfterValidator(_phone_regions)] = Field(
        default_factory=lambda: ["US", "GB"]
    )
    """With ``mask_phones``: the regions (ISO 3166 codes, e.g. ``'["DE", "FR"]'``) whose *national* phone formats
    are recognised, like ``(020) 7946 0958``; numbers in international format (``+33 1 23 45 67 89``) always are."""
    held_events_max_age_h: float = Field(default=72.0, gt=0.0)
    """Events for a person with no conversation yet are kept this long for their first message, then dropped."""
    opentelemetry: bool = False
    """FastAPI's native OpenTelemetry (traces, metrics, logs through the global providers). Off by default: the
    service exports Prometheus metrics at ``/metrics``, and the checks cost every request some CPU."""
    webhook_url: str | None = None
    """Where every handoff packet is POSTed (signed with ``webhook_secret``); unset means no webhook."""
    webhook_secret: SecretStr | None = None
    """Key of the webhook signatures (Standard Webhooks ``webhook-signature``; also the older
    ``X-Tactful-Signature``): a ``whsec_<base64>`` secret, or any text (its UTF-8 bytes)."""
    webhook_timeout_s: float = Field(default=5.0, gt=0.0)
    """Timeout of one webhook delivery attempt."""
    webhook_max_attempts: int = Field(default=6, ge=1)
    """Delivery attempts per webhook (exponential backoff between them), in the background."""
    webhook_backoff_max_s: float = Field(default=60.0, gt=0.0)
    """Longest wait between two webhook delivery attempts."""
    webhook_sweep_s: float = Field(default=30.0, gt=0.0)
    """How often a worker looks for handoff webhooks a dead worker left undelivered, and sends them again."""
    database_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """PostgreSQL schema for every table (created if missing); default: the server's search path."""
    db_pool_min_size: int = Field(default=1, ge=0)
    """Connections the PostgreSQL pool keeps open."""
    db_pool_max_size: int = Field(default=20, ge=1)
    """Most connections of each PostgreSQL pool (queries; turn locks)."""
    db_pool_max_idle_s: float = Field(default=300.0, gt=0.0)
    """Idle pooled connections older than this are closed (and re-opened on demand)."""
    db_keepalive_idle_s: int = Field(default=30, ge=1)
    """TCP keepalive idle time for PostgreSQL connections, so a connection idle during a long model call is
    kept alive through NAT/proxies, and a dead one is noticed."""
    db_check_after_idle_s: float = Field(default=2.0, ge=0.0)
    """A pooled PostgreSQL connection idle at least this long is checked (one round trip) when taken from the
    pool, so one dropped while idle is replaced instead of failing a turn; 0 checks every checkout."""
    console_poll_interval_s: float = Field(default=0.5, gt=0.0, le=30.0)
    """How often the agent console's live feed (``/console/api/stream``) looks for new or changed handoffs in
    the database; an open console shows a new handoff within about this long (any worker, any process)."""
    console_keepalive_s: float = Field(default=15.0, gt=0.0)
    """Seconds between keep-alive comments on the console's live feed, so proxies keep the stream open."""


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment and ``.env`` (``overrides`` win); :class:`~tactful.errors.ConfigError`
    in one line naming the variable and what it accepts for an unknown ``TACTFUL_*`` variable or a bad value."""
    from tactful.settings_check import checked_settings

    return checked_settings(Settings, overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


if __name__ == "__main__":
    from tactful.settings_check import main

    raise SystemExit(main(Settings))
