package fileerr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestReasonDropsTheRepeatedPath(t *testing.T) {
	_, err := os.Open(filepath.Join(t.TempDir(), "missing.xml"))
	if got := Reason(err); !errors.Is(got, fs.ErrNotExist) || got.Error() != "no such file or directory" && got.Error() != "The system cannot find the file specified." {
		t.Fatalf("Reason(%v) = %v", err, got)
	}
	// Wrapped errors and other errors are left alone: their text is not
	// only the path.
	wrapped := fmt.Errorf("reading: %w", err)
	if got := Reason(wrapped); got != wrapped {
		t.Errorf("a wrapped path error became %v", got)
	}
	other := errors.New("boom")
	if Reason(other) != other {
		t.Error("a plain error changed")
	}
}
