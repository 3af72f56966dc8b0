package main

import (
	"database/sql"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/upnsync/upnsync/sync/directory/entra/entratest"
)

// --incremental with Entra ID: Microsoft Graph's delta link is the
// watermark, kept in the store's state table as LDAP's are. The first run
// reads a whole delta round; the next reads only what changed (a deleted
// user is a departure; nobody else is taken as gone); a dry run does not
// advance; an expired link (410 Gone, syncStateNotFound), changed inputs
// and --full-every read in full, saying why.
func TestEntraIncremental(t *testing.T) {
	users := entratest.SampleUsers()
	e := newEntraEnv(t, users, entraStoreCSV)
	run := func(extra ...string) (int, entraReport, string) {
		t.Helper()
		code, out, errOut := cli(t, e.secretEnv, e.entra(append([]string{"--report", "json", "--incremental",
			"--remove-departed", "--max-removal-percent", "off"}, extra...)...)...)
		r := parseEntraReport(t, out, errOut)
		if r.ReadMode == nil {
			t.Fatalf("no read_mode in the report: exit %d\n%s\n%s", code, out, errOut)
		}
		return code, r, errOut
	}

	// 1. No watermark yet: a whole delta round, which --apply advances.
	code, r, errOut := run("--apply")
	if code != exitOK || r.ReadMode.Mode != "full" || !strings.Contains(r.ReadMode.FullReason, "no watermark for entra:"+entratest.TenantID) ||
		!r.ReadMode.Advanced || r.Applied == nil || r.Applied.Written != 4 || r.Summary["read"] != 5 {
		t.Fatalf("first run: exit %d %+v %+v\n%s", code, r.ReadMode, r.Summary, errOut)
	}
	if !requested(e.tn, "GET /v1.0/users/delta") || requested(e.tn, "GET /v1.0/users ") {
		t.Errorf("the first run did not read a delta round: %q", e.tn.Requests)
	}
	if link := savedState(t, e.db); !strings.Contains(link, `"delta_link":"`+e.tn.Server.URL+`/v1.0/users/delta?$deltatoken=t0"`) {
		t.Fatalf("the state table holds %s", link)
	}

	// 2. What changed since: the custom-anchor user's UPN, and the
	// disabled user deleted (restorable, so its objectGUID is found in the
	// deleted items). Jane is not in the delta: she is not gone.
	changed := users[4]
	changed["userPrincipalName"] = "c.anchor@corp.example.com"
	e.tn.Mu.Lock()
	e.tn.Deltas["t0"] = entratest.DeltaRound{Next: "t1", Changes: []map[string]any{changed,
		{"id": users[3]["id"], "@removed": map[string]any{"reason": "changed"}}}}
	e.tn.Deleted[users[3]["id"].(string)] = users[3]
	e.tn.Users = []map[string]any{users[0], users[1], users[2], changed}
	e.tn.Mu.Unlock()
	check := func(what string, code int, r entraReport, errOut string) {
		t.Helper()
		if r.ReadMode.Mode != "incremental" || !strings.HasPrefix(r.ReadMode.From, "the Microsoft Graph delta link of ") ||
			r.Summary["read"] != 1 || r.matches() != "2004: 2005:windows-username" ||
			len(r.Departures) != 1 || r.Departures[0].Reason != "deleted" {
			t.Fatalf("%s: exit %d %+v %+v %s %+v\n%s", what, code, r.ReadMode, r.Summary, r.matches(), r.Departures, errOut)
		}
	}
	code, r, errOut = run()
	check("dry run", code, r, errOut)
	if code != exitPending || r.ReadMode.Advanced || !strings.HasPrefix(r.ReadMode.NotAdvanced, "dry run") {
		t.Fatalf("a dry run advanced: exit %d %+v", code, r.ReadMode)
	}
	code, r, errOut = run("--apply")
	check("apply", code, r, errOut)
	if code != exitOK || !r.ReadMode.Advanced || !r.Departures[0].Removed {
		t.Fatalf("apply: exit %d %+v %+v\n%s", code, r.ReadMode, r.Departures, errOut)
	}
	if _, out, _ := cli(t, nil, "store", "export", "--store", e.store); !strings.Contains(out, "2004,Gone,Away,gone.away@corp.example.com,gaway,") ||
		!strings.Contains(out, "2005,Custom,Anchor,custom.anchor@corp.example.com,canchor;custom.anchor@corp.example.com;c.anchor@corp.example.com,") {
		t.Errorf("the store after the delta:\n%s", out)
	}
	if link := savedState(t, e.db); !strings.Contains(link, "$deltatoken=t1") {
		t.Fatalf("not advanced to t1: %s", link)
	}

	// 3. The saved link expired (410 Gone, then 400 syncStateNotFound): a
	// new round in full, said so, with departures counted again.
	for _, tt := range []struct {
		token  string
		status int
		want   string
	}{{"t1", 410, "410 Gone resyncRequired"}, {"t0", 400, "syncStateNotFound"}} {
		e.tn.Mu.Lock()
		e.tn.Expired[tt.token] = tt.status
		e.tn.Mu.Unlock()
		code, r, errOut = run("--apply")
		if code != exitOK || r.ReadMode.Mode != "full" || !strings.Contains(r.ReadMode.FullReason, tt.want) ||
			!strings.Contains(r.ReadMode.FullReason, "delta links last 7 days") || !r.ReadMode.Advanced || r.Summary["read"] != 4 {
			t.Fatalf("expired link %s: exit %d %+v %+v\n%s", tt.token, code, r.ReadMode, r.Summary, errOut)
		}
	}

	// 4. Inputs that change who is read, and --full-every: in full.
	delete(e.tn.Expired, "t0")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--include-guests"}, `the guests changed (was "include-guests=false", now "include-guests=true")`},
		{[]string{"--full-every", "1ns"}, "older than --full-every 1ns"},
	} {
		code, r, errOut = run(tt.args...)
		if r.ReadMode.Mode != "full" || !strings.Contains(r.ReadMode.FullReason, tt.want) {
			t.Errorf("%q: exit %d %+v\n%s", tt.args, code, r.ReadMode, errOut)
		}
	}
	// And without them, the delta again.
	e.tn.Mu.Lock()
	e.tn.Deltas["t0"] = entratest.DeltaRound{Next: "t2", Changes: []map[string]any{}}
	e.tn.Mu.Unlock()
	if code, r, errOut = run(); code != exitOK || r.ReadMode.Mode != "incremental" || r.Summary["read"] != 0 || len(r.Departures) != 0 {
		t.Errorf("back to deltas: exit %d %+v %+v %+v\n%s", code, r.ReadMode, r.Summary, r.Departures, errOut)
	}
	// A delta read that fails is incomplete, and still partial: Jane,
	// who owns an entry and is not in it, is not listed as gone.
	e.tn.Mu.Lock()
	e.tn.Deltas["t0"] = entratest.DeltaRound{Next: "t3", Changes: []map[string]any{{"id": "x", "userPrincipalName": 42}}}
	e.tn.Mu.Unlock()
	if code, r, errOut = run("--apply"); code != exitError || r.Complete || len(r.Departures) != 0 || r.ReadMode.Advanced {
		t.Errorf("failed delta: exit %d complete %v %+v %+v\n%s", code, r.Complete, r.ReadMode, r.Departures, errOut)
	}
}

// requested tells whether the tenant answered a request starting so.
func requested(tn *entratest.Tenant, prefix string) bool {
	tn.Mu.Lock()
	defer tn.Mu.Unlock()
	for _, r := range tn.Requests {
		if strings.HasPrefix(strings.TrimPrefix(strings.TrimPrefix(r, "HTTP/1.1 "), "HTTP/2.0 ")+" ", prefix) {
			return true
		}
	}
	return false
}

// savedState is the incremental state of the tenant in the store's
// upnsync_meta table, where LDAP's watermarks are kept too.
func savedState(t *testing.T, db string) string {
	t.Helper()
	c, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var v string
	key := "sync-state:incremental:entra:" + strings.ToLower(entratest.TenantID)
	if err := c.QueryRow(`SELECT value FROM upnsync_meta WHERE key = ?`, key).Scan(&v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return v
}
