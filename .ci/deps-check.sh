#!/usr/bin/env bash
# Enforces docs/architecture.md's arrows: a leaf package may import, of this
# module, only its own subtree (and node/* stages only node/config).
set -euo pipefail
mod=$(go list -m)
fail=0
check() { # check PKG_PATTERN ALLOWED_PREFIX...
  local pat=$1; shift
  for pkg in $(go list "./$pat" 2>/dev/null); do
    for dep in $(go list -deps "$pkg" | grep "^$mod/" || true); do
      ok=0
      for allow in "$@"; do
        case "$dep" in "$mod/$allow"|"$mod/$allow"/*) ok=1;; esac
      done
      if [ $ok = 0 ]; then echo "deps-check: $pkg imports $dep (not allowed)"; fail=1; fi
    done
  done
}
for leaf in cluster cache limiter edge demo; do
  [ -d "$leaf" ] && check "$leaf/..." "$leaf"
done
[ -d cluster/ring ] && check "cluster/ring/..." "cluster/ring"
check "node/config/..." "node/config"
for stage in node/*/; do
  s=${stage%/}
  case "$s" in node/config|node/nodetest) continue;; esac
  check "$s/..." "$s" "node/config"
done
if [ $fail = 0 ]; then echo "deps-check: ok"; fi
exit $fail
