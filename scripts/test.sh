#!/usr/bin/env bash
# The test command of README.md and .ci/run: starts the real test servers
# (installing them with apt when run as root on a fresh machine), runs every
# Go test with the race detector, and stops what it started, whatever happens.
# Extra arguments go to `go test` (e.g. scripts/test.sh -run Integration).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/testdirs.sh start
trap 'scripts/testdirs.sh stop' EXIT
# The Wine prefix in which the Windows build's test runs upnsync.exe
# (installs Wine and MinGW when missing, as root; about 11 s when present).
scripts/wine.sh setup

# The servers' addresses, CA, service accounts, keytab and krb5.conf for the
# integration tests (OpenLDAP, PostgreSQL, the Samba AD DC).
set -a
# shellcheck disable=SC1091
. .testdirs/env
set +a

go test -race -count=1 "$@" ./...
