#!/usr/bin/env bash
# The README's main command: set-up, then the lab up (stage cloud) and the whole talk.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m kfs.bootstrap
exec .venv/bin/kfs demo "$@"
