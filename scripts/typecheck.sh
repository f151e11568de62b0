#!/usr/bin/env bash
# mypy over the package prefchat, then over tests/ and bench/, from the repository root.
# The checkout's prefchat/ links the design card's folders (prefchat/ui -> ../ui, ...), so
# prefchat.* resolves here as pyproject.toml's package-dir mapping installs it: for mypy, pyright
# and an IDE alike, with no tree to build.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/mypy --cache-dir build/mypy-cache "$@" -p prefchat
exec .venv/bin/mypy --cache-dir build/mypy-cache --explicit-package-bases "$@" tests bench
