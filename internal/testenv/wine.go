package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// VarWinePrefix names the Wine prefix the Windows build's test runs in,
// when it is not the one scripts/wine.sh setup makes in the test
// directories (.testdirs/wine/prefix).
const VarWinePrefix = "UPNSYNC_TEST_WINEPREFIX"

const wineHint = "set it up as root with scripts/wine.sh setup (Wine, MinGW and the bcryptprimitives.dll shim Debian 12's Wine lacks), or name a prefix with " + VarWinePrefix

// WineEnv is a Wine prefix ready to run Go's Windows binaries.
type WineEnv struct {
	// Wine is the wine command; Wineserver stops the prefix's server.
	Wine, Wineserver string
	// Prefix is WINEPREFIX; its C: drive is Prefix/drive_c.
	Prefix string
}

// Wine returns the prefix for tests that run upnsync.exe, or skips the test
// (fails it when CI=true) when there is none.
func Wine(t testing.TB) WineEnv {
	t.Helper()
	prefix := os.Getenv(VarWinePrefix)
	if prefix == "" {
		env, err := EnvFile()
		if err != nil {
			missing(t, "no Wine prefix: %v; %s", err, wineHint)
		}
		prefix = filepath.Join(filepath.Dir(env), "wine", "prefix")
	}
	shim := filepath.Join(prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if _, err := os.Stat(shim); err != nil {
		missing(t, "no Wine prefix with the bcryptprimitives.dll shim at %s; %s", prefix, wineHint)
	}
	e := WineEnv{Prefix: prefix}
	var err error
	if e.Wine, err = exec.LookPath("wine"); err != nil {
		missing(t, "no wine on PATH; %s", wineHint)
	}
	for _, p := range []string{"wineserver", "/usr/lib/wine/wineserver64", "/usr/lib/wine/wineserver"} {
		if e.Wineserver, err = exec.LookPath(p); err == nil {
			break
		}
	}
	if e.Wineserver == "" {
		missing(t, "no wineserver; %s", wineHint)
	}
	return e
}
