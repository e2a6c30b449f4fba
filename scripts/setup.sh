#!/usr/bin/env bash
# Idempotent set-up from nothing: two virtual environments built from lock files and a trained
# Rasa model. Everything heavy is cached outside the repo, keyed by what it was built from:
#   $HOTLINE_CACHE/venv-rasa-<hash of rasa.lock>   (Python 3.10: Rasa 3.6.21, jieba, opencc)
#   $HOTLINE_CACHE/venv-app-<hash of app.lock>     (Python 3.11: everything else)
#   $HOTLINE_CACHE/models/<hash of training data + config>.tar.gz
# A second run with nothing changed installs and trains nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HOTLINE_CACHE:-$HOME/.cache/hotline}"
export RASA_TELEMETRY_ENABLED=false PIP_DISABLE_PIP_VERSION_CHECK=1
mkdir -p "$CACHE"

say() { printf '[setup] %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

find_python() {  # $1 = minor version, e.g. 3.10; $2 = override variable's value
  local want="$1" override="$2" candidate
  for candidate in "$override" "python$want" \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/python \
      /usr/bin/python"$want" /usr/local/bin/python"$want"; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && \
       [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ]; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

PY310="$(find_python 3.10 "${HOTLINE_PYTHON310:-}")" || die "Python 3.10 not found (Rasa 3.6 needs it): install it with 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv', or set HOTLINE_PYTHON310=/path/to/python3.10"
PY311="$(find_python 3.11 "${HOTLINE_PYTHON311:-}")" || die "Python 3.11 not found: install it with 'pyenv install 3.11' or 'apt-get install python3.11 python3.11-venv', or set HOTLINE_PYTHON311=/path/to/python3.11"

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

make_venv() {  # name python lockfile
  local name="$1" python="$2" lock="$3" dir
  dir="$CACHE/venv-$name-$(hash_of "$lock" <(echo "$python"; "$python" -V))"
  if [ ! -f "$dir/.complete" ]; then
    say "creating the $name environment in $dir (a few minutes, once) …"
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --upgrade pip > "$dir.log" 2>&1 \
      && "$dir/bin/python" -m pip install -r "$lock" >> "$dir.log" 2>&1 \
      || { grep -v "^WARNING: Location" "$dir.log" | tail -n 20 >&2; die "installing $lock failed (network to the package index?): see $dir.log"; }
    "$dir/bin/python" - "$lock" <<'PY' || die "the $name environment does not match $lock"
import sys
from importlib.metadata import PackageNotFoundError, version
missing = []
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if "==" not in line:
        continue
    name, want = line.split("==", 1)
    try:
        if version(name) != want:
            missing.append(f"{name} {version(name)} != {want}")
    except PackageNotFoundError:
        missing.append(f"{name} missing")
if missing:
    print("; ".join(missing), file=sys.stderr)
    sys.exit(1)
PY
    touch "$dir/.complete"
  fi
  ln -sfn "$dir" "$ROOT/.venv-$name"
}

make_venv rasa "$PY310" "$ROOT/requirements/rasa.lock"
make_venv app "$PY311" "$ROOT/requirements/app.lock"
ln -sfn "$ROOT/.venv-app" "$ROOT/.venv"

# Train the model only when its inputs changed.
cd "$ROOT"
# The pure modules the pipeline imports (text, letters, shapes, company names) are inputs too.
inputs=$(find config.yml domain nlu hotline/textnorm.py hotline/letters.py hotline/message_shape.py \
         hotline/company_names.py requirements/rasa.lock -type f \
         \( -name '*.yml' -o -name '*.txt' -o -name '*.py' -o -name '*.lock' \) \
         -not -path '*/__pycache__/*' | LC_ALL=C sort)
model_hash=$(for f in $inputs; do echo "$f"; cat "$f"; done | sha256sum | cut -c1-16)
model="$CACHE/models/$model_hash.tar.gz"
if [ ! -f "$model" ]; then
  say "training the Rasa model ($model_hash) …"
  mkdir -p "$CACHE/models"
  start=$(date +%s)
  PYTHONPATH="$ROOT" "$ROOT/.venv-rasa/bin/rasa" train --config config.yml --domain domain \
    --data nlu --out "$CACHE/models" --fixed-model-name "partial-$model_hash" \
    > "$CACHE/models/train-$model_hash.log" 2>&1 \
    || { tail -n 30 "$CACHE/models/train-$model_hash.log" >&2; die "model training failed: see $CACHE/models/train-$model_hash.log"; }
  mv "$CACHE/models/partial-$model_hash.tar.gz" "$model"
  say "model trained in $(( $(date +%s) - start )) s"
fi
mkdir -p "$ROOT/models"
# A copy, not a link: `docker build` (deploy/rasa.Dockerfile) cannot follow a link out of the repo.
if [ -L "$ROOT/models/current.tar.gz" ] || ! cmp -s "$model" "$ROOT/models/current.tar.gz"; then
  cp --remove-destination "$model" "$ROOT/models/current.tar.gz"
fi
say "ready: environments .venv-rasa and .venv, model models/current.tar.gz ($model_hash)"
