package main

import (
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
)

// cutProxy forwards TCP to target and cuts each connection once the server
// has sent limit bytes: a directory that stops answering mid-read.
type cutProxy struct {
	l     net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startCutProxy(t *testing.T, target string, limit int64) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
			go func() { defer p.wg.Done(); io.CopyN(c, s, limit); c.Close(); s.Close() }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// Against the real directory: upnsync added UPNs for people across the
// domain; then the search base is narrowed to one region, so that most of
// them look departed (moved out of the searched bases). Removing their
// entries is refused while the read is incomplete (the connection cut
// mid-paging) and while it exceeds the default removal threshold; --force
// lets it through once, and only entries upnsync added are removed.
func TestDepartedRemovalGuardsAgainstRealDirectory(t *testing.T) {
	env := testenv.LDAP(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "octopus.db")
	store := "sqlite:" + db
	if code, out, errOut := cli(t, nil, "store", "import", "--store", store, env.OctopusCSV); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	common := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--login", env.BindDN, "--password-file", env.PasswordFile, "--ca-file", env.CAFile, "--store", store, "--report", "json"}
	whole := append(append([]string(nil), common...), "--directory", env.LDAPSURL, "--domain", env.Base)
	code, out, errOut := cli(t, nil, append(whole, "--apply")...)
	first := parseSafety(t, out)
	if (code != exitOK && code != exitConflicts) || first.Applied == nil || first.Applied.Written < 100 {
		t.Fatalf("first apply: exit %d %+v\n%s", code, first.Applied, errOut)
	}
	berlin := "ou=Berlin,ou=People," + env.Base
	// The narrower scope, applied once without --remove-departed, is the
	// scope of the last complete run: removals against it are not held
	// back (rule D3; TestSambaNarrowedScopeHoldsRemovals tests the hold).
	confirm := func(base string) {
		t.Helper()
		if code, _, errOut := cli(t, nil, append(common, "--directory", env.LDAPSURL, "--domain", base, "--apply")...); code != exitOK && code != exitConflicts {
			t.Fatalf("apply on %s: exit %d\n%s", base, code, errOut)
		}
	}
	confirm(berlin)
	before := allFields(t, db)
	hash := fileHash(t, db)
	narrow := append(append([]string(nil), common...), "--domain", berlin, "--remove-departed", "--apply")

	// 1. The directory stops answering mid-paging: nothing is written.
	u, _ := url.Parse(env.LDAPSURL)
	proxy := startCutProxy(t, u.Host, 100_000)
	code, out, errOut = cli(t, nil, append(narrow, "--directory", "ldaps://"+proxy.l.Addr().String(), "--page-size", "100")...)
	if code != exitError || !strings.Contains(errOut, "lost after page") || !strings.Contains(errOut, "the read is incomplete") ||
		strings.Contains(errOut, env.Password) {
		t.Fatalf("cut read: exit %d\n%s\n%s", code, out, errOut)
	}
	if rep := parseSafety(t, out); rep.Complete || rep.Applied != nil || !strings.Contains(rep.Stopped, "nothing was written") {
		t.Fatalf("cut read report: %+v", rep)
	}
	if fileHash(t, db) != hash {
		t.Fatal("an incomplete read changed the store")
	}

	// 2. Complete, but over the default removal threshold (10% of the
	// Octopus users): stopped before writing, the message names the count,
	// the threshold and --force.
	narrowLDAPS := append(narrow, "--directory", env.LDAPSURL)
	code, out, errOut = cli(t, nil, narrowLDAPS...)
	rep := parseSafety(t, out)
	if code != exitGuard || len(rep.Guards) == 0 || rep.Applied != nil {
		t.Fatalf("threshold: exit %d %+v\n%s", code, rep.Guards, errOut)
	}
	g := rep.Guards[0]
	t.Logf("guard: %s", g.Message)
	if g.Guard != "max-removal-percent" || g.Count != rep.Summary["removals"] || g.Count <= g.Threshold ||
		!strings.Contains(g.Message, "--max-removal-percent 10") || !strings.Contains(g.Message, "--force (/Force)") ||
		!strings.Contains(errOut, g.Message) {
		t.Fatalf("guard %+v\nstderr %s", g, errOut)
	}
	moved := 0
	for _, d := range rep.Departures {
		if d.Reason == "moved-out-of-scope" && d.DN != "" && !strings.HasSuffix(strings.ToLower(d.DN), strings.ToLower(berlin)) {
			moved++
		}
	}
	if moved < g.Count/2 {
		t.Fatalf("only %d of %d departures classified as moved out of the searched bases", moved, len(rep.Departures))
	}
	if fileHash(t, db) != hash {
		t.Fatal("a guarded run changed the store")
	}

	// 3. --force lets this one run through; only entries upnsync added go.
	code, out, errOut = cli(t, nil, append(narrowLDAPS, "--force")...)
	forced := parseSafety(t, out)
	if (code != exitOK && code != exitConflicts) || !forced.Forced || forced.Applied == nil || forced.Applied.Written == 0 {
		t.Fatalf("--force: exit %d %+v\n%s", code, forced.Applied, errOut)
	}
	owned := map[string]bool{}
	for _, c := range first.Changes {
		for _, a := range c.Added {
			owned[c.UserID+"\x00"+strings.ToLower(a)] = true
		}
	}
	after := allFields(t, db)
	removed := 0
	for id, v := range before {
		kept := map[string]bool{}
		for _, e := range strings.Split(after[id], ";") {
			kept[strings.ToLower(e)] = true
		}
		for _, e := range strings.Split(v, ";") {
			if e == "" || kept[strings.ToLower(e)] {
				continue
			}
			if !owned[id+"\x00"+strings.ToLower(e)] {
				t.Errorf("user %s lost %q, which upnsync did not add", id, e)
			}
			removed++
		}
	}
	if removed != g.Count {
		t.Errorf("%d entries removed, the plan said %d", removed, g.Count)
	}

	// 4. --force did not stick: the next run is guarded again.
	confirm("ou=Toronto Office,ou=People," + env.Base)
	_, out, _ = cli(t, nil, append(common, "--directory", env.LDAPSURL, "--domain", "ou=Toronto Office,ou=People,"+env.Base,
		"--remove-departed", "--apply", "--max-removals", "10")...)
	if rep := parseSafety(t, out); len(rep.Guards) == 0 || rep.Applied != nil {
		t.Fatalf("the run after --force was not guarded: %+v", rep.Guards)
	}
}

// LDAP filter injection through the store's record: the objectGUID upnsync
// recorded for an entry it added is edited into "*)(|(objectClass=*". That
// person then looks departed (no one in the directory has that GUID), and
// the lookup of where they went must refuse the value rather than search
// with it: unescaped, the filter would match every object of the domain and
// the first found would pass for the person. The departure is reported as
// lookup-failed and nothing is removed, --remove-departed or not.
func TestDepartureLookupRefusesAnInjectedGUID(t *testing.T) {
	env := testenv.LDAP(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "octopus.db")
	store := "sqlite:" + db
	if code, out, errOut := cli(t, nil, "store", "import", "--store", store, env.OctopusCSV); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	args := []string{"--config-file-path", filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml"),
		"--login", env.BindDN, "--password-file", env.PasswordFile, "--ca-file", env.CAFile, "--store", store, "--report", "json",
		"--directory", env.LDAPSURL, "--domain", env.Base}
	code, out, errOut := cli(t, nil, append(args, "--apply")...)
	first := parseSafety(t, out)
	if (code != exitOK && code != exitConflicts) || first.Applied == nil || len(first.Changes) == 0 {
		t.Fatalf("first apply: exit %d\n%s", code, errOut)
	}
	victim := first.Changes[0].UserID
	const injection = "*)(|(objectClass=*"
	res, err := openDB(t, db).Exec(`UPDATE upnsync_owned SET guid = ? WHERE user_id = ?`, injection, victim)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tampering with the record of user %s: %v (%d rows)", victim, err, n)
	}
	before := field(t, db, victim)

	code, out, errOut = cli(t, nil, append(args, "--remove-departed", "--apply")...)
	rep := parseSafety(t, out)
	if code != exitOK && code != exitConflicts {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if len(rep.Departures) != 1 {
		t.Fatalf("%d departures, want the tampered one: %+v", len(rep.Departures), rep.Departures)
	}
	d := rep.Departures[0]
	if !strings.EqualFold(d.GUID, injection) || d.Reason != "lookup-failed" || d.Removed || !strings.Contains(d.Detail, "is not a GUID") || d.DN != "" {
		t.Fatalf("departure %+v", d)
	}
	if rep.Summary["removals"] != 0 || field(t, db, victim) != before {
		t.Fatalf("removed %d entries; user %s holds %q, held %q", rep.Summary["removals"], victim, field(t, db, victim), before)
	}
}
