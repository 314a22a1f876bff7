"""Labelled intent data from a file, for fitting and scoring the classifier.

Read by extension: ``.csv``/``.tsv`` (header row), ``.jsonl``/``.ndjson`` (one object per line), or ``.json``: a
list of objects or ``[text, label]`` pairs, or an object of such lists (CLINC150's layout) from which ``split``
picks one or more keys (``train,oos_train``). Every problem with the input is an :class:`InputError` naming the
file and line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tactful.errors import InputError

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}


# ----------------------------------------------------------------------------------------------- reading data


def load_labelled(
    path: Path, text_col: str = "text", label_col: str = "label", split: str | None = None
) -> tuple[list[str], list[str]]:
    """Texts and labels from a data file; :class:`InputError` naming the file (and line) on any problem."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if split is not None and suffix != ".json":
        raise InputError(f"{path}: --split only applies to .json files")
    try:
        if suffix in CSV_SUFFIXES:
            rows = list(_read_csv(path, text_col, label_col, CSV_SUFFIXES[suffix]))
        elif suffix in JSONL_SUFFIXES:
            rows = list(_read_jsonl(path, text_col, label_col))
        elif suffix == ".json":
            rows = list(_read_json(path, text_col, label_col, split))
        else:
            raise InputError(
                f"{path}: unsupported file type {suffix or '(none)'}; use .csv, .tsv, .jsonl or .json"
            )
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not rows:
        raise InputError(f"{path}: no data rows")
    return [text for text, _ in rows], [label for _, label in rows]


def _row(where: str, text: object, label: object) -> tuple[str, str]:
    if not isinstance(text, str):
        raise InputError(f"{where}: text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(f"{where}: empty text")
    if isinstance(label, bool) or not isinstance(label, str | int):
        raise InputError(f"{where}: label must be a string, got {type(label).__name__}")
    label = str(label).strip()
    if not label:
        raise InputError(f"{where}: empty label")
    return text, label


def _read_csv(path: Path, text_col: str, label_col: str, delimiter: str) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            header = reader.fieldnames
            if not header:
                raise InputError(f"{path}: empty file (no header row)")
            missing = [c for c in (text_col, label_col) if c not in header]
            if missing:
                raise InputError(
                    f"{path}: no column {missing[0]!r} (columns: {', '.join(str(h) for h in header)})"
                )
            for record in reader:
                where = f"{path}:{reader.line_num}"
                text, label = record.get(text_col), record.get(label_col)
                if text is None or label is None:
                    raise InputError(f"{where}: row has fewer fields than the header")
                yield _row(where, text, label)
        except csv.Error as exc:
            raise InputError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None


def _read_jsonl(path: Path, text_col: str, label_col: str) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: invalid JSON: {exc.msg}") from None
            yield _record(where, record, text_col, label_col)


def _record(where: str, record: Any, text_col: str, label_col: str) -> tuple[str, str]:
    if isinstance(record, list | tuple) and len(record) >= 2:
        return _row(where, record[0], record[1])
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected an object with {text_col!r} and {label_col!r}")
    for col in (text_col, label_col):
        if col not in record:
            keys = ", ".join(map(str, record)) or "none"
            raise InputError(f"{where}: no key {col!r} (keys: {keys})")
    return _row(where, record[text_col], record[label_col])


def _read_json(path: Path, text_col: str, label_col: str, split: str | None) -> Iterator[tuple[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    groups: list[tuple[str, Any]]
    if isinstance(data, dict):
        keys = ", ".join(map(str, data)) or "none"
        if split is None:
            raise InputError(f"{path}: an object of splits; pick some with --split (keys: {keys})")
        groups = []
        for name in (s.strip() for s in split.split(",")):
            if name not in data:
                raise InputError(f"{path}: no split {name!r} (keys: {keys})")
            groups.append((name, data[name]))
    elif isinstance(data, list):
        if split is not None:
            raise InputError(f"{path}: --split needs an object of splits, the file holds a list")
        groups = [("", data)]
    else:
        raise InputError(f"{path}: expected a list of rows or an object of splits")
    for name, rows in groups:
        if not isinstance(rows, list):
            raise InputError(f"{path}: split {name!r} is not a list of rows")
        for i, record in enumerate(rows):
            where = f"{path}:{name}[{i}]" if name else f"{path}:[{i}]"
            yield _record(where, record, text_col, label_col)
