#!/usr/bin/env bash
# The project's test command: lint, type-check, then the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
mypy
python3 -m pytest -q "$@"
