"""The config layer every data file uses: one strict base model, one regex-list type, and YAML loading that
reports a bad value with its file and line (:func:`line_of` / :func:`line_in` find the line of a key)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from tactful.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base of every model read from a data file: unknown keys are errors, loaded values are immutable."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


def check_patterns(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern, re.IGNORECASE)  # as its users compile it: they find it in re's cache
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return patterns


Regexes = Annotated[list[str], AfterValidator(check_patterns)]
"""A list of regular expressions (matched case-insensitively by their users), each compiled once at load."""


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Walk the composed YAML tree along a pydantic error location; return the deepest line found (1-based)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if key.value == part:
                    nxt = value
                    line = key.start_mark.line + 1
                    break
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def json_number(value: object) -> object:
    """Numbers as JSON types them: a string or a boolean is not a number (``2.0`` is the integer 2)."""
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number, not a string or a boolean")
    return value


JsonInt = Annotated[int, BeforeValidator(json_number)]
"""An integer as JSON Schema's ``integer`` means it: ``2`` or ``2.0``; never ``"2"`` or ``true``. (Bounds go
*before* ``BeforeValidator(json_number)`` in an ``Annotated``, or the JSON schema loses them.)"""


_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> tuple[str, Any]:
    """The text of ``path`` and its parsed data; :class:`ConfigError` with the file (and line) if it can't be."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    try:
        data = yaml.load(text, Loader=_LOADER)  # a safe loader: libyaml's when installed
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", path=path, line=line) from exc
    return text, data


def line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """The line (1-based) of the value at ``loc`` in YAML ``text``; composed only when an error needs it."""
    try:
        return _line_of(yaml.compose(text, Loader=_LOADER), loc)
    except yaml.YAMLError:
        return None


def line_in(path: Path, loc: Sequence[int | str]) -> int | None:
    """The line (1-based) of the value at ``loc`` in the YAML file ``path``; None if the file can't be read."""
    try:
        return line_of(path.read_text(encoding="utf-8"), tuple(loc))
    except OSError:
        return None


def validate_yaml(path: Path, text: str, data: Any, model: type[M]) -> M:
    """Validate parsed ``data`` as ``model``, raising :class:`ConfigError` naming the file and line."""
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{where}: {err['msg']}{more}", path=path, line=line_of(text, loc)) from exc


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Parse ``path`` and validate it as ``model``, raising :class:`ConfigError` naming the file and line."""
    text, data = read_yaml(path)
    return validate_yaml(path, text, data, model)
