package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

var directoryFields = regexp.MustCompile(`"(directory|directory_kind)": "[^"]*"`)

func withoutDirectory(s string) string {
	return directoryFields.ReplaceAllString(withoutTimes(s), `"$1": "-"`)
}

func exportPath(name string) string { return filepath.Join("..", "..", "testdata", "exports", name) }

// A Get-ADUser export written by Windows PowerShell 5.1 with Out-File (UTF-16
// LE with BOM, CRLF, a #TYPE line) of the demo domain gives exactly the plan
// the LDIF export of the same domain gives.
func TestPowerShell5ExportGivesTheLDIFPlan(t *testing.T) {
	d := newDemo(t)
	c1, fromLDIF, e1 := cli(t, nil, d.gnu("--report", "json")...)
	args := []string{"--config-file-path", d.mapping, "--directory", "csv:" + exportPath("get-aduser-ps5-utf16le.csv"),
		"--store", d.store, "--report", "json"}
	c2, fromCSV, e2 := cli(t, nil, args...)
	if c1 != exitPending || c2 != exitPending {
		t.Fatalf("exit codes %d and %d, want %d:\n%s\n%s", c1, c2, exitPending, e1, e2)
	}
	if withoutDirectory(fromCSV) != withoutDirectory(fromLDIF) {
		t.Errorf("plans differ:\n--- ldif\n%s\n--- csv\n%s", fromLDIF, fromCSV)
	}
	var rep struct {
		DirectoryKind string `json:"directory_kind"`
		StoreKind     string `json:"store_kind"`
		Summary       map[string]int
	}
	json.Unmarshal([]byte(fromCSV), &rep)
	if rep.DirectoryKind != "csv" || rep.StoreKind != "sqlite" || rep.Summary["changes"] != 9 {
		t.Errorf("report: %+v", rep)
	}
}

// The Entra admin center's "Download users" file of the same people: no
// sAMAccountName, DN or objectGUID (objectId is a cloud id), so people are
// matched by e-mail, or by a Windows username equal to their UPN.
func TestEntraDownloadPlan(t *testing.T) {
	d := newDemo(t)
	code, out, errOut := cli(t, nil, "--config-file-path", d.mapping, "--directory", "csv:"+exportPath("entra-download-users.csv"),
		"--store", d.store, "--report", "json")
	if code != exitPending {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep struct {
		Summary map[string]int
		Changes []struct {
			UserID string `json:"user_id"`
			Match  string
			Added  []string
		}
		Conflicts []struct {
			Reason string
			Users  []string
		}
		Unmatched []struct{ UPN string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	wantSummary := map[string]int{"read": 30, "matched": 24, "unchanged": 13, "changes": 9, "conflicts": 4, "unmatched": 3, "skipped": 0, "departed": 0, "removals": 0, "not_found": 0, "pinned_missing": 0}
	if !reflect.DeepEqual(rep.Summary, wantSummary) {
		t.Errorf("summary %v, want %v", rep.Summary, wantSummary)
	}
	var changes []string
	for _, c := range rep.Changes {
		if c.Match != "email" || len(c.Added) != 1 {
			t.Errorf("change %+v", c)
		}
		changes = append(changes, c.UserID+" "+c.Added[0])
	}
	wantChanges := []string{
		"1001 jane.doe@corp.example.com", "1003 maria.garcia@corp.example.com", "1004 ahmed.khan@corp.example.com",
		"1005 li.wei@corp.example.com", "1007 jose.muller@corp.example.com", "1008 priya.patel@corp.example.com",
		"1017 lars.holm@example.org", "1018 wang.fang@corp.example.com", "1028 sofia.rossi@corp.example.com",
	}
	if !reflect.DeepEqual(changes, wantChanges) {
		t.Errorf("changes:\n%v\nwant\n%v", changes, wantChanges)
	}
	var conflicts []string
	for _, c := range rep.Conflicts {
		conflicts = append(conflicts, c.Reason)
	}
	if want := []string{"duplicate-upn", "field-too-long", "ambiguous-match", "invalid-upn"}; !reflect.DeepEqual(conflicts, want) {
		t.Errorf("conflicts %v, want %v", conflicts, want)
	}
	if len(rep.Unmatched) != 3 || rep.Unmatched[0].UPN != "ext.one@partner.example.net" {
		t.Errorf("unmatched %+v", rep.Unmatched)
	}
}
