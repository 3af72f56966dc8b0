package directory_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
)

// Bases inside one another on the test slapd, written in other letter
// cases and spacings than the server's: the read is the outer base's, each
// person once, one base searched, and the log names the bases left out.
func TestSlapdNestedBasesReadOnce(t *testing.T) {
	e := testenv.LDAP(t)
	people := "ou=People," + e.Base
	alone := baseOptions(e)
	alone.Bases = []string{people}
	want, wantRes, err := readAll(t, open(t, alone))
	if err != nil || !wantRes.Complete || len(want) == 0 {
		t.Fatalf("ou=People alone: %v", err)
	}

	o := baseOptions(e)
	inner := "OU=Berlin, OU=people," + strings.ToUpper(e.Base)
	o.Bases = []string{inner, people, `ou=R\26D,ou=Amsterdam,OU=PEOPLE,` + e.Base}
	var log bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&log, nil))
	got, res, err := readAll(t, open(t, o))
	if err != nil || !res.Complete {
		t.Fatalf("nested bases: %v", err)
	}
	if len(got) != len(want) || res.Entries != len(want) || len(res.Bases) != 1 || res.Bases[0].Entries != len(want) {
		t.Fatalf("nested bases read %d people, %d entries, bases %+v; ou=People alone %d people", len(got), res.Entries, res.Bases, len(want))
	}
	for g := range want {
		if _, ok := got[g]; !ok {
			t.Errorf("%s not read", g)
		}
	}
	for _, b := range []string{inner, `ou=R\26D,ou=Amsterdam,OU=PEOPLE,` + e.Base} {
		// (The log doubles the backslash of an escape.)
		if !strings.Contains(log.String(), "search base "+strings.ReplaceAll(b, `\`, `\\`)+" is inside search base "+people) {
			t.Errorf("the log does not name %s:\n%s", b, log.String())
		}
	}
}
