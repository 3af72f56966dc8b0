package run

import (
	"fmt"
	"io"
	"os"

	"github.com/upnsync/upnsync/internal/atomicfile"
	"github.com/upnsync/upnsync/internal/fileerr"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/report"
)

// RenderHTML is `upnsync report html IN OUT`: the HTML report of a saved
// JSON report or a saved plan, read whole first (a file that is not one,
// or is cut short or edited, is refused with its name), then written to
// out atomically: a reviewer never opens half a page. in is never
// written.
func RenderHTML(in, out string) error {
	if a, err := os.Stat(in); err == nil {
		if b, err := os.Stat(out); err == nil && os.SameFile(a, b) {
			return fmt.Errorf("%s is IN itself: give another file for the page (IN is never changed)", out)
		}
	}
	if err := atomicfile.Check(out); err != nil {
		return fmt.Errorf("cannot write %s: %v", out, err)
	}
	plan, meta, err := report.ReadSaved(in)
	if err != nil {
		return err
	}
	return WriteHTML(out, plan, meta)
}

// WriteHTML writes the HTML report of plan and meta to path, atomically
// (or directly to a device, a pipe or standard output: atomicfile).
func WriteHTML(path string, plan *upnsync.Plan, meta report.Meta) error {
	if err := atomicfile.Write(path, atomicfile.Shared, func(w io.Writer) error { return report.HTML(w, plan, meta) }); err != nil {
		return fmt.Errorf("writing %s: %v", path, fileerr.Reason(err))
	}
	return nil
}
