#!/usr/bin/env bash
# Benchmark upnsync against the directory's own serving rate.
#
#   scripts/bench.sh [--mix steady|rollout] [--report text|json] [N]
#
#   N                 users (default 100000; 1000000 supported)
#   --mix steady      (default) the Octopus export of scripts/genusers: a
#                     store kept in sync for a while, about 22% of the
#                     users to change
#   --mix rollout     a first rollout: 91% of the people with a UPN need it
#                     (about 900,000 changes at 1M users); the same directory
#   --report text     (default) the text report on standard output
#   --report json     the JSON report written with --report-file, as a
#                     scheduled job keeps it
#
# Generates N AD-like users and an Octopus export of the same people
# (scripts/genusers, in the mix asked for), loads them into a PRIVATE slapd
# (its own folder and ports, AD-like size limits, read as a non-root
# service account) and into an SQLite store, builds upnsync, then measures
# in one run, alternating, RUNS times:
#   ldapsearch -x -E pr=1000/noprompt of the same entries and attributes to
#              /dev/null: the reference
#   upnsync dry run
#   upnsync --apply, on a fresh copy of the store each time
#   a second dry run on the applied copy, which must plan 0 changes
# and prints the medians, the ratio of each to the reference, the peak RSS
# (/usr/bin/time), users per second and the median CPU time (user +
# system: steadier than the elapsed time on a busy machine). Every server
# it starts is stopped
# on exit. Run as root on a fresh Debian/Ubuntu machine it installs what it
# needs (slapd, ldap-utils, time, openssl) with apt.
#
# Settings (environment):
#   UPNSYNC_BENCH_RUNS (3)           rounds of the four measurements
#   UPNSYNC_BENCH_DIR (.bench)       where data, store and binaries live;
#                                    generated data is reused while its inputs
#                                    are unchanged
#   UPNSYNC_BENCH_LDAP_PORT (7389), UPNSYNC_BENCH_LDAPS_PORT (7636)
#   UPNSYNC_BENCH_SCHEME (ldap)      ldaps to measure both clients over TLS
#   UPNSYNC_BENCH_SEED (1)           genusers seed
#   UPNSYNC_BENCH_PROFILE (unset)    1: also write CPU and heap profiles of
#                                    the last first dry run next to the results
#   UPNSYNC_BENCH_COMPARE (unset)    another upnsync binary (e.g. one built
#                                    from an earlier commit): each round also
#                                    times its dry run, next to this one's
#                                    (before it in odd rounds, after it in
#                                    even ones), so both are measured in the
#                                    same run under the same load
set -euo pipefail

BENCH_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_REPO=$(cd "$BENCH_SCRIPT_DIR/.." && pwd)

BENCH_USAGE="usage: scripts/bench.sh [--mix steady|rollout] [--report text|json] [N]"
N=100000
MIX=steady
REPORT=text
while (($#)); do
	case $1 in
	--mix | --report)
		(($# >= 2)) || {
			echo "bench: $1 needs a value ($BENCH_USAGE)" >&2
			exit 1
		}
		if [[ $1 == --mix ]]; then MIX=$2; else REPORT=$2; fi
		shift 2
		;;
	--mix=*) MIX=${1#*=} && shift ;;
	--report=*) REPORT=${1#*=} && shift ;;
	-h | --help)
		echo "$BENCH_USAGE"
		exit 0
		;;
	-*)
		echo "bench: unknown option \"$1\" ($BENCH_USAGE)" >&2
		exit 1
		;;
	*)
		N=$1
		shift
		;;
	esac
done
if ! [[ $N =~ ^[0-9]+$ ]] || ((N < 1)); then
	echo "bench: N must be a positive number of users, not \"$N\" ($BENCH_USAGE)" >&2
	exit 1
fi
[[ $MIX == steady || $MIX == rollout ]] || {
	echo "bench: --mix must be steady or rollout, not \"$MIX\"" >&2
	exit 1
}
[[ $REPORT == text || $REPORT == json ]] || {
	echo "bench: --report must be text or json, not \"$REPORT\"" >&2
	exit 1
}
RUNS=${UPNSYNC_BENCH_RUNS:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || {
	echo "bench: UPNSYNC_BENCH_RUNS must be a positive number, not \"$RUNS\"" >&2
	exit 1
}
SCHEME=${UPNSYNC_BENCH_SCHEME:-ldap}
[[ $SCHEME == ldap || $SCHEME == ldaps ]] || {
	echo "bench: UPNSYNC_BENCH_SCHEME must be ldap or ldaps, not \"$SCHEME\"" >&2
	exit 1
}
BENCH_ROOT=${UPNSYNC_BENCH_DIR:-$BENCH_REPO/.bench}
mkdir -p "$BENCH_ROOT"
BENCH_ROOT=$(cd "$BENCH_ROOT" && pwd)

# The test directory's own scripts do the slapd work (configuration, schema,
# limits, service account, TLS): the same server as the integration tests,
# in a folder and on ports of its own.
export UPNSYNC_TESTDIRS=$BENCH_ROOT/n$N
export UPNSYNC_SLAPD_LDAP_PORT=${UPNSYNC_BENCH_LDAP_PORT:-7389}
export UPNSYNC_SLAPD_LDAPS_PORT=${UPNSYNC_BENCH_LDAPS_PORT:-7636}
export UPNSYNC_TEST_USER_COUNT=$N
export UPNSYNC_TEST_SEED=${UPNSYNC_BENCH_SEED:-1}
# shellcheck source=scripts/testdirs.sh
. "$BENCH_SCRIPT_DIR/testdirs.sh"

blog() { printf 'bench: %s\n' "$*" >&2; }
bdie() {
	blog "error: $*"
	exit 1
}

RESULTS=$UPNSYNC_TESTDIRS/results-$MIX-$REPORT
# One store per mix; the directory is the same.
STORE=$UPNSYNC_TESTDIRS/octopus.db
STORE_CSV=$SLAPD_CSV
if [[ $MIX == rollout ]]; then
	STORE=$UPNSYNC_TESTDIRS/octopus-rollout.db
	STORE_CSV=$UPNSYNC_TESTDIRS/octopus-rollout.csv
fi
# Each step's report: standard output for text, --report-file for json.
EXT=txt
[[ $REPORT == json ]] && EXT=json
MAPPING=$BENCH_REPO/testdata/demo/ADSIReaderLDAPMappings.xml
FILTER='(&(objectCategory=person)(objectClass=user))'
# The attributes upnsync requests with that mapping (mapping.Fields.Attributes).
ATTRS=(objectGUID sAMAccountName userAccountControl userPrincipalName GivenName sn Mail)
BIN=$BENCH_ROOT/bin/upnsync
COMPARE=${UPNSYNC_BENCH_COMPARE:-}
if [[ -n $COMPARE && ! -x $COMPARE ]]; then
	echo "bench: UPNSYNC_BENCH_COMPARE must name an executable upnsync, not \"$COMPARE\"" >&2
	exit 1
fi

install_what_is_missing() {
	local missing
	mapfile -t missing < <(
		{
			common_packages
			slapd_packages
			need /usr/bin/time time
		} | sort -u
	)
	install_packages "${missing[@]}"
}

# prepare_store imports the generated Octopus export once per data set
# (for the rollout mix, first generates it: genusers with the same seed
# and -mix rollout writes the same directory, so only its export is kept).
prepare_store() {
	local stamp
	stamp="$(<"$SLAPD_DIR/stamp") mix=$MIX"
	if [[ -s $STORE && -s $STORE.stamp && $(<"$STORE.stamp") == "$stamp" ]]; then
		return 0
	fi
	if [[ $MIX != steady ]]; then
		blog "generating the Octopus export of the $MIX mix"
		local gen=$BENCH_ROOT/bin/genusers
		(cd "$BENCH_REPO" && "$(go_cmd)" build -o "$gen" ./scripts/genusers)
		"$gen" -n "$N" -seed "$UPNSYNC_TEST_SEED" -base "$BASE_DN" -mix "$MIX" -ldif /dev/null -octopus-csv "$STORE_CSV" \
			2>"$RESULTS/genusers.log" || {
			cat "$RESULTS/genusers.log" >&2
			bdie "genusers -mix $MIX failed"
		}
	fi
	blog "importing $STORE_CSV into sqlite:$STORE"
	rm -f "$STORE" "$STORE.stamp"
	"$BIN" store import --store "sqlite:$STORE" "$STORE_CSV" >"$RESULTS/import.out" 2>&1 ||
		{
			cat "$RESULTS/import.out" >&2
			bdie "store import failed"
		}
	echo "$stamp" >"$STORE.stamp"
}

url() {
	if [[ $SCHEME == ldaps ]]; then
		echo "$SLAPD_LDAPS_URL"
	else
		echo "$SLAPD_LDAP_URL"
	fi
}

# reference_argv and upnsync_argv fill ARGV with a command line (real
# programs, since /usr/bin/time runs them).
reference_argv() {
	ARGV=(env "LDAPTLS_CACERT=$TESTDIRS/ca.crt" LDAPTLS_REQCERT=demand
		ldapsearch -x -H "$(url)" -D "$SLAPD_BIND_DN" -y "$SLAPD_PASSWORD_FILE" -b "$BASE_DN"
		-E pr=1000/noprompt "$FILTER" "${ATTRS[@]}")
}

upnsync_argv() { # STORE STEP [--apply]: STEP names the report file
	local store=$1 step=$2
	shift 2
	local tls=(--allow-plaintext-bind) report=()
	[[ $SCHEME == ldaps ]] && tls=(--ca-file "$TESTDIRS/ca.crt")
	[[ $REPORT == json ]] && report=(--report json --report-file "$RESULTS/$step.json")
	ARGV=("${UPNSYNC_BIN:-$BIN}" --config-file-path "$MAPPING" --directory "$(url)" "${tls[@]}" --domain "$BASE_DN"
		--login "$SLAPD_BIND_DN" --password-file "$SLAPD_PASSWORD_FILE" --store "sqlite:$store" "${report[@]}" "$@")
}

# step_out STEP: where a step's standard output goes (the text report, or
# nothing much with --report json).
step_out() {
	if [[ $REPORT == json ]]; then echo "$RESULTS/$1.out"; else echo "$RESULTS/$1.txt"; fi
}

# measure NAME OUT CMD...: runs CMD under /usr/bin/time with stdout to OUT;
# appends "NAME seconds maxrss_kb exit_code cpu_seconds" to $RESULTS/raw
# (cpu: user + system, which depends less than the elapsed time on what
# else the machine runs).
measure() {
	local name=$1 out=$2
	shift 2
	local t0 t1 rc=0
	t0=$EPOCHREALTIME
	/usr/bin/time -v -o "$RESULTS/time.txt" "$@" >"$out" 2>"$RESULTS/$name.err" || rc=$?
	t1=$EPOCHREALTIME
	local rss cpu
	rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$RESULTS/time.txt")
	cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { s += $2 } END { printf "%.2f", s }' "$RESULTS/time.txt")
	printf '%s %s %s %s %s\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" "${rss:-0}" "$rc" "${cpu:-0}" >>"$RESULTS/raw"
	echo "$rc"
}

# changes_of STEP: the number of changes a step's report plans (the text
# report's summary line, or the JSON report's summary); applied_of STEP:
# the number of users its apply wrote.
changes_of() {
	if [[ $REPORT == json ]]; then
		grep -m1 -o '"changes": [0-9]*' "$RESULTS/$1.json" | grep -o '[0-9]*$'
	else
		# The summary is on the report's second line and again at its end.
		sed -n '/^Summary: .* changes [0-9]*, /{s/^Summary: .* changes \([0-9]*\), .*/\1/p;q;}' "$RESULTS/$1.txt"
	fi
}
applied_of() {
	if [[ $REPORT == json ]]; then
		grep -m1 -o '"written": [0-9]*' "$RESULTS/$1.json" | grep -o '[0-9]*$'
	else
		sed -n '/^Applied: [0-9]* users\{0,1\} written/{s/^Applied: \([0-9]*\) users\{0,1\} written.*/\1/p;q;}' "$RESULTS/$1.txt"
	fi
}

expect_rc() { # NAME RC ALLOWED...
	local name=$1 rc=$2
	shift 2
	local a
	for a in "$@"; do
		[[ $rc == "$a" ]] && return 0
	done
	cat "$RESULTS/$name.err" >&2
	bdie "$name exited with $rc (expected one of $*); its messages are above"
}

compare_round() { # ROUND: the dry run of UPNSYNC_BENCH_COMPARE, if set
	[[ -n $COMPARE ]] || return 0
	local rc ARGV
	UPNSYNC_BIN=$COMPARE upnsync_argv "$STORE" compare
	rc=$(measure compare "$(step_out compare)" "${ARGV[@]}")
	expect_rc compare "$rc" 0 2 4
}

one_round() { # ROUND
	local r=$1 rc ARGV
	reference_argv
	rc=$(measure reference /dev/null "${ARGV[@]}")
	expect_rc reference "$rc" 0
	# The other binary's dry run goes before this build's in odd rounds,
	# after it in even ones: neither gains from the order.
	((r % 2)) && compare_round "$r"
	upnsync_argv "$STORE" dry
	if [[ ${UPNSYNC_BENCH_PROFILE:-} == 1 && $r == "$RUNS" ]]; then
		export UPNSYNC_CPUPROFILE=$RESULTS/dry.cpu.prof UPNSYNC_MEMPROFILE=$RESULTS/dry.mem.prof
	fi
	rc=$(measure dry "$(step_out dry)" "${ARGV[@]}")
	unset UPNSYNC_CPUPROFILE UPNSYNC_MEMPROFILE
	expect_rc dry "$rc" 0 2 4
	((r % 2)) || compare_round "$r"
	cp --sparse=always "$STORE" "$RESULTS/apply.db"
	rm -f "$RESULTS/apply.db-journal"
	upnsync_argv "$RESULTS/apply.db" apply --apply
	rc=$(measure apply "$(step_out apply)" "${ARGV[@]}")
	expect_rc apply "$rc" 0 4
	upnsync_argv "$RESULTS/apply.db" dry2
	rc=$(measure dry2 "$(step_out dry2)" "${ARGV[@]}")
	expect_rc dry2 "$rc" 0 4
	local planned applied again
	planned=$(changes_of dry)
	applied=$(applied_of apply)
	again=$(changes_of dry2)
	[[ -n $planned && -n $again ]] || bdie "no summary in the reports under $RESULTS"
	[[ ${applied:-0} == "$planned" ]] || bdie "round $r: the dry run planned $planned changes but the apply wrote ${applied:-0}"
	if [[ -n $COMPARE && $(changes_of compare) != "$planned" ]]; then
		bdie "round $r: $COMPARE planned $(changes_of compare) changes, this build $planned"
	fi
	[[ $again == 0 ]] || bdie "round $r: the second dry run after the apply plans $again changes, want 0 (see $RESULTS/dry2.$EXT)"
	echo "$planned" >"$RESULTS/planned"
	local steps=4
	[[ -n $COMPARE ]] && steps=5
	blog "round $r of $RUNS: $(tail -n "$steps" "$RESULTS/raw" | awk '{printf "%s %.2fs  ", $1, $2}')"
}

report_table() {
	local planned store_users load_before=$1 load_after=$2
	planned=$(<"$RESULTS/planned")
	if [[ $REPORT == json ]]; then
		store_users=$(grep -m1 -o '"store_users": [0-9]*' "$RESULTS/dry.json" | grep -o '[0-9]*$')
	else
		store_users=$(sed -n 's/^Store: .*(\([0-9]*\) users)$/\1/p' "$RESULTS/dry.txt")
	fi
	awk -v n="$N" -v runs="$RUNS" -v planned="$planned" -v users="$store_users" \
		-v url="$(url)" -v lb="$load_before" -v la="$load_after" -v compare="$COMPARE" \
		-v mix="$MIX" -v report="$REPORT" '
	function median(name) { return med(secs, name) }
	function med(v, name,   k, i, j, t, a) {
		k = cnt[name]
		for (i = 1; i <= k; i++) a[i] = v[name, i]
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	function maxrss(name,   i, m) {
		m = 0
		for (i = 1; i <= cnt[name]; i++) if (rss[name, i] > m) m = rss[name, i]
		return m / 1024
	}
	{ c = ++cnt[$1]; secs[$1, c] = $2; rss[$1, c] = $3; cpu[$1, c] = $5 }
	END {
		ref = median("reference")
		printf "\nupnsync benchmark: %d directory users, %d Octopus users, %d planned changes (%s mix, %s report%s)\n", n, users, planned, mix, report, (report == "json" ? " to --report-file" : "")
		printf "%s, page size 1000, %d %s each, alternating; load average before %s, after %s\n\n", url, runs, (runs == 1 ? "run" : "runs"), lb, la
		printf "%-34s %9s %8s %8s %13s %12s %10s\n", "step", "median s", "x ref", "max s", "peak RSS MB", "users/s", "CPU s"
		steps = split(compare == "" ? "reference dry apply dry2" : "reference compare dry apply dry2", order, " ")
		label["reference"] = "ldapsearch -E pr=1000 (reference)"
		label["compare"] = "dry run of UPNSYNC_BENCH_COMPARE"
		label["dry"] = "upnsync dry run"
		label["apply"] = sprintf("upnsync --apply (%d changes)", planned)
		label["dry2"] = "upnsync second dry run"
		for (o = 1; o <= steps; o++) {
			s = order[o]; m = median(s); mx = 0
			for (i = 1; i <= cnt[s]; i++) if (secs[s, i] > mx) mx = secs[s, i]
			printf "%-34s %9.2f %8.2f %8.2f %13.0f %12.0f %10.2f\n", label[s], m, m / ref, mx, maxrss(s), n / m, med(cpu, s)
		}
		extra = median("apply") - median("dry")
		printf "%-34s %9.2f %8s %8s %13s %12s\n", "apply over the dry run", extra, "", "", "", (extra > 0 ? sprintf("%.0f ch/s", planned / extra) : "-")
		printf "%-34s %9.2f\n", "apply / dry run", median("apply") / median("dry")
		printf "\nThe second dry run after each apply planned 0 changes.\n"
		if (compare != "") printf "UPNSYNC_BENCH_COMPARE=%s planned the same changes in every round.\n", compare
	}' "$RESULTS/raw"
}

bench_main() {
	install_what_is_missing
	command -v go >/dev/null 2>&1 || [[ -x /usr/local/go/bin/go ]] || bdie "Go is needed to build upnsync (put go on PATH)"
	mkdir -p "$BENCH_ROOT/bin" "$UPNSYNC_TESTDIRS"
	blog "building upnsync"
	(cd "$BENCH_REPO" && "$(go_cmd)" build -o "$BIN" ./cmd/upnsync)

	trap 'slapd_stop' EXIT
	trap 'exit 130' INT TERM
	make_certs
	slapd_start
	mkdir -p "$RESULTS"
	: >"$RESULTS/raw"
	prepare_store

	# One unmeasured read so that no measurement pays for a cold cache.
	local ARGV
	reference_argv
	"${ARGV[@]}" >/dev/null 2>"$RESULTS/warmup.err" || {
		cat "$RESULTS/warmup.err" >&2
		bdie "ldapsearch failed"
	}
	local load_before load_after r
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	for ((r = 1; r <= RUNS; r++)); do
		one_round "$r"
	done
	load_after=$(cut -d' ' -f1-3 /proc/loadavg)
	report_table "$load_before" "$load_after" | tee "$RESULTS/table.txt"
	blog "raw figures: $RESULTS/raw; reports: $RESULTS/*.$EXT"
}

bench_main
