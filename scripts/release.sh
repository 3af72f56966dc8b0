#!/usr/bin/env bash
# Release builds of upnsync: static binaries (no C compiler, no libc) for
# Linux amd64 and arm64 and Windows amd64 in dist/, with the version and the
# commit built in (`upnsync version` prints them), and their SHA-256 sums.
# The flags are the Dockerfile's, so the image holds the same binary.
#
#   scripts/release.sh [VERSION]     VERSION defaults to `git describe`
#
# Environment: COMMIT (default: git rev-parse HEAD), TARGETS (default
# "linux/amd64 linux/arm64 windows/amd64"), DIST (default dist).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
VERSION=${1:-${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
TARGETS=${TARGETS:-linux/amd64 linux/arm64 windows/amd64}
DIST=${DIST:-dist}

# Values go into -X flags: no spaces or quotes.
[[ $VERSION =~ ^[A-Za-z0-9._+-]+$ ]] || { echo "release: version '$VERSION' may hold only letters, digits and . _ + -" >&2; exit 1; }
[[ $COMMIT =~ ^[A-Za-z0-9._+-]+$ ]] || { echo "release: commit '$COMMIT' may hold only letters, digits and . _ + -" >&2; exit 1; }

LDFLAGS="-s -w -X main.version=$VERSION -X main.commit=$COMMIT"
mkdir -p "$DIST"
built=()
for target in $TARGETS; do
	goos=${target%/*}
	goarch=${target#*/}
	out="$DIST/upnsync_${VERSION}_${goos}_${goarch}"
	[[ $goos == windows ]] && out+=.exe
	echo "release: $out"
	CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$out" ./cmd/upnsync
	built+=("$(basename "$out")")
done
(cd "$DIST" && sha256sum "${built[@]}" >"SHA256SUMS_$VERSION")
echo "release: $DIST/SHA256SUMS_$VERSION"

# The binary for this machine must say what it is.
host="$DIST/upnsync_${VERSION}_$("$GO" env GOOS)_$("$GO" env GOARCH)"
if [[ -x $host ]]; then
	line=$("$host" version)
	echo "release: $line"
	[[ $line == "upnsync $VERSION (commit $COMMIT, "* ]] || { echo "release: $host reports '$line'" >&2; exit 1; }
fi
