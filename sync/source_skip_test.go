package sync

import (
	"reflect"
	"testing"
)

// A person a source leaves out on purpose (an Entra ID guest) is listed
// as skipped with the source's reason, matched to nobody, and counts as
// seen: entries upnsync added for them are not departed.
func TestSourceSkipIsReportedAndNotDeparted(t *testing.T) {
	bob := Person{GUID: guidBob, UPN: "bob@corp.example.com", SAMAccountName: "bob", Skip: "guest account"}
	pl, departed := planWith(t, Options{RemoveDeparted: true}, departureUsers(), nil, true, jane(), bob)
	if len(departed) != 0 {
		t.Fatalf("Departed() = %q: a skipped person was read", departed)
	}
	if !reflect.DeepEqual(pl.Skipped, []Skip{{DN: "bob@corp.example.com", Reason: "guest account"}}) {
		t.Fatalf("Skipped = %+v", pl.Skipped)
	}
	if pl.Stats.Skipped != 1 || pl.Stats.Read != 2 || len(pl.Departures) != 0 {
		t.Fatalf("stats %+v departures %+v", pl.Stats, pl.Departures)
	}
	for _, c := range pl.Changes.All() {
		if c.UserID == "2" {
			t.Fatalf("the skipped person was merged: %+v", c)
		}
	}
}
