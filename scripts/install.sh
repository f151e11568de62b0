#!/usr/bin/env bash
# Create (or reuse) the virtual environment .venv and install prefchat with pinned packages.
#   scripts/install.sh          the app, and its default pack (`prefchat pack default`, about a minute)
#   scripts/install.sh test     the app plus the test tools and Debian's chromium
# torch is pinned to 2.13.0 in the same pip command as sentence-transformers: on a CPU machine
# that takes the CPU wheel; an unpinned torch would pull a multi-GB CUDA build. GPU users:
# install your own torch first and drop the torch line from requirements.lock.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${PREFCHAT_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
stamp="$VENV/.installed-$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)-${1:-app}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -e "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    extras=""
    [ "${1:-app}" = test ] && extras="[test]"
    # setuptools explains what an editable install is on every install, in 10 lines ("Editable
    # installation ... be careful with folders ... same name"): information, not a problem, so not shown.
    "$VENV/bin/python" -m pip install --quiet torch==2.13.0 -r requirements.lock -e ".$extras" 2>&1 \
        | grep -v "^WARNING: Location" \
        | awk '/BuildBackendWarning: Editable installation/ {skip = 10; next} skip > 0 {skip--; next} {print}' || true
    "$VENV/bin/python" -c "import prefchat, torch, sentence_transformers" # fail loudly if the install did not take
    [ "${1:-app}" = app ] && HF_HUB_OFFLINE=1 "$VENV/bin/prefchat" pack default # the demo's pack: a server never trains
    touch "$stamp"
fi
if [ "${1:-app}" = test ] && ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
fi
