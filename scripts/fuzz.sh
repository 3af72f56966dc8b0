#!/usr/bin/env bash
# Runs every fuzz target of the repository for a bounded time each, one
# `go test -fuzz` per target (Go fuzzes one target of one package at a
# time). .ci/run calls it; run it by hand for a longer session:
#
#   scripts/fuzz.sh                       every target, UPNSYNC_FUZZTIME each (15s)
#   UPNSYNC_FUZZTIME=10m scripts/fuzz.sh FuzzPlanner
#
# A failing input is written to PACKAGE/testdata/fuzz/TARGET/ and the script
# fails naming it: commit that file with the fix, and it stays a regression
# test that every `go test` runs. The seed corpora (f.Add and the files in
# testdata/fuzz/) run in every `go test` too, fuzzing or not.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${UPNSYNC_FUZZTIME:-15s}
# Go minimizes each input that finds new code for up to a minute by
# default, and the worker runs nothing else meanwhile: with a 16 KB seed
# (the CSV export targets) a 15 s run did a handful of executions. A few
# hundred executions keep most of the shrinking and leave the time to
# fuzzing.
MINIMIZE=${UPNSYNC_FUZZMINIMIZE:-200x}

# package target
TARGETS=(
	"./mapping FuzzParse"
	"./config FuzzParseArgs"
	"./sync FuzzMergeUPN"
	"./sync FuzzValidateUPN"
	"./sync FuzzPlanner"
	"./sync/report FuzzJSONString"
	"./sync FuzzNormalizeGUID"
	"./sync/directory FuzzLDIF"
	"./sync/directory FuzzGUID"
	"./sync/directory FuzzWireEntry"
	"./sync/directory/internal/wire FuzzMessage"
	"./sync/directory/internal/wire FuzzTap"
	"./sync/directory FuzzCSVExport"
	"./sync/directory FuzzXLSXExport"
	"./sync/directory FuzzFastUnder"
	"./sync/directory FuzzExportFilter"
	"./sync/octopus FuzzReadCSV"
	"./sync/octopus FuzzOctopusExport"
)

# Every Fuzz function of the repository must be in the list.
listed=$(printf '%s\n' "${TARGETS[@]}" | awk '{print $2}' | sort)
found=$(grep -rho --include='*_test.go' --exclude-dir=.git --exclude-dir=.testdirs '^func Fuzz[A-Za-z0-9_]*' . | sed 's/^func //' | sort)
if [[ $listed != "$found" ]]; then
	echo "fuzz.sh: the target list and the Fuzz functions differ:" >&2
	diff <(echo "$listed") <(echo "$found") >&2 || true
	exit 1
fi

want=${1:-}
failed=0
for t in "${TARGETS[@]}"; do
	read -r pkg target <<<"$t"
	[[ -z $want || $want == "$target" ]] || continue
	echo "== $target ($pkg, $FUZZTIME)"
	log=$(mktemp)
	rc=0
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$MINIMIZE" "$pkg" 2>&1 | tee "$log" | grep -v '^fuzz: elapsed' || rc=${PIPESTATUS[0]}
	grep '^fuzz: elapsed' "$log" | tail -n 1 || true
	if ((rc != 0)); then
		# Go 1.26's fuzz coordinator can report its own -fuzztime deadline
		# as a failure ("context deadline exceeded", no failing input):
		# go.dev/issue/75804, fixed in Go 1.27. Only a written input, or any
		# other failure, counts.
		if grep -q 'Failing input written to' "$log" || ! grep -q '^    context deadline exceeded$' "$log"; then
			failed=1
		else
			echo "   (the fuzz coordinator's deadline race, go.dev/issue/75804: no failing input; not a failure)"
		fi
	fi
	rm -f "$log"
done
if ((failed)); then
	echo "fuzz.sh: a target failed; its input is under its package's testdata/fuzz/" >&2
	exit 1
fi
echo "fuzz.sh: every target ran $FUZZTIME without a failure"
