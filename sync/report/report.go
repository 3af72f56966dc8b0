// Package report renders a plan (and what an apply did with it) as text for
// people, or JSON and CSV for programs. All three come from the same value,
// so they never disagree.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Modes of a run.
const (
	ModeDryRun = "dry-run"
	ModeApply  = "apply"
)

// Meta is what the report says about the run besides the plan.
type Meta struct {
	Mode      string
	Directory string
	Store     string
	Started   time.Time
	Finished  time.Time
	// Applied is set after an apply.
	Applied *upnsync.Applied
	// Stopped is set when a safety guard stopped the run before writing.
	Stopped string
	// Guards are the threshold guards the plan trips; Forced is set when
	// --force let the run through them.
	Guards []upnsync.GuardStop
	Forced bool
	// Notes are facts about the run as a whole (a plan applied twice, a
	// run already undone).
	Notes []string
	// ApplyHint is the command that applies this plan (dry runs only).
	ApplyHint string
	// Source replaces the directory line when the changes did not come
	// from a read (an undo, a saved plan).
	Source string
	// DirectoryKind and StoreKind name the kinds of source and store
	// (ldap, ldif, csv, xlsx; sqlite, postgres, dataimporter).
	DirectoryKind string
	StoreKind     string
	// NextSteps are what the administrator must do after this run, in
	// order (for a DataImporter workbook: how to import it).
	NextSteps []string
	// Read says how a run with --incremental or --dirsync read the
	// directory (nil without them).
	Read *upnsync.ReadMode

	// Optional facts the HTML report's header shows (and the JSON report
	// carries, so that a saved report renders the same header later).
	// RunID is the run's id: an apply's journal id (Applied.RunID is used
	// when this is empty), or a dry run's own id when it has one.
	RunID string
	// MappingFile is the attribute mapping file (--config-file-path).
	MappingFile string
	// NetBIOS is the NetBIOS domain name the run used (read from the
	// directory, or --netbios-domain), and NetBIOSSource where it came
	// from: "directory", "option" or "dn" (guessed from the DNs), as
	// sync/directory.NetBIOSSource says; NetBIOSText renders both.
	NetBIOS       string
	NetBIOSSource string
	// Limits are the guards' thresholds in force (nil: not known); Guards
	// are those the plan trips.
	Limits *upnsync.Limits

	// CSVSeparator separates the CSV report's values (--csv-separator);
	// 0 is ','. It is how the report is written, not a fact of the run.
	CSVSeparator rune
}

// runID is the run's id: meta's own, else the id an apply was journaled
// under.
func runID(meta Meta) string {
	if meta.RunID == "" && meta.Applied != nil {
		return meta.Applied.RunID
	}
	return meta.RunID
}

// writeBuffer is how much of a report is held before it is written: a
// first run's report is hundreds of megabytes, which a small buffer would
// write in a hundred thousand system calls.
const writeBuffer = 256 << 10

// Formats lists the report formats.
var Formats = []string{"text", "json", "csv", "html"}

// Write renders the report in format.
func Write(w io.Writer, format string, plan *upnsync.Plan, meta Meta) error {
	switch strings.ToLower(format) {
	case "", "text":
		return Text(w, plan, meta)
	case "json":
		return JSON(w, plan, meta)
	case "csv":
		return CSV(w, plan, meta)
	case "html":
		return HTML(w, plan, meta)
	}
	return fmt.Errorf("unknown report format %q: use %s", format, FormatChoices())
}

// FormatChoices names the formats for a message: "text, json, csv or html".
func FormatChoices() string {
	return strings.Join(Formats[:len(Formats)-1], ", ") + " or " + Formats[len(Formats)-1]
}

func joinReplaced(rs []upnsync.Replacement) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Old + " -> " + r.New
	}
	return strings.Join(parts, "; ")
}

// unmatchedCount and skippedCount are how many people a list stands for:
// the plan may list fewer than it counts (upnsync.Options.ListLimit), and a
// plan built by hand may count none.
func unmatchedCount(plan *upnsync.Plan) int { return max(plan.Stats.Unmatched, len(plan.Unmatched)) }
func skippedCount(plan *upnsync.Plan) int   { return max(plan.Stats.Skipped, len(plan.Skipped)) }
func pinnedCount(plan *upnsync.Plan) int {
	return max(plan.Stats.PinnedMissing, len(plan.PinnedMissing))
}
