#!/bin/sh
# The container's command: refuse malformed settings in one line and make the data folder
# (python -m sr_core.settings, which exits 2 with the reason), then become the app so it
# receives the container's signals directly. PYTHON names the interpreter (default: python on
# PATH), e.g. a virtual environment's that is not on PATH.
set -eu
cd "$(dirname "$0")/.."
"${PYTHON:-python}" -m sr_core.settings
exec "${PYTHON:-python}" app.py
