package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Québec office's domain is octopus-qc.ca, its NetBIOS name OCTOPUS:
// guessed from the DN it would be OCTOPUS-QC. The report's header, the
// JSON report and the log say which name was used and where it came from;
// an unmatched person listed as OCTOPUS\sam gets a hint naming that user and
// --netbios-domain; with --netbios-domain OCTOPUS both people match.
func TestNetBIOSNameAndItsSource(t *testing.T) {
	dir := t.TempDir()
	ldif := filepath.Join(dir, "qc.ldif")
	csv := filepath.Join(dir, "users.csv")
	mapping := filepath.Join(dir, "ADSIReaderLDAPMappings.xml")
	person := func(cn, sam, upn, mail string) string {
		return "dn: CN=" + cn + ",OU=Personnel,DC=octopus-qc,DC=ca\nobjectClass: user\ncn: " + cn +
			"\nsAMAccountName: " + sam + "\nuserPrincipalName: " + upn + "\nmail: " + mail + "\nuserAccountControl: 512\n\n"
	}
	putFile(t, ldif, []byte("version: 1\n\n"+
		person("Marie-Anne Tremblay", "matremblay", "marie-anne.tremblay@octopus-qc.ca", "marie-anne.tremblay@octopus-qc.ca")+
		person("Jean Gagnon", "jgagnon", "jean.gagnon@octopus-qc.ca", "jgagnon@ailleurs.example")))
	putFile(t, csv, []byte("ID;FirstName;LastName;Email;WindowsUsername;Active\r\n"+
		"1;Marie-Anne;Tremblay;marie-anne.tremblay@octopus-qc.ca;OCTOPUS\\matremblay;Oui\r\n"+
		"2;Jean;Gagnon;;OCTOPUS\\jgagnon;Oui\r\n"))
	putFile(t, mapping, getFile(t, filepath.Join("..", "..", "testdata", "demo", "ADSIReaderLDAPMappings.xml")))
	store := "sqlite:" + filepath.Join(dir, "octopus.db")
	if code, _, errOut := cli(t, nil, "store", "import", "--store", store, csv); code != 0 {
		t.Fatal(errOut)
	}
	logFile := filepath.Join(dir, "run.log")
	args := []string{"--config-file-path", mapping, "--directory", "ldif:" + ldif, "--store", store, "--log-file-path", logFile}

	type report struct {
		NetBIOS string   `json:"netbios_name"`
		Source  string   `json:"netbios_source"`
		Notes   []string `json:"notes"`
		Summary struct {
			Matched   int `json:"matched"`
			Unmatched int `json:"unmatched"`
		} `json:"summary"`
		Changes []struct {
			Match string `json:"match"`
		} `json:"changes"`
	}
	run := func(extra ...string) (report, string, string) {
		t.Helper()
		code, out, errOut := cli(t, nil, append(append(args, "--report", "json"), extra...)...)
		if code != exitPending {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var r report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r, out, errOut
	}
	hint := `unmatched CN=Jean Gagnon,OU=Personnel,DC=octopus-qc,DC=ca (read with NetBIOS name OCTOPUS-QC): user 2 (Jean Gagnon) lists OCTOPUS\jgagnon; if OCTOPUS is the domain's NetBIOS name, run with --netbios-domain OCTOPUS`
	r, _, errOut := run()
	if r.NetBIOS != "OCTOPUS-QC" || r.Source != "dn" || r.Summary.Matched != 1 || r.Summary.Unmatched != 1 ||
		len(r.Notes) != 1 || !strings.HasPrefix(r.Notes[0], hint) {
		t.Errorf("guessed: %+v", r)
	}
	if !strings.Contains(errOut, "warning: "+hint) {
		t.Errorf("no warning on standard error:\n%s", errOut)
	}
	log, _ := os.ReadFile(logFile)
	if !strings.Contains(string(log), `msg="NetBIOS domain names of the people read" names=OCTOPUS-QC source="OCTOPUS-QC (guessed from the DN's first DC= label`) {
		t.Errorf("log lacks the NetBIOS name and its source:\n%s", log)
	}
	_, text, _ := cli(t, nil, args...)
	if !strings.Contains(text, hint) {
		t.Errorf("text report lacks the hint:\n%s", text)
	}

	r, _, _ = run("/NetbiosDomain:OCTOPUS")
	if r.NetBIOS != "OCTOPUS" || r.Source != "option" || r.Summary.Matched != 2 || len(r.Notes) != 0 ||
		len(r.Changes) != 2 || r.Changes[0].Match != "windows-username" || r.Changes[1].Match != "windows-username" {
		t.Errorf("with --netbios-domain: %+v", r)
	}
}
