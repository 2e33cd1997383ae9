#!/usr/bin/env bash
# The layout's rules (README, "How it is built"), checked by make lint:
#   - what ships never links what helps: no dev/ package in a Lambda or transferctl;
#   - internal/ holds only what ships: every internal package is linked by one;
#   - no non-test Go file under internal/ is over 400 lines.
set -euo pipefail
cd "$(dirname "$0")/.."
module=$(go list -m)
shipped=$(go list -deps ./functions/... ./cmd/transferctl | grep "^$module/" || true)
fail=0
if grep -q "^$module/dev/" <<<"$shipped"; then
  echo "layout: shipped code links dev/:"; grep "^$module/dev/" <<<"$shipped"; fail=1
fi
for pkg in $(go list ./internal/...); do
  if ! grep -qx "$pkg" <<<"$shipped"; then
    echo "layout: $pkg is under internal/ but no Lambda or transferctl links it: move it to dev/"; fail=1
  fi
done
while read -r lines file; do
  if [ "$file" != total ] && [ "$lines" -gt 400 ]; then
    echo "layout: $file has $lines lines (over 400): split it by job"; fail=1
  fi
done < <(find internal -name '*.go' ! -name '*_test.go' -print0 | xargs -0 wc -l)
exit $fail
