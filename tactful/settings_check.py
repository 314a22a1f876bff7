"""Start-up checks for :class:`tactful.settings.Settings`, and its generated reference (``docs/settings.md``).

* An unknown ``TACTFUL_*`` variable (in the environment or ``.env``) is an error naming it — a typo would
  otherwise silently leave a default in force. ``TACTFUL_TEST_*`` belongs to the test suite and is ignored.
* A bad value is one line: the variable, the value (never a secret's) and what the setting accepts.

``python -m tactful.settings --write`` regenerates the reference; ``--check`` exits 1 when it is stale.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import enum
import inspect
import os
import re
import sys
import textwrap
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from dotenv import dotenv_values
from pydantic import AliasChoices, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsError

from tactful.errors import ConfigError
from tactful.resources import package_path

S = TypeVar("S", bound=BaseSettings)
PREFIX = "TACTFUL_"
TEST_PREFIX = "TACTFUL_TEST_"
REFERENCE = Path("docs") / "settings.md"


def env_names(name: str, field: FieldInfo) -> list[str]:
    """The variables that set field ``name``, in order of precedence."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(c) for c in alias.choices if isinstance(c, str) and c != name]
    if isinstance(alias, str):
        return [alias]
    return [f"{PREFIX}{name.upper()}"]


def _nested(field: FieldInfo) -> bool:
    return get_origin(field.annotation) is dict


def unknown_variables(cls: type[BaseSettings], variables: Mapping[str, str | None]) -> list[str]:
    """The ``TACTFUL_*`` names in ``variables`` that no setting reads."""
    known: set[str] = set()
    nested: list[str] = []
    for name, field in cls.model_fields.items():
        for var in env_names(name, field):
            known.add(var.upper())
            if _nested(field):
                nested.append(f"{var.upper()}__")
    return sorted(
        var
        for var in variables
        if var.upper().startswith(PREFIX)
        and not var.upper().startswith(TEST_PREFIX)
        and var.upper() not in known
        and not any(var.upper().startswith(n) for n in nested)
    )


def _bound(field: FieldInfo) -> str:
    words = []
    for m in field.metadata:
        if isinstance(m, Ge):
            words.append(f"≥ {m.ge}")
        elif isinstance(m, Gt):
            words.append(f"> {m.gt}")
        elif isinstance(m, Le):
            words.append(f"≤ {m.le}")
        elif isinstance(m, Lt):
            words.append(f"< {m.lt}")
        elif getattr(m, "pattern", None):
            words.append(f"matching `{m.pattern}`")
    return f" {', '.join(words)}" if words else ""


def _kind(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(tp))
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return " or ".join(_kind(a) for a in inner)
    if origin is dict:
        return 'a JSON object, e.g. `{"acme": ["key-1"]}`'
    if origin is list:
        return "a JSON list"
    if tp is bool:
        return "`true` or `false`"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is SecretStr:
        return "a secret (text)"
    if isinstance(tp, type) and issubclass(tp, Path):
        return "a path"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in tp)
    if tp is dt.datetime:
        return "an ISO-8601 time"
    return "text"


def accepts(field: FieldInfo) -> str:
    """What a setting accepts, in words (for errors and the reference)."""
    text = _kind(field.annotation) + _bound(field)
    if type(None) in get_args(field.annotation):
        text += "; unset by default" if field.default is None else ""
    return text


def _source_of(names: list[str], environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> str:
    for var in names:
        if var in environ or var.upper() in environ:
            return var
    for var in names:
        if var in dotenv or var.upper() in dotenv:
            return f"{var} (in .env)"
    return names[0]


def _one_line(
    cls: type[BaseSettings], exc: ValidationError, environ: Mapping[str, str], dotenv: Mapping[str, str | None]
) -> str:
    errors = exc.errors()
    err = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    loc = [str(p) for p in err["loc"]]
    name = loc[0] if loc else ""
    field = cls.model_fields.get(name)
    if field is None:
        return f"unknown setting {name!r}{more}"
    var = _source_of(env_names(name, field), environ, dotenv)
    secret = "SecretStr" in str(field.annotation)
    shown = "" if secret or "input" not in err else f"={str(err['input'])[:60]!r}"
    where = f"[{'.'.join(loc[1:])}]" if len(loc) > 1 else ""
    what = accepts(field).replace("`", "")
    if err["type"] in _SAYS_NOTHING_MORE:
        return f"{var}{where}{shown}: not accepted; accepts {what}{more}"
    return f"{var}{where}{shown}: {err['msg'].lower()}; accepts {what}{more}"


_SAYS_NOTHING_MORE = {"literal_error", "bool_parsing", "int_parsing", "float_parsing", "enum"}


_FIELD_IN_ERROR = re.compile(r'field "([a-z_0-9]+)"')


def checked_settings(cls: type[S], overrides: Mapping[str, Any], *, env_file: str | None = None) -> S:
    """``cls(**overrides)`` after the unknown-variable check; every failure as a one-line ConfigError."""
    environ = dict(os.environ)
    path = Path(env_file or str(cls.model_config.get("env_file") or ".env"))
    dotenv = dotenv_values(path) if path.is_file() else {}
    unknown = unknown_variables(cls, {**dotenv, **environ})
    if unknown:
        listed = ", ".join(unknown)
        raise ConfigError(f"unknown setting {listed}: no such TACTFUL_* variable (see docs/settings.md)")
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(cls, exc, environ, dotenv)) from None
    except SettingsError as exc:
        m = _FIELD_IN_ERROR.search(str(exc))
        name = m.group(1) if m else ""
        field = cls.model_fields.get(name)
        if field is None:
            raise ConfigError(f"invalid settings: {exc}") from None
        var = _source_of(env_names(name, field), environ, dotenv)
        raise ConfigError(f"{var}: not valid JSON; accepts {accepts(field).replace('`', '')}") from None


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, Path) and value.is_absolute():
        try:
            return f"`<package>/{value.relative_to(package_path())}`"
        except ValueError:
            return f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict | list) and not value:
        return "`{}`" if isinstance(value, dict) else "`[]`"
    return f"`{value}`"


def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring (the string right after its annotated assignment in the class body, a subclass's
    over its bases'), cleaned as pydantic's ``use_attribute_docstrings`` cleans it — read here, when the
    reference is written, rather than by pydantic at import (its frame walk costs start-up ~90 ms)."""
    docs: dict[str, str] = {}
    for klass in reversed([c for c in cls.__mro__ if issubclass(c, BaseSettings) and c is not BaseSettings]):
        (node,) = ast.parse(textwrap.dedent(inspect.getsource(klass))).body
        assert isinstance(node, ast.ClassDef)
        for prev, stmt in zip(node.body, node.body[1:], strict=False):
            if (
                isinstance(prev, ast.AnnAssign)
                and isinstance(prev.target, ast.Name)
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                docs[prev.target.id] = inspect.cleandoc(stmt.value.value)
    return docs


def reference(cls: type[BaseSettings]) -> str:
    """The settings reference as Markdown, one row per setting, in the class's order."""
    lines = [
        "# Settings reference",
        "",
        "<!-- generated by `python -m tactful.settings --write` from tactful/settings.py; "
        "a test keeps it current -->",
        "",
        "Every setting is an environment variable, also read from a `.env` file in the working directory (the",
        "environment wins). An unknown `TACTFUL_*` variable or a bad value stops start-up with one line naming the",
        "variable and what it accepts. Where two names are given, the first one set wins (`OPENAI_API_KEY`,",
        "`OPENAI_BASE_URL` and `DATABASE_URL` are the conventional fallbacks).",
        "",
        "| Variable | Accepts | Default | What it does |",
        "| --- | --- | --- | --- |",
    ]
    docs = field_docs(cls)
    for name, field in cls.model_fields.items():
        names = " / ".join(f"`{v}`" for v in env_names(name, field))
        about = " ".join((field.description or docs.get(name, "")).split()).replace("|", "\\|")
        what = accepts(field).replace("|", "\\|")
        lines.append(f"| {names} | {what} | {_default(field)} | {about} |")
    return "\n".join(lines) + "\n"


def main(cls: type[BaseSettings], argv: list[str] | None = None) -> int:
    """``python -m tactful.settings [--write | --check]``: the reference for ``cls``."""
    parser = argparse.ArgumentParser(prog="python -m tactful.settings", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {REFERENCE}")
    parser.add_argument("--check", action="store_true", help=f"exit 1 when {REFERENCE} is stale")
    args = parser.parse_args(argv)
    text = reference(cls)
    if args.write:
        REFERENCE.write_text(text, encoding="utf-8")
        return 0
    if args.check:
        current = REFERENCE.read_text(encoding="utf-8") if REFERENCE.is_file() else ""
        return 0 if current == text else 1
    sys.stdout.write(text)
    return 0

