package planfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

func sample() *Plan {
	return &Plan{Created: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC), CreatedBy: "upnsync test",
		Store: "sqlite:/srv/octopus.db", Directory: "ldif:x.ldif", InputsSHA256: "abc",
		Settings: map[string]string{"remove-departed": "true"}, Read: ReadSummary{Complete: true, Entries: 3, Pages: 1},
		Changes: []Change{{UserID: "1", Before: " a ;; b", After: " a ;; b;c@d", Added: []string{"c@d"}, GUID: "g"},
			{UserID: "2", Before: "x;y@d", After: "x", Removed: []string{"y@d"}, Departed: "deleted"}}}
}

func TestRoundTripAndRefusals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	digest, err := Write(path, nil, sample())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	p, got, err := Read(path, 24*time.Hour, now)
	if err != nil || got != digest || !reflect.DeepEqual(p, sample()) {
		t.Fatalf("round trip: %v %s %s\n%+v", err, got, digest, p)
	}
	if st, _ := os.Stat(path); st.Mode().Perm()&0o077 != 0 {
		t.Errorf("plan mode %o: readable by others", st.Mode().Perm())
	}
	ch := p.EngineChanges()
	if ch[0].Before != " a ;; b" || ch[1].Departed != upnsync.DepartedDeleted || ch[0].Person.GUID != "g" {
		t.Errorf("engine changes %+v", ch)
	}

	data, _ := os.ReadFile(path)
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	tests := map[string]string{
		// one byte of one value changed
		write("tampered.json", strings.Replace(string(data), `"after": "x"`, `"after": "x;evil@d"`, 1)): "was changed after upnsync saved it",
		write("newer.json", strings.Replace(string(data), `"version": 1`, `"version": 2`, 1)):           "saved by a newer upnsync (plan version 2",
		write("older.json", strings.Replace(string(data), `"version": 1`, `"version": 0`, 1)):           "an old format (version 0",
		write("report.json", `{"version":1,"mode":"dry-run"}`):                                          `not a plan saved by upnsync plan --out (no "format": "upnsync-plan")`,
		write("garbage.json", "{not json"):                                                              "not JSON at byte",
		write("truncated.json", string(data[:len(data)/2])):                                             "is not a plan saved by upnsync",
	}
	for file, want := range tests {
		if _, _, err := Read(file, 0, now); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: %v, want %q", filepath.Base(file), err, want)
		}
	}
	if _, _, err := Read(path, time.Hour, now); err == nil || !strings.Contains(err.Error(), "longer ago than --max-plan-age 1h0m0s") {
		t.Errorf("old plan: %v", err)
	}
	if _, _, err := Read(filepath.Join(dir, "none.json"), 0, now); err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Errorf("missing: %v", err)
	}
}
