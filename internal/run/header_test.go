package run

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// reportHead is what the JSON report says about the run besides the plan.
type reportHead struct {
	RunID       string `json:"run_id"`
	MappingFile string `json:"mapping_file"`
	NetBIOS     string `json:"netbios_name"`
	NetBIOSFrom string `json:"netbios_source"`
	ApplyHint   string `json:"apply_hint"`
	Limits      *struct {
		MaxChanges        int     `json:"max_changes"`
		MaxChangePercent  float64 `json:"max_change_percent"`
		MaxRemovals       int     `json:"max_removals"`
		MaxRemovalPercent float64 `json:"max_removal_percent"`
	} `json:"limits"`
	Applied *struct {
		RunID string `json:"run_id"`
	} `json:"applied"`
}

func readHead(t *testing.T, path string) reportHead {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var h reportHead
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

var runIDForm = regexp.MustCompile(`^\d{8}T\d{6}Z-[0-9a-f]{6}$`)

// The report's header facts come from the run: its id (a dry run has one
// too; an apply is journaled under the id its report shows), the mapping
// file, the NetBIOS name the people were read with, the guards'
// thresholds, and for a dry run how to apply it.
func TestReportHeaderFacts(t *testing.T) {
	ctx := context.Background()
	d := newDemo(t)
	dry := filepath.Join(d.dir, "dry.json")
	if o := Sync(ctx, d.env(), d.sync(t, "--report", "json", "--report-file", dry, "--max-changes", "40")); ExitCode(o) != ExitPending {
		t.Fatalf("dry run: %+v\n%s", o, d.stderr)
	}
	h := readHead(t, dry)
	if !runIDForm.MatchString(h.RunID) || h.MappingFile != d.mapping || h.NetBIOS != "CORP" || h.NetBIOSFrom != "dn" ||
		h.ApplyHint != "run the same command with --apply (or /Apply)" || h.Applied != nil {
		t.Errorf("dry run's header: %+v", h)
	}
	if l := h.Limits; l == nil || l.MaxChanges != 40 || l.MaxChangePercent != -1 || l.MaxRemovals != 500 || l.MaxRemovalPercent != 10 {
		t.Errorf("dry run's limits: %+v", h.Limits)
	}

	applied := filepath.Join(d.dir, "apply.json")
	if o := Sync(ctx, d.env(), d.sync(t, "--apply", "--report", "json", "--report-file", applied, "--netbios-domain", "EXAMPLE")); ExitCode(o) != ExitConflicts {
		t.Fatalf("apply: %+v\n%s", o, d.stderr)
	}
	a := readHead(t, applied)
	if a.RunID == h.RunID || !runIDForm.MatchString(a.RunID) || a.Applied == nil || a.Applied.RunID != a.RunID ||
		lastRun(t, d) != a.RunID || a.ApplyHint != "" || a.NetBIOS != "EXAMPLE" || a.NetBIOSFrom != "option" {
		t.Errorf("apply's header: %+v (journal's last run %s; dry run %s)", a, lastRun(t, d), h.RunID)
	}

	undo := filepath.Join(d.dir, "undo.json")
	if o := Undo(ctx, d.env(), d.settings(t, "undo", a.RunID, "--store", d.store, "--report", "json", "--report-file", undo), a.RunID); ExitCode(o) != ExitPending {
		t.Fatalf("undo: %+v\n%s", o, d.stderr)
	}
	if u := readHead(t, undo); !runIDForm.MatchString(u.RunID) || u.RunID == a.RunID || u.ApplyHint == "" {
		t.Errorf("undo dry run's header: %+v", u)
	}
}

// The NetBIOS names a read used, each once, in order, at most ten.
func TestNetBIOSNames(t *testing.T) {
	var n *netbiosNames
	if n.String() != "" {
		t.Error("no read, a name")
	}
	n = &netbiosNames{}
	for _, d := range []string{"CORP", "CORP", "", "EMEA", "CORP", "EMEA"} {
		n.see(d)
	}
	if n.String() != "CORP, EMEA" {
		t.Errorf("got %q", n.String())
	}
	for i := range 20 {
		n.see(string(rune('A' + i)))
	}
	if got := n.String(); got != "CORP, EMEA, A, B, C, D, E, F, G, H and more" {
		t.Errorf("got %q", got)
	}
	// Through a directory: tombstones and unselected notices carry no
	// name of their own.
	n = &netbiosNames{}
	dir := n.directory(peopleDir{people: []upnsync.Person{{Domain: "CORP"}, {Domain: "GONE", Deleted: true}, {Domain: "EMEA"}}})
	if _, err := dir.Read(context.Background(), func(upnsync.Person) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n.String() != "CORP, EMEA" {
		t.Errorf("through a directory: %q", n.String())
	}
}
