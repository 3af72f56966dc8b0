package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/upnsync/upnsync/internal/testenv"
)

var storeFields = regexp.MustCompile(`"(store|store_kind|run_id|source)": "(?:[^"\\]|\\.)*"`)

func withoutStore(s string) string { return storeFields.ReplaceAllString(withoutTimes(s), `"$1": "-"`) }

// pgTable is a users table of its own (in a schema of its own) on the test
// server, dropped at the end with upnsync's rows about it.
func pgTable(t *testing.T, env testenv.PostgresEnv) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	schema := "octopus_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		cfg, err := pgx.ParseConfig(env.URL)
		if err != nil {
			return
		}
		cfg.Password = env.Password
		c, err := pgx.ConnectConfig(context.Background(), cfg)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		for _, t := range []string{"owned", "journal", "runs"} {
			c.Exec(context.Background(), `DELETE FROM upnsync.`+t+` WHERE tbl = $1`, `"`+schema+`"."users"`)
		}
		c.Exec(context.Background(), `DELETE FROM upnsync.locks WHERE tbl = $1`, schema+".users")
	})
	return schema + ".users"
}

var runIDs = regexp.MustCompile(`\d{8}T\d{6}Z-[0-9a-f]{6}`)

// runsOf is `upnsync runs --report json` without what differs between
// two stores (ids, times).
func runsOf(t *testing.T, env map[string]string, args ...string) []string {
	t.Helper()
	code, out, errOut := cli(t, env, append([]string{"runs", "--report", "json"}, args...)...)
	var runs struct {
		Runs []struct {
			Kind, Directory, Command string
			Written, Stale           int
			Undoes                   string
			UndoneBy                 []string `json:"undone_by"`
		}
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || code != exitOK {
		t.Fatalf("runs: exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	var lines []string
	for _, r := range runs.Runs {
		line := fmt.Sprintf("%s written %d stale %d undoes=%v undone=%d %s %s", r.Kind, r.Written, r.Stale, r.Undoes != "", len(r.UndoneBy), r.Command, r.Directory)
		lines = append(lines, runIDs.ReplaceAllString(line, "RUN"))
	}
	return lines
}

// The whole job through a PostgreSQL store, from the command line: the
// same reports as through SQLite (a first sync, a rename and a departure,
// an undo), the same runs, the same export afterwards, a saved plan that
// finds its table, doctor's store check, and the password in none of the
// output.
func TestSyncThroughPostgres(t *testing.T) {
	env := testenv.Postgres(t)
	table := pgTable(t, env)

	d := newDemo(t)
	pwEnv := map[string]string{"UPNSYNC_STORE_PASSWORD": env.Password}
	pgArgs := func(extra ...string) []string {
		return append([]string{"--config-file-path", d.mapping, "--directory", "ldif:" + d.ldif,
			"--store", env.URL, "--store-table", table, "--report", "json"}, extra...)
	}
	check := func(what string, code int, out, errOut string) {
		t.Helper()
		if strings.Contains(out+errOut, env.Password) {
			t.Fatalf("%s: the password appears in the output", what)
		}
	}

	code, out, errOut := cli(t, pwEnv, "store", "import", "--store", env.URL, "--store-table", table, d.csv)
	check("import", code, out, errOut)
	if code != 0 || !strings.Contains(out, "32 users read, 32 created") {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	for i, step := range [][]string{nil, {"--apply"}, nil} {
		c1, viaSQLite, _ := cli(t, nil, d.gnu(append([]string{"--report", "json"}, step...)...)...)
		c2, viaPG, errOut := cli(t, pwEnv, pgArgs(step...)...)
		check("sync", c2, viaPG, errOut)
		if c1 != c2 || withoutStore(viaSQLite) != withoutStore(viaPG) {
			t.Fatalf("step %d: exit %d vs %d, reports differ:\n--- sqlite\n%s\n--- postgres\n%s\n%s", i+1, c1, c2, viaSQLite, viaPG, errOut)
		}
		var rep struct {
			Store     string
			StoreKind string `json:"store_kind"`
		}
		json.Unmarshal([]byte(viaPG), &rep)
		if rep.StoreKind != "postgres" || !strings.HasPrefix(rep.Store, "postgres://") || !strings.Contains(rep.Store, table) {
			t.Errorf("store %q kind %q", rep.Store, rep.StoreKind)
		}
	}
	exportsEqual := func(what string) {
		t.Helper()
		_, fromSQLite, _ := cli(t, nil, "store", "export", "--store", d.store)
		code, fromPG, errOut := cli(t, pwEnv, "store", "export", "--store", env.URL, "--store-table", table)
		if code != 0 || fromPG != fromSQLite {
			t.Fatalf("%s: exports differ (%d %s):\n%s\n---\n%s", what, code, errOut, fromSQLite, fromPG)
		}
	}
	exportsEqual("after the sync")

	// A rename and a departure (Maria Garcia, whose UPN upnsync added).
	d.editLDIF(t, "userPrincipalName: jane.doe@corp.example.com", "userPrincipalName: jane.smith@corp.example.com")
	d.dropPerson(t, "CN=Maria Garcia,OU=Sales,OU=Staff,DC=corp,DC=example,DC=com")
	var lastRun [2]string
	for i, step := range [][]string{nil, {"--apply"}, nil} {
		c1, viaSQLite, _ := cli(t, nil, d.gnu(append([]string{"--report", "json", "--remove-departed"}, step...)...)...)
		c2, viaPG, errOut := cli(t, pwEnv, pgArgs(append([]string{"--remove-departed"}, step...)...)...)
		check("rename and departure", c2, viaPG, errOut)
		if c1 != c2 || withoutStore(viaSQLite) != withoutStore(viaPG) {
			t.Fatalf("rename and departure, step %d: exit %d vs %d, reports differ:\n--- sqlite\n%s\n--- postgres\n%s\n%s", i+1, c1, c2, viaSQLite, viaPG, errOut)
		}
		if i == 1 {
			rs, rp := parseSafety(t, viaSQLite), parseSafety(t, viaPG)
			if rp.Applied == nil || rp.Applied.Written != 2 || len(rp.Changes) != 2 {
				t.Fatalf("rename and departure through PostgreSQL: %+v", rp.Applied)
			}
			lastRun = [2]string{rs.Applied.RunID, rp.Applied.RunID}
		}
	}
	exportsEqual("after the rename and departure")

	// runs and undo: the same through both stores.
	sqliteRuns, pgRuns := runsOf(t, nil, "--store", d.store), runsOf(t, pwEnv, "--store", env.URL, "--store-table", table)
	if len(pgRuns) != 2 || !reflect.DeepEqual(sqliteRuns, pgRuns) {
		t.Fatalf("runs differ:\n%s\n---\n%s", strings.Join(sqliteRuns, "\n"), strings.Join(pgRuns, "\n"))
	}
	code, text, _ := cli(t, pwEnv, "runs", "--store", env.URL, "--store-table", table)
	if code != exitOK || !strings.HasPrefix(text, lastRun[1]+"  ") {
		t.Fatalf("runs (text) through PostgreSQL: exit %d\n%s", code, text)
	}
	for _, step := range [][]string{nil, {"--apply"}} {
		c1, viaSQLite, _ := cli(t, nil, append([]string{"undo", lastRun[0], "--store", d.store, "--report", "json"}, step...)...)
		c2, viaPG, errOut := cli(t, pwEnv, append([]string{"undo", lastRun[1], "--store", env.URL, "--store-table", table, "--report", "json"}, step...)...)
		check("undo", c2, viaPG, errOut)
		if c1 != c2 || withoutStore(viaSQLite) != withoutStore(viaPG) {
			t.Fatalf("undo %v: exit %d vs %d, reports differ:\n--- sqlite\n%s\n--- postgres\n%s\n%s", step, c1, c2, viaSQLite, viaPG, errOut)
		}
	}
	exportsEqual("after the undo")
	if sqliteRuns, pgRuns = runsOf(t, nil, "--store", d.store), runsOf(t, pwEnv, "--store", env.URL, "--store-table", table); len(pgRuns) != 3 ||
		!reflect.DeepEqual(sqliteRuns, pgRuns) || !strings.HasPrefix(pgRuns[0], "undo written 2") {
		t.Fatalf("runs after the undo differ:\n%s\n---\n%s", strings.Join(sqliteRuns, "\n"), strings.Join(pgRuns, "\n"))
	}

	// A saved plan names its table: `upnsync apply` needs only the password.
	planFile := filepath.Join(d.dir, "pg-plan.json")
	code, _, errOut = cli(t, pwEnv, append([]string{"plan", "--out", planFile, "--remove-departed"}, pgArgs()...)...)
	if code != exitPending {
		t.Fatalf("plan: exit %d %s", code, errOut)
	}
	if data, _ := os.ReadFile(planFile); strings.Contains(string(data), env.Password) || !strings.Contains(string(data), table) {
		t.Fatalf("the plan holds the password, or not the table:\n%s", data)
	}
	code, out, errOut = cli(t, pwEnv, "apply", planFile, "--report", "json")
	check("apply", code, out, errOut)
	if rep := parseSafety(t, out); code != exitConflicts || rep.Applied == nil || rep.Applied.Written != 2 {
		t.Fatalf("apply of a saved plan: exit %d %+v\n%s", code, rep.Applied, errOut)
	}
	if code, _, errOut := cli(t, pwEnv, "apply", planFile, "--store-table", "other"); code != exitError || !strings.Contains(errOut, "--store-table cannot change it") {
		t.Fatalf("apply with another table: exit %d %s", code, errOut)
	}

	// doctor checks the store's rights without writing.
	code, out, errOut = cli(t, pwEnv, "doctor", "--config-file-path", d.mapping, "--directory", "ldif:"+d.ldif,
		"--store", env.URL, "--store-table", table, "--apply")
	check("doctor", code, out, errOut)
	if code != exitOK || !regexp.MustCompile(`(?m)^PASS  store +postgres://.*: 32 users; writable \(checked without writing to it\)$`).MatchString(out) {
		t.Fatalf("doctor: exit %d\n%s\n%s", code, out, errOut)
	}

	// --state has nothing to place for a PostgreSQL store.
	code, _, errOut = cli(t, pwEnv, pgArgs("--state", filepath.Join(d.dir, "x.db"), "--apply")...)
	if code != exitError || !strings.Contains(errOut, "--state applies to dataimporter: stores; postgres://") {
		t.Errorf("--state with postgres: exit %d %s", code, errOut)
	}

	// A password in the URL works, with a warning; it is shown nowhere.
	u, _ := url.Parse(env.URL)
	u.User = url.UserPassword(u.User.Username(), env.Password)
	code, out, errOut = cli(t, nil, "--config-file-path", d.mapping, "--directory", "ldif:"+d.ldif,
		"--store", u.String(), "--store-table", table, "--report", "json")
	check("password in URL", code, out, errOut)
	if code != exitConflicts || !strings.Contains(errOut, "the --store URL holds a password") {
		t.Errorf("password in URL: exit %d\n%s", code, errOut)
	}

	// Without a password the server says no, and the message says how.
	code, _, errOut = cli(t, map[string]string{"PGPASSFILE": filepath.Join(t.TempDir(), "none")}, pgArgs()...)
	if code != exitError || !strings.Contains(errOut, "--store-password-file") {
		t.Errorf("no password: exit %d\n%s", code, errOut)
	}
}

// The whole job through a DataImporter workbook: the current users come
// from an export, the dry run writes nothing and says what --apply will
// write, the apply writes the workbook and its configuration and the
// report says how to import them.
func TestSyncThroughDataImporter(t *testing.T) {
	d := newDemo(t)
	export := filepath.Join(d.dir, "octopus-export.csv")
	if code, _, errOut := cli(t, nil, "store", "export", "--store", d.store, export); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	out := filepath.Join(d.dir, "upn-import.xlsx")
	args := []string{"/ConfigFilePath:" + d.mapping, "/Directory:ldif:" + d.ldif, "/Store:dataimporter:" + out,
		"/OctopusExport:" + export, "/Report:json"}

	code, stdout, errOut := cli(t, nil, args...)
	var rep struct {
		StoreKind string   `json:"store_kind"`
		NextSteps []string `json:"next_steps"`
		Summary   map[string]int
		Applied   *struct{ Written int }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if code != exitPending || rep.StoreKind != "dataimporter" || len(rep.NextSteps) != 1 || rep.Summary["changes"] == 0 {
		t.Fatalf("dry run: exit %d %+v\n%s", code, rep, errOut)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("the dry run wrote the workbook")
	}
	if _, err := os.Stat(out + ".upnsync-state.db"); !os.IsNotExist(err) {
		t.Fatal("the dry run created the state database")
	}

	code, stdout, errOut = cli(t, nil, append(args, "/Apply")...)
	rep.NextSteps = nil
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if code != exitConflicts || rep.Applied == nil || rep.Applied.Written != rep.Summary["changes"] || len(rep.NextSteps) != 3 ||
		!strings.Contains(rep.NextSteps[1], filepath.Join(d.dir, "upn-import.xml")) {
		t.Fatalf("apply: exit %d %+v\n%s", code, rep, errOut)
	}
	for _, f := range []string{out, filepath.Join(d.dir, "upn-import.xml")} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}

	// The text report tells the same next steps.
	code, stdout, _ = cli(t, nil, append(args[:4], "/Apply")...)
	if code != exitConflicts || !strings.Contains(stdout, "Next steps:\n  1. Check "+out) {
		t.Errorf("text report: exit %d\n%s", code, stdout)
	}

	// The runs are recorded in the state database beside the workbook; an
	// undo would remove what they added, which DataImporter cannot: each
	// user is a store-cannot-replace conflict and nothing is written.
	storeArgs := []string{"--store", "dataimporter:" + out, "--octopus-export", export}
	code, stdout, errOut = cli(t, nil, append([]string{"runs"}, storeArgs...)...)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != exitOK || len(lines) != 2 || !strings.Contains(lines[1], fmt.Sprintf("written %d", rep.Summary["changes"])) {
		t.Fatalf("runs: exit %d\n%s\n%s", code, stdout, errOut)
	}
	runID, _, _ := strings.Cut(lines[1], " ")
	before, _ := os.ReadFile(out)
	code, stdout, errOut = cli(t, nil, append([]string{"undo", runID, "--apply", "--report", "json"}, storeArgs...)...)
	var undo struct {
		Summary   map[string]int
		Conflicts []struct{ Reason, Detail string }
		Applied   *struct{ Written int }
	}
	if err := json.Unmarshal([]byte(stdout), &undo); err != nil {
		t.Fatalf("undo: %v\n%s\n%s", err, stdout, errOut)
	}
	if code != exitConflicts || undo.Summary["changes"] != 0 || len(undo.Conflicts) != rep.Summary["changes"] ||
		undo.Conflicts[0].Reason != "store-cannot-replace" || !strings.Contains(undo.Conflicts[0].Detail, "remove it by hand") {
		t.Fatalf("undo: exit %d %+v\n%s", code, undo, errOut)
	}
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Fatal("a refused undo rewrote the workbook")
	}

	// doctor: the workbook's folder and the state database can be written.
	code, stdout, _ = cli(t, nil, append([]string{"doctor", "/ConfigFilePath:" + d.mapping, "/Directory:ldif:" + d.ldif, "/Apply"}, storeArgs...)...)
	if code != exitOK || !strings.Contains(stdout, "writable (checked without writing to it)") {
		t.Errorf("doctor: exit %d\n%s", code, stdout)
	}
}
