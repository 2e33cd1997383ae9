#!/usr/bin/env bash
# Runs every Go fuzz target (func Fuzz… in any package) for FUZZTIME each, one after
# the other: `go test -fuzz` takes one target of one package at a time. A crasher
# the fuzzer finds is written to that package's testdata/fuzz/<target>/, where
# plain `go test` replays it from then on: commit it with the fix.
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" as a duration -fuzztime ends on a loaded machine, with no input at
# fault (golang/go#75804, fixed in Go 1.27). A real failure always writes its
# input under testdata/fuzz/, so a run that failed that way and wrote none is
# reported as that race and not counted as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# Parsers of untrusted input ship, so their targets live under internal/.
fuzztime=${FUZZTIME:-1m}
go=${GO:-go}
failed=()
raced=0
count=0
inputs() { if [ -d "$1" ]; then find "$1" -type f | sort; fi; }
while read -r pkg target; do
  count=$((count + 1))
  echo "fuzz: $pkg $target for $fuzztime"
  corpus="$($go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$target"
  before=$(inputs "$corpus")
  log="${TMPDIR:-/tmp}/fuzz-$target.log"
  if ! $go test -short -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1; then
    if [ "$(inputs "$corpus")" = "$before" ] && grep -q '^    context deadline exceeded$' "$log"; then
      echo "fuzz: $target stopped with Go's fuzztime race (golang/go#75804), no failing input: not a failure"
      raced=$((raced + 1))
      continue
    fi
    tail -n 30 "$log"
    failed+=("$pkg $target")
  fi
done < <($go test -short -list '^Fuzz' ./internal/... | awk '/^Fuzz/ {t[++n]=$1} /^ok/ {for (i=1;i<=n;i++) print $2, t[i]; n=0}')
if [ "$count" -eq 0 ]; then echo "fuzz: no targets found"; exit 1; fi
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failed[@]}"
  echo "fuzz: the failing inputs are under the packages' testdata/fuzz/; commit them with the fix"
  exit 1
fi
echo "fuzz: $count targets, $fuzztime each, no failure ($raced stopped by Go's fuzztime race)"
