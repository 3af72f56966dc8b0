package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// VarChromium names the browser the HTML report's tests drive, when it is
// not chromium on PATH (Debian's package, which scripts/testdirs.sh
// install puts there).
const VarChromium = "UPNSYNC_TEST_CHROMIUM"

const chromiumHint = "install it as root with scripts/testdirs.sh install (apt-get install chromium), or name one with " + VarChromium

// Chromium returns the path of the browser for tests that render a page,
// or skips the test (fails it when CI=true) when there is none.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(VarChromium); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			missing(t, "%s=%s: %v; %s", VarChromium, p, err, chromiumHint)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "no Chromium for the browser tests (none on PATH, %s unset); %s", VarChromium, chromiumHint)
	return ""
}
