#!/usr/bin/env bash
# Enforces docs/architecture.md's arrows: a leaf package may import, of this
# module, only its own subtree and the pure problem table; node/* stage
# packages only node/config, node/exchange, problem and the pure
# cluster/ring (node/limit also the limiter it adapts); nothing but node itself (and cmd, bench) imports node.
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
check "problem/..." "problem"
for leaf in cluster limiter demo; do
  [ -d "$leaf" ] && check "$leaf/..." "$leaf"
done
for leaf in cache edge; do
  [ -d "$leaf" ] && check "$leaf/..." "$leaf" "problem"
done
[ -d cluster/ring ] && check "cluster/ring/..." "cluster/ring"
check "node/config/..." "node/config"
check "node/exchange/..." "node/exchange" "problem"
for stage in node/*/; do
  s=${stage%/}
  case "$s" in node/config|node/exchange|node/nodetest) continue;; esac
  extra=""
  # node/limit adapts the limiter leaf to the pipeline: the one stage that imports a leaf.
  [ "$s" = node/limit ] && extra=limiter
  check "$s/..." "$s" "node/config" "node/exchange" "problem" "cluster/ring" $extra
done
if [ $fail = 0 ]; then echo "deps-check: ok"; fi
exit $fail
