"""API keys → tenants. Keys come from ``Settings.api_keys`` (env ``TACTFUL_API_KEYS``) and ``api_keys_file``;
only their SHA-256 digests are kept in memory. With no keys the service is single-tenant."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, RootModel

from tactful.config import load_yaml_model
from tactful.errors import ConfigError
from tactful.settings import Settings

TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MIN_KEY_LENGTH = 16

TenantName = Annotated[str, Field(pattern=TENANT_PATTERN)]
ApiKey = Annotated[str, Field(min_length=MIN_KEY_LENGTH, max_length=512, pattern=r"^[\x21-\x7e]+$")]


class KeysFile(RootModel[dict[TenantName, list[ApiKey]]]):
    """``tenant: [key, ...]`` — YAML or JSON."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


class KeyRing:
    """Looks up the tenant of a bearer key; ``single_tenant`` when no key is configured."""

    def __init__(self, tenants_by_digest: dict[str, str], *, default_tenant: str) -> None:
        self._by_digest = tenants_by_digest
        self.default_tenant = default_tenant

    @property
    def single_tenant(self) -> bool:
        return not self._by_digest

    @property
    def tenants(self) -> list[str]:
        return sorted(set(self._by_digest.values())) or [self.default_tenant]

    def tenant_for(self, key: str | None) -> str | None:
        """The key's tenant, or ``None`` for a missing or unknown key (the default when single-tenant)."""
        if self.single_tenant:
            return self.default_tenant
        if not key:
            return None
        return self._by_digest.get(digest(key))

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """Validate and merge the keys of the settings and the keys file (ConfigError names the source)."""
        by_digest: dict[str, str] = {}

        def add(tenant: str, key: str, source: str, path: Path | None = None) -> None:
            if not re.match(TENANT_PATTERN, tenant):
                raise ConfigError(f"{source}: tenant name {tenant!r} must match {TENANT_PATTERN}", path=path)
            if len(key) < MIN_KEY_LENGTH:
                raise ConfigError(
                    f"{source}: an API key of tenant {tenant!r} is shorter than {MIN_KEY_LENGTH} characters",
                    path=path,
                )
            d = digest(key)
            if by_digest.get(d, tenant) != tenant:
                raise ConfigError(
                    f"{source}: one API key is given to two tenants ({by_digest[d]!r}, {tenant!r})", path=path
                )
            by_digest[d] = tenant

        for tenant, keys in settings.api_keys.items():
            for secret in keys:
                add(tenant, secret.get_secret_value(), "TACTFUL_API_KEYS")
        if settings.api_keys_file is not None:
            loaded = load_yaml_model(Path(settings.api_keys_file), KeysFile)
            for tenant, file_keys in loaded.root.items():
                for key in file_keys:
                    add(tenant, key, "api keys file", Path(settings.api_keys_file))
        if not re.match(TENANT_PATTERN, settings.tenant):
            raise ConfigError(f"TACTFUL_TENANT {settings.tenant!r} must match {TENANT_PATTERN}")
        return cls(by_digest, default_tenant=settings.tenant)
