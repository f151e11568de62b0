#!/usr/bin/env bash
# mypy over prefchat as it is installed: the root folders (ui, assistant, ...) are linked under
# build/typecheck/prefchat/, where their relative imports (from ..assistant import ...) resolve as
# they do in prefchat.ui, prefchat.assistant, ... (pyproject.toml's package-dir mapping).
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck/prefchat
rm -rf "$tree"
mkdir -p "$tree"
for entry in prefchat/*; do
    ln -s "$PWD/$entry" "$tree/"
done
for package in ui assistant elicitation reward storage; do
    ln -s "$PWD/$package" "$tree/$package"
done
exec .venv/bin/mypy --cache-dir build/mypy-cache "$@" "$tree"
