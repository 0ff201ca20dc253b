#!/usr/bin/env bash
# Set up a virtual environment and run the main job (the README's first command): the studio
# when a display is present, otherwise a demo encode/decode of the built-in source.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = Darwin ]; then
  exec .venv/bin/zvc69-studio "$@"
fi
echo "No display found: running the command-line demo instead of the studio."
exec .venv/bin/zvc69 demo "$@"
