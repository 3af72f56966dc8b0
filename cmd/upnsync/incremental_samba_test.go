package main

// --incremental and --dirsync against the real Samba AD DC of
// scripts/testdirs.sh. Each test makes its own OU with its own users (the
// DC is shared by the whole suite) and deletes it afterwards.

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	_ "modernc.org/sqlite"

	"github.com/upnsync/upnsync/internal/faultproxy"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// incEnv is one test's OU in the Samba domain, its people and its store.
type incEnv struct {
	sambaEnv
	admin *ldap.Conn
	ou    string
	tag   string
	db    string
	guids map[string]string // by cn
}

func newIncEnv(t *testing.T, people ...string) *incEnv {
	t.Helper()
	e := &incEnv{sambaEnv: newSambaEnv(t), guids: map[string]string{}}
	conn := e.adminConn(t)
	e.admin = conn
	var b [4]byte
	_, _ = rand.Read(b[:])
	// "scratch-": other packages' tests, which run at the same time
	// against the same DC, leave such OUs out of what they compare.
	e.tag = "scratch-inc" + hex.EncodeToString(b[:])
	e.ou = "OU=" + e.tag + "," + e.Base
	add := ldap.NewAddRequest(e.ou, nil)
	add.Attribute("objectClass", []string{"organizationalUnit"})
	if err := conn.Add(add); err != nil {
		t.Fatalf("creating %s: %v", e.ou, err)
	}
	t.Cleanup(func() {
		sr, err := conn.Search(ldap.NewSearchRequest(e.ou, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"1.1"}, nil))
		if err == nil {
			for _, en := range sr.Entries {
				_ = conn.Del(ldap.NewDelRequest(en.DN, nil))
			}
		}
		if err := conn.Del(ldap.NewDelRequest(e.ou, nil)); err != nil {
			t.Logf("cleaning up %s: %v", e.ou, err)
		}
		conn.Close()
	})
	var csv strings.Builder
	csv.WriteString("ID,FirstName,LastName,Email,WindowsUsername,ExternalIdentifier,Active\n")
	for i, cn := range people {
		e.addUser(t, cn)
		fmt.Fprintf(&csv, "%s-%d,%s,Test,,%s,%s,true\n", e.tag, i, cn, "manual-"+cn, e.guids[cn])
	}
	e.db = filepath.Join(e.dir, "store.db")
	csvPath := filepath.Join(e.dir, "users.csv")
	if err := os.WriteFile(csvPath, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cli(t, nil, "store", "import", "--store", "sqlite:"+e.db, csvPath); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	return e
}

func (e *incEnv) dn(cn string) string { return "CN=" + cn + "," + e.ou }

func (e *incEnv) upn(cn, suffix string) string { return cn + suffix + "@" + strings.ToLower(e.Realm) }

func (e *incEnv) addUser(t *testing.T, cn string) {
	t.Helper()
	add := ldap.NewAddRequest(e.dn(cn), nil)
	add.Attribute("objectClass", []string{"user"})
	add.Attribute("sAMAccountName", []string{cn})
	add.Attribute("userPrincipalName", []string{e.upn(cn, "")})
	add.Attribute("userAccountControl", []string{"544"})
	if err := e.admin.Add(add); err != nil {
		t.Fatalf("adding %s: %v", cn, err)
	}
	sr, err := e.admin.Search(ldap.NewSearchRequest(e.dn(cn), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"objectGUID"}, nil))
	if err != nil || len(sr.Entries) != 1 {
		t.Fatalf("reading %s: %v", cn, err)
	}
	g, err := directory.GUIDString(sr.Entries[0].GetRawAttributeValue("objectGUID"))
	if err != nil {
		t.Fatal(err)
	}
	e.guids[cn] = g
}

func (e *incEnv) setUPN(t *testing.T, cn, upn string) {
	t.Helper()
	m := ldap.NewModifyRequest(e.dn(cn), nil)
	m.Replace("userPrincipalName", []string{upn})
	if err := e.admin.Modify(m); err != nil {
		t.Fatalf("changing the UPN of %s: %v", cn, err)
	}
}

// run syncs this OU against url (default the DC over ldaps://).
func (e *incEnv) run(t *testing.T, url string, extra ...string) (int, incReport, string) {
	t.Helper()
	if url == "" {
		url = e.LDAPSURL
	}
	args := append([]string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--login", e.BindDN, "--password-file", e.PasswordFile, "--ca-file", e.CAFile, "--directory", url,
		"--store", "sqlite:" + e.db, "--report", "json", "--domain", e.ou, "--retries", "0"}, extra...)
	code, out, errOut := cli(t, nil, args...)
	noStack(t, out, errOut)
	var r incReport
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("report: %v\n%s\n%s", err, out, errOut)
		}
	}
	return code, r, errOut
}

type incReport struct {
	Complete  bool
	Summary   struct{ Read, Changes, Conflicts int }
	Conflicts []struct {
		Reason, UPN, Detail string
		People              []string
	}
	Read struct {
		Entries    int
		Partial    bool
		Tombstones int
	}
	ReadMode *upnsync.ReadMode `json:"read_mode"`
	Changes  []struct {
		UserID        string `json:"user_id"`
		Before, After string
		Replaced      []upnsync.Replacement
		Removed       []string
	}
	Departures []struct {
		GUID, Reason string
		Removed      bool
	}
}

// state is the saved watermark of a --directory URL.
func (e *incEnv) state(t *testing.T, mode, url string) (string, map[string]any) {
	t.Helper()
	db, err := sql.Open("sqlite", e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := "sync-state:" + mode + ":" + strings.ToLower(url)
	var v string
	if err := db.QueryRow(`SELECT value FROM upnsync_meta WHERE key = ?`, key).Scan(&v); err != nil {
		return "", nil
	}
	m := map[string]any{}
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		t.Fatal(err)
	}
	return v, m
}

func (e *incEnv) setState(t *testing.T, mode, url, value string) {
	t.Helper()
	db, err := sql.Open("sqlite", e.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE upnsync_meta SET value = ? WHERE key = ?`, value, "sync-state:"+mode+":"+strings.ToLower(url)); err != nil {
		t.Fatal(err)
	}
}

// A full run; one user's UPN changed; an incremental run reads only that
// user and replaces the entry; a dry run does not advance the watermark;
// a simulated invocationId change falls back to a full read with the
// reason.
func TestSambaIncremental(t *testing.T) {
	e := newIncEnv(t, "ann", "bob", "cid")

	code, r, errOut := e.run(t, "", "--incremental", "--apply")
	if code != exitOK || r.ReadMode == nil || r.ReadMode.Mode != upnsync.ReadFull || !strings.Contains(r.ReadMode.FullReason, "no watermark") ||
		!r.ReadMode.Advanced || r.Summary.Read != 3 || r.Summary.Changes != 3 || r.Read.Partial {
		t.Fatalf("first run: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	_, st := e.state(t, "incremental", e.LDAPSURL)
	if st == nil || st["dns_host_name"] != strings.ToLower(e.Host) || st["invocation_id"] == "" {
		t.Fatalf("saved state %v (host %s)", st, e.Host)
	}
	usn1 := st["highest_committed_usn"].(float64)

	// Nothing changed: an incremental run reads nobody.
	code, r, errOut = e.run(t, "", "--incremental", "--apply")
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadIncremental || r.Summary.Read != 0 || !r.Read.Partial || !r.ReadMode.Advanced {
		t.Fatalf("idle incremental: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}

	e.setUPN(t, "bob", e.upn("bob", ".new"))
	// A dry run sees the change and does not consume it.
	_, before := e.state(t, "incremental", e.LDAPSURL)
	code, r, errOut = e.run(t, "", "--incremental")
	if code != exitPending || r.ReadMode.Mode != upnsync.ReadIncremental || r.Summary.Read != 1 || r.ReadMode.Advanced ||
		!strings.Contains(r.ReadMode.NotAdvanced, "dry run") {
		t.Fatalf("dry run: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	if _, after := e.state(t, "incremental", e.LDAPSURL); after["highest_committed_usn"] != before["highest_committed_usn"] {
		t.Fatalf("the dry run advanced the watermark: %v -> %v", before, after)
	}
	code, r, errOut = e.run(t, "", "--incremental", "--apply")
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadIncremental || r.Summary.Read != 1 || len(r.Changes) != 1 ||
		len(r.Changes[0].Replaced) != 1 || r.Changes[0].Replaced[0].Old != e.upn("bob", "") || r.Changes[0].Replaced[0].New != e.upn("bob", ".new") ||
		r.Changes[0].After != "manual-bob;"+e.upn("bob", ".new") || len(r.Departures) != 0 {
		t.Fatalf("incremental apply: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	if !strings.Contains(r.ReadMode.From, fmt.Sprintf("USN %d", int64(usn1))) {
		t.Errorf("from = %q, want the first run's USN %d", r.ReadMode.From, int64(usn1))
	}

	// The DC's database restored: another invocationId.
	raw, st := e.state(t, "incremental", e.LDAPSURL)
	e.setState(t, "incremental", e.LDAPSURL, strings.Replace(raw, st["invocation_id"].(string), "00000000-0000-0000-0000-000000000001", 1))
	code, r, errOut = e.run(t, "", "--incremental", "--apply")
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadFull || !strings.Contains(r.ReadMode.FullReason, "invocationId") ||
		r.Summary.Read != 3 || r.Read.Partial || !r.ReadMode.Advanced {
		t.Fatalf("after the invocationId change: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	if !strings.Contains(errOut, "reading in full instead of only what changed: the invocationId") {
		t.Errorf("the log does not say why the read was full:\n%s", errOut)
	}

	// Another filter: full, saying so.
	code, r, _ = e.run(t, "", "--incremental", "--user-filter", "(&(objectCategory=person)(objectClass=user)(sAMAccountName=*))")
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadFull || !strings.Contains(r.ReadMode.FullReason, "user filter changed") {
		t.Fatalf("after a filter change: exit %d %+v", code, r.ReadMode)
	}
	// --full-every.
	code, r, _ = e.run(t, "", "--incremental", "--full-every", "1ns")
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadFull || !strings.Contains(r.ReadMode.FullReason, "--full-every") {
		t.Fatalf("--full-every: exit %d %+v", code, r.ReadMode)
	}

	// The text report and the run summary say the same, in the Windows
	// spelling of the options.
	e.setUPN(t, "cid", e.upn("cid", ".new"))
	summary := filepath.Join(e.dir, "summary.json")
	code, out, errOut := cli(t, nil, "/ConfigFilePath:"+filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"/Login:"+e.BindDN, "/PasswordFile:"+e.PasswordFile, "/CAFile:"+e.CAFile, "/Directory:"+e.LDAPSURL,
		"/Store:sqlite:"+e.db, "/Domain:"+e.ou, "/Incremental", "/FullEvery:1h", "/Apply", "/SummaryFile:"+summary)
	if code != exitOK || !regexp.MustCompile(`(?m)^Read mode: incremental, only what changed after `+regexp.QuoteMeta(strings.ToLower(e.Host))+
		` USN \d+ \(invocationId [0-9a-f-]{36}\) up to .*; watermark advanced$`).MatchString(out) ||
		!strings.Contains(out, "complete delta: 1 entry changed") {
		t.Fatalf("text report: exit %d\n%s\n%s", code, out, errOut)
	}
	data, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		ReadMode *upnsync.ReadMode `json:"read_mode"`
		Summary  struct{ Read int }
	}
	if err := json.Unmarshal(data, &sum); err != nil || sum.ReadMode == nil || sum.ReadMode.Mode != upnsync.ReadIncremental ||
		!sum.ReadMode.Advanced || sum.ReadMode.From == "" || sum.Summary.Read != 1 {
		t.Fatalf("summary: %v %s", err, data)
	}
}

// Conflicts left open follow the exit-code table on every delta: the
// people involved are not read again while they do not change, so the
// conflicts are carried with the watermark (exit 4, each saying since
// when) until a delta reads the person again and it is settled.
func TestSambaIncrementalConflictsStayExit4(t *testing.T) {
	e := newIncEnv(t, "ann", "bob")
	// "manual-ann;ann@corp.example.com" is 31 characters: over 30.
	opts := []string{"--incremental", "--apply", "--max-length", "30"}
	code, r, errOut := e.run(t, "", opts...)
	if code != exitConflicts || r.ReadMode.Mode != upnsync.ReadFull || r.Summary.Conflicts != 2 || !r.ReadMode.Advanced {
		t.Fatalf("first run: exit %d %+v %+v\n%s", code, r.Summary, r.ReadMode, errOut)
	}
	for i := 0; i < 2; i++ {
		code, r, errOut = e.run(t, "", opts...)
		if code != exitConflicts || r.ReadMode.Mode != upnsync.ReadIncremental || r.Summary.Read != 0 || r.Summary.Conflicts != 2 ||
			len(r.Conflicts) != 2 || !strings.Contains(r.Conflicts[0].Detail, "(open since ") || !r.ReadMode.Advanced {
			t.Fatalf("idle delta %d: exit %d %+v %+v\n%s", i, code, r.Summary, r.Conflicts, errOut)
		}
	}
	// A dry run says so too.
	if code, r, _ = e.run(t, "", "--incremental", "--max-length", "30"); code != exitConflicts || r.Summary.Conflicts != 2 {
		t.Fatalf("dry run: exit %d %+v", code, r.Summary)
	}
	// ann's UPN shortened: the delta reads ann, whose UPN now fits; bob's
	// conflict stays.
	e.setUPN(t, "ann", e.upn("an", ""))
	code, r, errOut = e.run(t, "", opts...)
	if code != exitConflicts || r.ReadMode.Mode != upnsync.ReadIncremental || r.Summary.Read != 1 || r.Summary.Changes != 1 ||
		len(r.Conflicts) != 1 || !strings.EqualFold(r.Conflicts[0].People[0], e.dn("bob")) {
		t.Fatalf("after ann's change: exit %d %+v %+v\n%s", code, r.Summary, r.Conflicts, errOut)
	}
}

// A run cut off in the middle of its incremental read (the connection to
// the DC dropped) fails and keeps the watermark: the next run reads the
// same changes.
func TestSambaIncrementalInterrupted(t *testing.T) {
	e := newIncEnv(t, "dan", "eve", "fay")
	target := hostOf(t, e.LDAPSURL)
	if _, _, err := net.SplitHostPort(target); err != nil {
		target = net.JoinHostPort(target, "636")
	}
	p, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	url := p.URL("ldaps")
	if code, r, errOut := e.run(t, url, "--incremental", "--apply"); code != exitOK || !r.ReadMode.Advanced {
		t.Fatalf("first run: exit %d %+v\n%s", code, r.ReadMode, errOut)
	}
	for _, cn := range []string{"dan", "eve", "fay"} {
		e.setUPN(t, cn, e.upn(cn, ".x"))
	}
	// A clean dry run through the proxy: how many bytes the delta carries.
	code, r, errOut := e.run(t, url, "--incremental", "--page-size", "1")
	if code != exitPending || r.Summary.Read != 3 {
		t.Fatalf("dry run: exit %d %+v\n%s", code, r, errOut)
	}
	stats := p.Stats()
	clean := stats[len(stats)-1]
	saved, _ := e.state(t, "incremental", url)

	p.Always(faultproxy.Fault{Action: faultproxy.Drop, AfterBytes: clean.ServerBytes - 150})
	code, r, errOut = e.run(t, url, "--incremental", "--apply", "--page-size", "1")
	if code != exitError || r.Complete || !strings.Contains(errOut, "the read is incomplete") {
		t.Fatalf("interrupted run: exit %d %+v\n%s", code, r, errOut)
	}
	if now, _ := e.state(t, "incremental", url); now != saved {
		t.Fatalf("the interrupted run changed the watermark:\n%s\n%s", saved, now)
	}
	p.Always(faultproxy.Fault{Action: faultproxy.Pass})
	code, r, errOut = e.run(t, url, "--incremental", "--apply", "--page-size", "1")
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadIncremental || r.Summary.Read != 3 || r.Summary.Changes != 3 || !r.ReadMode.Advanced {
		t.Fatalf("run after the interrupted one: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
}

// DirSync: the first run reads in full and takes the cookie; a deleted
// user comes back as a tombstone, classified deleted, and with
// --remove-departed its entry goes.
func TestSambaDirSyncTombstone(t *testing.T) {
	e := newIncEnv(t, "gus", "hal")
	code, r, errOut := e.run(t, "", "--dirsync", "--apply", "--remove-departed")
	if code != exitOK || r.ReadMode == nil || r.ReadMode.Mode != upnsync.ReadFull || r.Summary.Read != 2 || !r.ReadMode.Advanced {
		t.Fatalf("first run: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	e.setUPN(t, "gus", e.upn("gus", ".2"))
	if err := e.admin.Del(ldap.NewDelRequest(e.dn("hal"), nil)); err != nil {
		t.Fatal(err)
	}
	// One of two users leaves: the removal guard stops the run, and the
	// cookie stays where it was.
	code, r, errOut = e.run(t, "", "--dirsync", "--apply", "--remove-departed")
	if code != exitGuard || r.ReadMode.Advanced || !strings.Contains(r.ReadMode.NotAdvanced, "safety guard") || r.Read.Tombstones != 1 {
		t.Fatalf("guarded dirsync run: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	code, r, errOut = e.run(t, "", "--dirsync", "--apply", "--remove-departed", "--max-removal-percent", "off")
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadDirSync || !r.Read.Partial || r.Read.Tombstones != 1 || !r.ReadMode.Advanced {
		t.Fatalf("dirsync run: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	if len(r.Departures) != 1 || r.Departures[0].GUID != e.guids["hal"] || r.Departures[0].Reason != string(upnsync.DepartedDeleted) || !r.Departures[0].Removed {
		t.Fatalf("departures = %+v", r.Departures)
	}
	var renamed, removed bool
	for _, c := range r.Changes {
		renamed = renamed || (len(c.Replaced) == 1 && c.Replaced[0].New == e.upn("gus", ".2"))
		removed = removed || (len(c.Removed) == 1 && c.Removed[0] == e.upn("hal", "") && c.After == "manual-hal")
	}
	if !renamed || !removed {
		t.Fatalf("changes = %+v", r.Changes)
	}
	// Nothing changed since: DirSync reports nobody.
	code, r, errOut = e.run(t, "", "--dirsync", "--apply", "--remove-departed", "--max-removal-percent", "off")
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadDirSync || r.Summary.Read != 0 || len(r.Changes) != 0 {
		t.Fatalf("idle dirsync: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
}

// upnsync doctor --dirsync tries a DirSync search: allowed for the
// domain's Administrator, refused with the right to grant for an ordinary
// account (the keytab's principal).
func TestSambaDoctorDirSync(t *testing.T) {
	e := newSambaEnv(t)
	db := e.store(t, "doctor-dirsync")
	common := []string{"doctor", "--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--directory", e.LDAPSURL, "--ca-file", e.CAFile, "--store", "sqlite:" + db, "--domain", e.Base, "--dirsync"}
	code, out, errOut := cli(t, nil, append(common, "--login", e.BindDN, "--password-file", e.PasswordFile)...)
	if code != exitOK || !strings.Contains(out, "DirSync searches are allowed for this account; the DC is "+strings.ToLower(e.Host)) {
		t.Fatalf("doctor as the Administrator: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, nil, append(common, "--kerberos-keytab", e.Keytab, "--login", e.Principal, "--krb5-conf", e.Krb5Conf)...)
	if code == exitOK || !strings.Contains(out, "FAIL  changes") || !strings.Contains(out, `needs the "Replicating Directory Changes" right`) {
		t.Fatalf("doctor as an ordinary account: exit %d\n%s\n%s", code, out, errOut)
	}
}

// DirSync reports a person filtered out (an attribute of the user filter
// changed) and one moved out of the searched OU; neither is in the read,
// both are looked up, classified and, with --remove-departed, their
// entries go. The person who did not change stays, unread.
func TestSambaDirSyncOutOfScope(t *testing.T) {
	e := newIncEnv(t, "ivy", "jo", "kim")
	away := "OU=" + e.tag + "-away," + e.Base
	add := ldap.NewAddRequest(away, nil)
	add.Attribute("objectClass", []string{"organizationalUnit"})
	if err := e.admin.Add(add); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.admin.Del(ldap.NewDelRequest("CN=jo,"+away, nil))
		_ = e.admin.Del(ldap.NewDelRequest(away, nil))
	})
	filter := "(&(objectCategory=person)(objectClass=user)(!(description=gone)))"
	opts := []string{"--dirsync", "--apply", "--remove-departed", "--max-removal-percent", "off", "--user-filter", filter}
	if code, r, errOut := e.run(t, "", opts...); code != exitOK || r.ReadMode.Mode != upnsync.ReadFull || r.Summary.Read != 3 {
		t.Fatalf("first run: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	m := ldap.NewModifyRequest(e.dn("ivy"), nil)
	m.Replace("description", []string{"gone"})
	if err := e.admin.Modify(m); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.ModifyDN(ldap.NewModifyDNRequest(e.dn("jo"), "CN=jo", true, away)); err != nil {
		t.Fatal(err)
	}
	code, r, errOut := e.run(t, "", opts...)
	if code != exitOK || r.ReadMode.Mode != upnsync.ReadDirSync || r.Summary.Read != 0 || !r.ReadMode.Advanced {
		t.Fatalf("dirsync run: exit %d %+v %+v\n%s", code, r, r.ReadMode, errOut)
	}
	got := map[string]string{}
	for _, d := range r.Departures {
		if !d.Removed {
			t.Errorf("departure %+v kept", d)
		}
		got[d.GUID] = d.Reason
	}
	want := map[string]string{e.guids["ivy"]: string(upnsync.DepartedFiltered), e.guids["jo"]: string(upnsync.DepartedMoved)}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(r.Changes) != 2 {
		t.Fatalf("departures %+v (want %v), changes %+v", r.Departures, want, r.Changes)
	}
}
