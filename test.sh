#!/usr/bin/env bash
# The README's test command: set-up, then every test tier (unit, integration, system,
# browser, notebooks). The system tier, the browser tier and the notebooks run on a lab of
# their own (kfst on 192.168.57.0/24), so an attendee's lab `kfs` is left alone; it is
# removed at the end.
#   ./test.sh                 all tiers
#   ./test.sh tests/unit      one tier (any pytest arguments)
set -euo pipefail
cd "$(dirname "$0")"
python3 -m kfs.bootstrap
export KFS_SOLUTIONS=1  # the notebooks' exercises run their reference answers (README)
export KFS_LAB=${KFS_LAB:-kfst} KFS_LAB_SUBNET=${KFS_LAB_SUBNET:-192.168.57.0/24}
trap '.venv/bin/kfs lab down >/dev/null 2>&1 || true' EXIT
if [ $# -eq 0 ]; then
  for tier in tests/unit tests/integration tests/system tests/browser; do
    [ -d "$tier" ] && set -- "$@" "$tier"
  done
  compgen -G "notebooks/*.ipynb" >/dev/null && set -- "$@" --nbval-lax notebooks
fi
.venv/bin/python -m pytest -p no:cacheprovider -ra "$@"
