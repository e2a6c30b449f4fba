#!/usr/bin/env bash
# The whole test suite (after scripts/setup.sh): lint, then pytest. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export RASA_TELEMETRY_ENABLED=false

# System tools some tests use; installed when we may (root, apt), reported when we may not.
need_pkgs=()
command -v docker-compose >/dev/null 2>&1 || need_pkgs+=(docker-compose)
# The console's browser tests: Debian's Chromium, and a CJK font so screenshots show Chinese.
command -v chromium >/dev/null 2>&1 || [ -n "${HOTLINE_CHROMIUM:-}" ] || need_pkgs+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need_pkgs+=(fonts-wqy-zenhei)
# HAProxy: the load balancer of `hotline run --replicas` (tests/test_replicas.py).
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need_pkgs+=(haproxy)
# PostgreSQL's server binaries: database tests also run on a throw-away cluster (tests/pg_helpers.py).
if [ -z "${HOTLINE_PG_BIN:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    && ! command -v initdb >/dev/null 2>&1; then
  # Debian 12's version; elsewhere the distribution's default one.
  if apt-cache policy postgresql-15 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    need_pkgs+=(postgresql-15)
  else
    need_pkgs+=(postgresql)
  fi
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[test] installing ${need_pkgs[*]} (apt) …"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}") >/tmp/hotline-apt.log 2>&1 \
      || echo "[test] apt could not install ${need_pkgs[*]}: see /tmp/hotline-apt.log"
  else
    echo "[test] not installed: ${need_pkgs[*]} (install them as root for the full suite)"
  fi
fi

echo "[test] ruff …"
.venv/bin/ruff check .
echo "[test] pytest …"
set +e
.venv/bin/python -m pytest -p no:cacheprovider "$@"
code=$?
set -e
if [ $code -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit $code
