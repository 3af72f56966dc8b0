package main

// Issue 13 against the real Samba AD DC of scripts/testdirs.sh, with the
// least-privilege reader it provisions (svc-upnsync-reader, denied Read on
// one OU by a deny ACE): people the account cannot see are never removed,
// a read that drops or reads nobody stops, a narrowed scope holds removals
// until --force, and an ExternalIdentifier in any usual form matches (in
// the wrong byte order it says what to store). Each test has its own
// store; the directory is only read.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

type evReport struct {
	Mode     string
	Complete bool
	Stopped  string
	Summary  map[string]int
	Read     struct {
		Entries int
		Bases   []struct {
			Base    string
			Entries int
		}
	}
	Changes []struct {
		UserID   string `json:"user_id"`
		Match    string
		DN       string
		After    string
		Added    []string
		Removed  []string
		Departed string
	}
	Conflicts []struct {
		Reason, UPN, Detail string
		Users, People       []string
	}
	Departures []struct {
		GUID, Reason, DN, Detail, Kept string
		Removed                        bool
		Entries                        []struct {
			UserID string `json:"user_id"`
			Entry  string
		}
	}
	Guards []struct {
		Guard   string
		Count   int
		Message string
	}
	Notes         []string
	PinnedMissing []struct {
		UserID     string `json:"user_id"`
		ExternalID string `json:"external_id"`
		Match      string
		DN, GUID   string
	} `json:"pinned_missing"`
}

func evParse(t *testing.T, out, errOut string) evReport {
	t.Helper()
	noStack(t, out, errOut)
	var r evReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, out, errOut)
	}
	return r
}

func newReaderEnv(t *testing.T) sambaEnv {
	t.Helper()
	return sambaEnv{SambaEnv: testenv.SambaReader(t), dir: t.TempDir()}
}

// readerArgs are a sync's arguments as the least-privilege reader.
func (e sambaEnv) readerArgs(db string, extra ...string) []string {
	a := e.args(db, "ldaps", extra...)
	for i := range a {
		switch a[i] {
		case "--login":
			a[i+1] = e.ReaderDN
		case "--password-file":
			a[i+1] = e.ReaderPasswordFile
		}
	}
	return a
}

func under(dn, base string) bool {
	d, err1 := ldap.ParseDN(dn)
	b, err2 := ldap.ParseDN(base)
	return err1 == nil && err2 == nil && b.AncestorOfFold(d)
}

// The incident of issue 13: the Administrator's apply added UPNs for
// everyone; the least-privilege reader, denied Read on one OU, reads
// 143 people fewer. Their entries are kept, each departure is not-found
// with what to check, and the run says so; nothing in the store changes.
func TestSambaReaderDenyACEKeepsEntries(t *testing.T) {
	e := newReaderEnv(t)
	db := e.store(t, "deny")
	code, out, errOut := cli(t, nil, e.args(db, "ldaps", "--domain", e.Base, "--apply")...)
	admin := evParse(t, out, errOut)
	if code != exitOK && code != exitConflicts || !admin.Complete {
		t.Fatalf("the Administrator's apply: exit %d\n%s", code, errOut)
	}
	hidden := map[string]bool{} // Octopus users given a UPN for someone behind the deny ACE
	for _, c := range admin.Changes {
		if under(c.DN, e.DeniedOU) && len(c.Added) > 0 {
			hidden[c.UserID] = true
		}
	}
	if len(hidden) < 3 {
		t.Fatalf("only %d UPNs added for people in %s: the test needs some", len(hidden), e.DeniedOU)
	}
	before := allFields(t, db)

	// As the reader, with --remove-departed --apply: 143 of about 3,000
	// people are hidden, under the default --max-read-drop of 5%; other
	// tests add and delete their own users under the domain meanwhile, so
	// the margin is 10% here (TestSambaReadDropStops tests the guard).
	code, out, errOut = cli(t, nil, e.readerArgs(db, "--domain", e.Base, "--remove-departed", "--apply", "--max-read-drop", "10")...)
	r := evParse(t, out, errOut)
	if code != exitOK && code != exitConflicts || r.Stopped != "" || !r.Complete {
		t.Fatalf("the reader's apply: exit %d, stopped %q\n%s", code, r.Stopped, errOut)
	}
	if r.Summary["removals"] != 0 || r.Summary["not_found"] < len(hidden) {
		t.Fatalf("summary %v: want no removal and at least %d not found", r.Summary, len(hidden))
	}
	if got := r.Read.Entries; admin.Read.Entries-got < 143 {
		t.Fatalf("the reader read %d people, the Administrator %d: the deny ACE hides 143", got, admin.Read.Entries)
	}
	notFound := map[string]bool{}
	for _, d := range r.Departures {
		for _, en := range d.Entries {
			if !hidden[en.UserID] {
				continue
			}
			if d.Reason != string(upnsync.DepartedNotFound) || d.Removed || !strings.Contains(d.Kept, "no evidence that they left") ||
				!strings.Contains(d.Detail, "visible to the account upnsync binds as ("+e.ReaderDN+")") || !strings.Contains(d.Detail, "may not read it") {
				t.Fatalf("departure of user %s: %+v", en.UserID, d)
			}
			notFound[en.UserID] = true
		}
	}
	if len(notFound) != len(hidden) {
		t.Fatalf("%d of the %d hidden people listed as not-found departures", len(notFound), len(hidden))
	}
	after := allFields(t, db)
	for id := range hidden {
		if after[id] != before[id] {
			t.Errorf("user %s: %q became %q", id, before[id], after[id])
		}
	}
	if !strings.Contains(errOut, "not found in the directory (not visible to the account upnsync binds as, or deleted and purged); their entries are kept") ||
		!slicesContain(r.Notes, "their entries are kept") {
		t.Errorf("the log and the report do not say why:\n%s\nnotes %q", errOut, r.Notes)
	}

	// The text report lists them with what to check.
	code, out, _ = cli(t, nil, append(e.readerArgs(db, "--domain", e.Base, "--remove-departed", "--max-read-drop", "10"), "--report", "text")...)
	if code == exitError || code == exitGuard || !strings.Contains(out, ": not-found (no object with this objectGUID") ||
		!strings.Contains(out, "kept: not finding a person is no evidence that they left") || !strings.Contains(out, ", not found ") {
		t.Fatalf("text report: exit %d\n%s", code, out)
	}
}

func slicesContain(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

// G7: a base that gives more than 5% fewer people than the last complete
// read of it stops the run before it writes, naming the base and both
// counts; --force lets one run through and makes its read the new
// reference.
func TestSambaReadDropStops(t *testing.T) {
	e := newReaderEnv(t)
	db := e.store(t, "drop")
	berlin := "OU=Berlin,OU=People," + e.Base
	code, out, errOut := cli(t, nil, e.args(db, "ldaps", "--domain", berlin, "--apply")...)
	admin := evParse(t, out, errOut)
	if code != exitOK && code != exitConflicts {
		t.Fatalf("the Administrator's apply: exit %d\n%s", code, errOut)
	}
	before := allFields(t, db)
	code, out, errOut = cli(t, nil, e.readerArgs(db, "--domain", berlin, "--apply")...)
	r := evParse(t, out, errOut)
	n, was := r.Read.Entries, admin.Read.Entries
	want := fmt.Sprintf("base %s gave %d people, %d (", berlin, n, was-n)
	if code != exitGuard || len(r.Guards) != 1 || r.Guards[0].Guard != upnsync.GuardMaxReadDrop || r.Guards[0].Count != was-n ||
		!strings.Contains(r.Guards[0].Message, want) || !strings.Contains(r.Guards[0].Message, fmt.Sprintf("fewer than the %d of the last complete read", was)) ||
		!strings.Contains(errOut, "stopped by a safety guard: nothing written: "+want) {
		t.Fatalf("exit %d, guards %+v (want %q)\n%s", code, r.Guards, want, errOut)
	}
	if got := allFields(t, db); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatal("a stopped run wrote to the store")
	}
	// --force: once, and its read is the reference from then on.
	if code, out, errOut = cli(t, nil, e.readerArgs(db, "--domain", berlin, "--apply", "--force")...); code == exitGuard || code == exitError {
		t.Fatalf("--force: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = cli(t, nil, e.readerArgs(db, "--domain", berlin)...); code == exitGuard || code == exitError {
		t.Fatalf("after --force: exit %d\n%s\n%s", code, out, errOut)
	}
}

// G8: a filter that selects nobody is exit 3 naming the base and the
// filter, --force or not; --allow-empty-read accepts it. doctor names the
// part of the selection that leaves the base empty.
func TestSambaEmptyReadStops(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "empty")
	berlin := "OU=Berlin,OU=People," + e.Base
	group := "(memberOf=CN=No Such Group,OU=Groups," + e.Base + ")"
	before := allFields(t, db)
	for _, extra := range [][]string{{"--apply"}, {"--apply", "--remove-departed", "--force"}} {
		code, out, errOut := cli(t, nil, e.args(db, "ldaps", append([]string{"--domain", berlin, "--filter", group}, extra...)...)...)
		r := evParse(t, out, errOut)
		if code != exitGuard || len(r.Guards) == 0 || r.Guards[0].Guard != upnsync.GuardEmptyRead ||
			!strings.Contains(r.Stopped, "the read found no one (base "+berlin+", filter (&"+directory.DefaultUserFilter+group+")) while the store has ") ||
			!strings.Contains(r.Stopped, "--allow-empty-read") {
			t.Fatalf("%v: exit %d, stopped %q\n%s", extra, code, r.Stopped, errOut)
		}
	}
	if got := allFields(t, db); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatal("a stopped run wrote to the store")
	}
	if code, out, errOut := cli(t, nil, e.args(db, "ldaps", "--domain", berlin, "--filter", group, "--allow-empty-read")...); code != exitOK {
		t.Fatalf("--allow-empty-read: exit %d\n%s\n%s", code, out, errOut)
	}

	doctor := func(extra ...string) string {
		t.Helper()
		args := append([]string{"doctor", "--config-file-path", "../../testdata/mapping/ADSIReaderLDAPMappings-upn.xml",
			"--login", e.BindDN, "--password-file", e.PasswordFile, "--ca-file", e.CAFile, "--directory", e.LDAPSURL,
			"--store", "sqlite:" + db}, extra...)
		_, out, errOut := cli(t, nil, args...)
		noStack(t, out, errOut)
		return out
	}
	if out := doctor("--domain", berlin, "--filter", group); !strings.Contains(out, "WARN  base") ||
		!strings.Contains(out, berlin+": --filter "+group+" selects nobody: the user filter alone selects ") {
		t.Errorf("doctor with the filter:\n%s", out)
	}
	if out := doctor("--domain", berlin, "--user-filter", "(&(objectClass=user)(sn=No Such Name))"); !strings.Contains(out,
		berlin+": --user-filter (&(objectClass=user)(sn=No Such Name)) selects nobody: AD's own filter "+directory.DefaultUserFilter+" selects ") {
		t.Errorf("doctor with the user filter:\n%s", out)
	}
	if out := doctor("--domain", "OU=Domain Controllers,"+e.Base); !strings.Contains(out, "OU=Domain Controllers,"+e.Base+" exists but holds no user") {
		t.Errorf("doctor with a base without users:\n%s", out)
	}
}

// D3: with --remove-departed, a narrower --domain than the last complete
// run's plans no removal, and says so, until --force confirms the new
// scope once; then the next run needs nothing.
func TestSambaNarrowedScopeHoldsRemovals(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "scope")
	berlin, sales := "OU=Berlin,OU=People,"+e.Base, "OU=Sales,OU=Berlin,OU=People,"+e.Base
	if code, _, errOut := cli(t, nil, e.args(db, "ldaps", "--domain", berlin, "--apply")...); code != exitOK && code != exitConflicts {
		t.Fatalf("apply on %s: exit %d\n%s", berlin, code, errOut)
	}
	before := allFields(t, db)
	code, out, errOut := cli(t, nil, e.args(db, "ldaps", "--domain", sales, "--remove-departed", "--apply")...)
	r := evParse(t, out, errOut)
	moved := 0
	for _, d := range r.Departures {
		if d.Reason == string(upnsync.DepartedMoved) {
			moved++
		}
		if d.Removed || len(d.Entries) > 0 && !strings.Contains(d.Kept, "the scope changed since the last complete run") {
			t.Fatalf("departure %+v", d)
		}
	}
	hold := "No removal planned: the scope changed since the last complete run"
	if code == exitGuard || code == exitError || moved < 10 || r.Summary["removals"] != 0 || !slicesContain(r.Notes, hold) ||
		!strings.Contains(errOut, "no removal planned: the scope changed since the last complete run") ||
		!slicesContain(r.Notes, "(base "+berlin+", filter "+directory.DefaultUserFilter+"; now base "+sales) {
		t.Fatalf("narrowed: exit %d, %d moved, summary %v, notes %q\n%s", code, moved, r.Summary, r.Notes, errOut)
	}
	for id, v := range allFields(t, db) {
		if v != before[id] && strings.Count(v, ";") < strings.Count(before[id], ";") {
			t.Fatalf("user %s lost an entry while removals were held: %q -> %q", id, before[id], v)
		}
	}
	// A dry run with --force would remove them, and says so.
	code, out, errOut = cli(t, nil, append(e.args(db, "ldaps", "--domain", sales, "--remove-departed", "--force"), "--report", "text")...)
	if code != exitPending || !strings.Contains(out, "would remove: ") || !strings.Contains(out, "would be removed") ||
		strings.Contains(out, "removed:  ") || !strings.Contains(out, "--force confirms the new scope") {
		t.Fatalf("--force dry run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, nil, e.args(db, "ldaps", "--domain", sales, "--remove-departed", "--force", "--apply")...)
	if r = evParse(t, out, errOut); code == exitGuard || code == exitError || r.Summary["removals"] < 10 {
		t.Fatalf("--force --apply: exit %d, summary %v\n%s", code, r.Summary, errOut)
	}
	// Confirmed: the next run holds nothing back and has nothing left.
	code, out, errOut = cli(t, nil, e.args(db, "ldaps", "--domain", sales, "--remove-departed")...)
	if r = evParse(t, out, errOut); code == exitGuard || code == exitError || r.Summary["removals"] != 0 || slicesContain(r.Notes, hold) {
		t.Fatalf("after the confirmation: exit %d, summary %v, notes %q", code, r.Summary, r.Notes)
	}
}

// M1 and C8: an ExternalIdentifier in braces and capitals, without
// dashes or in base64 (as ldapsearch prints objectGUID) matches; in the
// wrong byte order it is a conflict that names the value to store. M7:
// a user pinned to an objectGUID nobody has is listed with the person
// who would match it by name.
func TestSambaExternalIDForms(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "forms")
	berlin := "OU=Berlin,OU=People," + e.Base
	dbc := openDB(t, db)
	// Five people whom the export gives an Octopus user pinned by their
	// objectGUID: not everyone has one (the generated export leaves some
	// out, or without an ExternalIdentifier), and which people come first
	// depends on the GUIDs this provisioning made.
	var people []sambaPerson
	ids := make([]string, 0, 5)
	for _, p := range sambaPeople(t, e, "OU=Engineering,"+berlin, 60) {
		var id string
		if dbc.QueryRow(`SELECT id FROM users WHERE external_id = ?`, p.GUID).Scan(&id) == nil && len(people) < 5 {
			people, ids = append(people, p), append(ids, id)
		}
	}
	if len(people) < 5 {
		t.Fatalf("only %d of 60 people under OU=Engineering,%s have an Octopus user pinned by their objectGUID", len(people), berlin)
	}
	set := func(id, ext, windows string) {
		t.Helper()
		if _, err := dbc.Exec(`UPDATE users SET external_id = ?, windows_usernames = ? WHERE id = ?`, ext, windows, id); err != nil {
			t.Fatal(err)
		}
	}
	forms := []string{"{" + strings.ToUpper(people[0].GUID) + "}", strings.ReplaceAll(people[1].GUID, "-", ""), guidBase64(t, people[2].GUID)}
	for i, f := range forms {
		set(ids[i], f, "nobody-"+ids[i]) // a name that matches no one: only M1 can match
	}
	swapped := upnsync.SwappedGUID(people[3].GUID)
	set(ids[3], swapped, people[3].SAMAccountName)
	missing := "0badc0de-1313-4000-8000-000000000013"
	set(ids[4], missing, people[4].SAMAccountName)

	code, out, errOut := cli(t, nil, e.args(db, "ldaps", "--domain", berlin)...)
	r := evParse(t, out, errOut)
	if code == exitError || code == exitGuard {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for i := range forms {
		found := false
		for _, c := range r.Changes {
			if c.UserID == ids[i] {
				found = c.Match == string(upnsync.MatchExternalID) && strings.EqualFold(c.DN, people[i].DN)
			}
		}
		if !found {
			t.Errorf("ExternalIdentifier %q (user %s) did not match %s by external-id", forms[i], ids[i], people[i].DN)
		}
	}
	var conflict bool
	for _, c := range r.Conflicts {
		if c.Reason == upnsync.ConflictExternalIDByteOrder {
			conflict = len(c.Users) == 1 && c.Users[0] == ids[3] && strings.Contains(c.Detail, "the ExternalIdentifier "+swapped+" of Octopus user "+ids[3]) &&
				strings.Contains(c.Detail, "store "+people[3].GUID+" there instead")
		}
	}
	if !conflict {
		t.Errorf("no byte-order conflict for user %s with %s: %+v", ids[3], swapped, r.Conflicts)
	}
	var pinned bool
	for _, pn := range r.PinnedMissing {
		if pn.UserID == ids[3] {
			t.Errorf("user %s, in the wrong byte order, is listed as pinned to a missing object", ids[3])
		}
		if pn.UserID == ids[4] {
			pinned = pn.ExternalID == missing && pn.Match == string(upnsync.MatchWindowsUsername) && strings.EqualFold(pn.DN, people[4].DN) && pn.GUID == people[4].GUID
		}
	}
	if !pinned || r.Summary["pinned_missing"] < 1 {
		t.Errorf("user %s pinned to %s not listed with %s: %d listed", ids[4], missing, people[4].DN, len(r.PinnedMissing))
	}
}

type sambaPerson struct{ GUID, DN, SAMAccountName string }

// sambaPeople reads n enabled people with a UPN under base, as the
// Administrator.
func sambaPeople(t *testing.T, e sambaEnv, base string, n int) []sambaPerson {
	t.Helper()
	conn := e.adminConn(t)
	defer conn.Close()
	sr, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&"+directory.DefaultUserFilter+"(userPrincipalName=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))",
		[]string{"objectGUID", "sAMAccountName"}, nil))
	if err != nil || len(sr.Entries) < n {
		t.Fatalf("reading people under %s: %v", base, err)
	}
	var out []sambaPerson
	for _, en := range sr.Entries[:n] {
		g, err := directory.GUIDString(en.GetRawAttributeValue("objectGUID"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sambaPerson{GUID: g, DN: en.DN, SAMAccountName: en.GetAttributeValue("sAMAccountName")})
	}
	return out
}

// guidBase64 is a GUID as ldapsearch prints objectGUID: the base64 of its
// 16 bytes as the directory holds them.
func guidBase64(t *testing.T, guid string) string {
	t.Helper()
	raw, err := directory.GUIDBytes(guid)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}
