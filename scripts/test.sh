#!/usr/bin/env bash
# The project's test command: lint, type-check, the import layers, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
mypy
lint-imports --no-cache
python3 -m pytest -q "$@"
