package run

import (
	"context"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/config"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/octopus"
)

// After an apply, the watermark is held back by the users left alone
// because they changed meanwhile (the next run must read them again), not
// by those that already held the planned value: Tally does not count them
// as changed. The real runs are in cmd/upnsync/incremental_samba_test.go.
func TestWatermarkHeldBackOnlyByChangedUsers(t *testing.T) {
	ctx := context.Background()
	d := newDemo(t)
	store, err := octopus.Open(ctx, d.store, octopus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	states, ok := store.(octopus.SyncStater)
	if !ok {
		t.Fatalf("%T keeps no sync state", store)
	}
	alreadyApplied := upnsync.Applied{Written: []string{"1002"},
		Stale: []upnsync.Stale{{UserID: "1001", Expected: janeBefore, Found: janePlanned, Planned: janePlanned}}}
	changed := upnsync.Applied{Written: []string{"1002"},
		Stale: []upnsync.Stale{{UserID: "1001", Expected: janeBefore, Found: "jdoe;typed", Planned: janePlanned}}}
	for _, tt := range []struct {
		name     string
		applied  upnsync.Applied
		advanced bool
	}{
		{"a user already applied", alreadyApplied, true},
		{"a user changed meanwhile", changed, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := "incremental:" + tt.name
			inc := &incremental{mode: upnsync.ReadIncremental, key: key, states: states,
				next: &syncState{Version: 1, Mode: upnsync.ReadIncremental, Host: "dc1", USN: 42}}
			var o Outcome
			o.Tally(tt.applied)
			if err := inc.advance(ctx, &config.Settings{Apply: true}, upnsync.ReadResult{Complete: true}, o.Changed); err != nil {
				t.Fatal(err)
			}
			saved, err := states.SyncState(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if inc.info.Advanced != tt.advanced || (saved != "") != tt.advanced {
				t.Fatalf("advanced %v (%q), saved %q; want advanced %v", inc.info.Advanced, inc.info.NotAdvanced, saved, tt.advanced)
			}
			if !tt.advanced && !strings.Contains(inc.info.NotAdvanced, "1 planned change not written (the user changed meanwhile)") {
				t.Errorf("why not: %q", inc.info.NotAdvanced)
			}
		})
	}
}
