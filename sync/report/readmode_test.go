package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// The text and JSON reports say which mode ran, from which watermark to
// which, why a run read in full, and whether the watermark advanced; a run
// without --incremental or --dirsync says nothing of it.
func TestReadMode(t *testing.T) {
	plan := &upnsync.Plan{Read: upnsync.ReadResult{Complete: true, Partial: true, Entries: 2, Tombstones: 1}}
	tests := []struct {
		mode *upnsync.ReadMode
		text []string
	}{
		{&upnsync.ReadMode{Mode: upnsync.ReadIncremental, From: "dc1 USN 5", To: "dc1 USN 9", Advanced: true},
			[]string{"Read mode: incremental, only what changed after dc1 USN 5 up to dc1 USN 9; watermark advanced", "complete delta: 2 entries changed (1 deleted)"}},
		{&upnsync.ReadMode{Mode: upnsync.ReadFull, FullReason: "the invocationId of dc1 changed", To: "dc1 USN 9", NotAdvanced: "dry run: only an --apply run advances the watermark"},
			[]string{"Read mode: full, because the invocationId of dc1 changed; up to dc1 USN 9; watermark not advanced: dry run"}},
	}
	for _, tt := range tests {
		var text, js bytes.Buffer
		meta := Meta{Mode: ModeApply, Directory: "ldaps://dc1", Read: tt.mode}
		if err := Text(&text, plan, meta); err != nil {
			t.Fatal(err)
		}
		for _, want := range tt.text {
			if !strings.Contains(text.String(), want) {
				t.Errorf("text report lacks %q:\n%s", want, text.String())
			}
		}
		if err := JSON(&js, plan, meta); err != nil {
			t.Fatal(err)
		}
		var r struct {
			ReadMode *upnsync.ReadMode `json:"read_mode"`
			Read     struct {
				Partial    bool
				Tombstones int
			}
		}
		if err := json.Unmarshal(js.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.ReadMode == nil || *r.ReadMode != *tt.mode || !r.Read.Partial || r.Read.Tombstones != 1 {
			t.Errorf("JSON report: %+v %+v\n%s", r.ReadMode, r.Read, js.String())
		}
	}
	var text, js bytes.Buffer
	full := &upnsync.Plan{Read: upnsync.ReadResult{Complete: true, Entries: 2, Pages: 1}}
	_ = Text(&text, full, Meta{Mode: ModeApply, Directory: "ldaps://dc1"})
	_ = JSON(&js, full, Meta{Mode: ModeApply, Directory: "ldaps://dc1"})
	if strings.Contains(text.String(), "Read mode") || strings.Contains(js.String(), "read_mode") || strings.Contains(js.String(), "partial") {
		t.Errorf("a plain run mentions the read mode:\n%s\n%s", text.String(), js.String())
	}
}
