package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"unicode"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Text from the directory cannot drive the administrator's terminal or add
// lines to the report: control characters, bidirectional overrides and
// invalid UTF-8 are printed escaped; the plan itself is left as it is.
func TestTextReportEscapesHostileText(t *testing.T) {
	hostile := "jane\x1b[2J\x1b[1;32mOK\x1b[0m@corp.example.com"
	plan := &upnsync.Plan{
		Changes: upnsync.ChangesOf(upnsync.Change{UserID: "1001", UserName: "Jane\u202eeoD", Match: upnsync.MatchExternalID, Before: "jdoe", After: "jdoe;" + hostile,
			Added: []string{hostile}, Person: upnsync.Person{DN: "CN=Jane\nApplied: 999 users written,DC=corp", UPN: hostile}}),
		Conflicts: []upnsync.Conflict{{Reason: upnsync.ConflictInvalidUPN, UPN: "eve\a\xff@corp.example.com",
			Detail: "userPrincipalName cannot be written", People: []string{"CN=Eve\r,DC=corp"}}},
		Unmatched: []upnsync.Person{{DN: "CN=Bob\u2066,DC=corp", UPN: "bob\x00@corp.example.com"}},
		Skipped:   []upnsync.Skip{{DN: "CN=Tom\x7f,DC=corp", Reason: "no userPrincipalName"}},
		Read:      upnsync.ReadResult{Complete: true, Entries: 4, Pages: 1},
	}
	var out bytes.Buffer
	if err := Text(&out, plan, Meta{Mode: ModeDryRun, Directory: "ldif:x\x1b.ldif", Store: "sqlite:o.db"}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, r := range text {
		if r != '\n' && (unicode.IsControl(r) || r == unicode.ReplacementChar || r == '\u202e' || r == '\u2066') {
			t.Fatalf("the report holds %U:\n%q", r, text)
		}
	}
	for _, want := range []string{`jane\x1b[2J\x1b[1;32mOK\x1b[0m@corp.example.com`, `Jane\u202eeoD`, `CN=Jane\x0aApplied: 999 users written`,
		`eve\x07\xff@corp.example.com`, `CN=Eve\x0d,DC=corp`, `CN=Bob\u2066,DC=corp`, `bob\x00@`, `CN=Tom\x7f,DC=corp`, `ldif:x\x1b.ldif`} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\nApplied: 999") {
		t.Error("a DN added a line to the report")
	}
	if plan.Changes.At(0).Person.UPN != hostile || plan.Conflicts[0].UPN != "eve\a\xff@corp.example.com" {
		t.Error("the plan was changed")
	}
}

// A plan with nothing to escape is printed as it is: nothing in it is
// copied, and its changes, read through the escaping as they are printed,
// come out unchanged.
func TestForTerminalKeepsCleanPlans(t *testing.T) {
	plan := &upnsync.Plan{Changes: upnsync.ChangesOf(upnsync.Change{UserID: "1001", After: "jdoe;jane.doe@corp.example.com",
		Added: []string{"jane.doe@corp.example.com"}, Person: upnsync.Person{DN: "CN=Zoë Müller,DC=corp", UPN: "zoë@corp.example.com"}}),
		Conflicts: []upnsync.Conflict{{Reason: upnsync.ConflictDuplicateUPN, UPN: "zoë@corp.example.com", People: []string{"CN=Zoë,DC=corp"}}}}
	got, _ := forTerminal(plan, Meta{Directory: "ldaps://dc1"})
	if &got.Conflicts[0] != &plan.Conflicts[0] {
		t.Error("the conflicts of a clean plan were copied")
	}
	if c, want := got.Changes.At(0), plan.Changes.At(0); !reflect.DeepEqual(c, want) || &c.Added[0] != &want.Added[0] {
		t.Errorf("a clean change came out as %+v, want %+v (its lists as they are)", c, want)
	}
}

// The header's facts from the run (the NetBIOS name a directory gave, the
// mapping file's path) are escaped like the rest.
func TestForTerminalEscapesTheHeader(t *testing.T) {
	plan := &upnsync.Plan{}
	_, meta := forTerminal(plan, Meta{NetBIOS: "CORP\u202eLIVE", MappingFile: "m\x1b[2J.xml", RunID: "r\n1"})
	if meta.NetBIOS != `CORP\u202eLIVE` || meta.MappingFile != `m\x1b[2J.xml` || meta.RunID != `r\x0a1` {
		t.Errorf("header not escaped: %q %q %q", meta.NetBIOS, meta.MappingFile, meta.RunID)
	}
}
