#!/bin/sh
# The container's command: refuse malformed settings in one line and make the data folder
# (python -m sr_core.settings, which exits 2 with the reason), then become the app so it
# receives the container's signals directly.
set -eu
cd "$(dirname "$0")/.."
python -m sr_core.settings
exec python app.py
