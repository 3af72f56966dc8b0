#!/usr/bin/env bash
# Wine for running the Windows build (upnsync.exe) in tests, on Debian 12.
#
#   scripts/wine.sh setup    install Wine and MinGW when missing (as root, apt; scripts/testdirs.sh
#                            install does it too), build the bcryptprimitives.dll shim from
#                            scripts/wine/, and make the Wine prefix $UPNSYNC_TESTDIRS/wine/prefix
#                            (default .testdirs/wine/prefix) with the shim in its system32
#   scripts/wine.sh prefix   print the prefix's path
#   scripts/wine.sh test     setup, then run the Windows binary's test (cmd/upnsync
#                            TestWindowsBinaryUnderWine) against the test servers
#
# Debian 12's Wine 8.0 lacks bcryptprimitives.dll, which every Go 1.22+
# Windows binary loads at start (ProcessPrng); the shim provides it. See
# docs/windows.md for what Wine does not cover (SSPI, Task Scheduler, ACLs).
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/testdirs.sh
. "$SCRIPT_DIR/testdirs.sh"
WINE_DIR=$TESTDIRS/wine
PREFIX=$WINE_DIR/prefix
DLL=$PREFIX/drive_c/windows/system32/bcryptprimitives.dll

wine_setup() {
	local missing
	mapfile -t missing < <(wine_packages | sort -u)
	install_packages "${missing[@]}"
	mkdir -p "$WINE_DIR/build"
	x86_64-w64-mingw32-gcc -shared -O2 -o "$WINE_DIR/build/bcryptprimitives.dll" \
		"$SCRIPT_DIR/wine/bcryptprimitives.c" "$SCRIPT_DIR/wine/bcryptprimitives.def" -ladvapi32
	export WINEPREFIX=$PREFIX WINEDEBUG=-all
	if [[ ! -d $PREFIX/drive_c/windows/system32 ]]; then
		log "making the Wine prefix $PREFIX (wineboot)"
		wineboot --init >"$WINE_DIR/wineboot.log" 2>&1 || die "wineboot failed: see $WINE_DIR/wineboot.log"
		wineserver -w
	fi
	[[ -d $PREFIX/drive_c/windows/system32 ]] || die "wineboot made no prefix at $PREFIX: see $WINE_DIR/wineboot.log"
	cp "$WINE_DIR/build/bcryptprimitives.dll" "$DLL"
	log "Wine ready: WINEPREFIX=$PREFIX ($(wine --version))"
}

case ${1:-} in
setup) wine_setup ;;
prefix) echo "$PREFIX" ;;
test)
	wine_setup
	cd "$REPO_ROOT"
	UPNSYNC_TEST_WINEPREFIX=$PREFIX go test -count=1 -run 'TestWindowsBinaryUnderWine' ./cmd/upnsync
	;;
*)
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
