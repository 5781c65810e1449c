#!/usr/bin/env bash
# Create benchmarks/.venv-peers: chronolog (editable, from this repo) plus the
# peer job queues pinned in requirements.txt. Re-installs when either changes.
# Usage: benchmarks/peers/setup.sh   then
#        benchmarks/.venv-peers/bin/python benchmarks/jobs_peers.py --jobs 5000
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/benchmarks/.venv-peers"
# oban (the Python package) requires Python >= 3.12, so the peers' venv does
# too; chronolog runs in the same interpreter so the comparison stays fair.
py="${PYTHON:-}"
if [ -z "$py" ]; then
  pyenv_root="$(pyenv root 2>/dev/null || true)"
  for candidate in python3.12 python3.13 python3 \
      ${pyenv_root:+"$pyenv_root"/versions/3.12*/bin/python3.12} \
      ${pyenv_root:+"$pyenv_root"/versions/3.13*/bin/python3.13}; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      py="$candidate"; break
    fi
  done
fi
[ -n "$py" ] || { echo "needs Python >= 3.12 (oban requires it); set PYTHON=" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
fi
stamp="$venv/.peers-installed"
want="$(cat "$root/pyproject.toml" "$here/requirements.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -e "$root" -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi
"$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null |
  grep -iE '^(chronolog|procrastinate|pgqueuer|huey|oban|sqlalchemy|psycopg|asyncpg) '
