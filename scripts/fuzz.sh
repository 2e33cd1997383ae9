#!/usr/bin/env bash
# Runs every Go fuzz target (func Fuzz… in any package) for FUZZTIME each, one after
# the other: `go test -fuzz` takes one target of one package at a time. A crasher
# the fuzzer finds is written to that package's testdata/fuzz/<target>/, where
# plain `go test` replays it from then on: commit it with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
# Parsers of untrusted input ship, so their targets live under internal/.
fuzztime=${FUZZTIME:-1m}
go=${GO:-go}
failed=()
count=0
while read -r pkg target; do
  count=$((count + 1))
  echo "fuzz: $pkg $target for $fuzztime"
  if ! $go test -short -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"${TMPDIR:-/tmp}/fuzz-$target.log" 2>&1; then
    tail -n 30 "${TMPDIR:-/tmp}/fuzz-$target.log"
    failed+=("$pkg $target")
  fi
done < <($go test -short -list '^Fuzz' ./internal/... | awk '/^Fuzz/ {t[++n]=$1} /^ok/ {for (i=1;i<=n;i++) print $2, t[i]; n=0}')
if [ "$count" -eq 0 ]; then echo "fuzz: no targets found"; exit 1; fi
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failed[@]}"
  echo "fuzz: the failing inputs are under the packages' testdata/fuzz/; commit them with the fix"
  exit 1
fi
echo "fuzz: $count targets, $fuzztime each, no failure"
