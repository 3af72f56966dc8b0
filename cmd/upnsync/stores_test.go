package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/upnsync/upnsync/internal/testenv"
)

var storeFields = regexp.MustCompile(`"(store|store_kind|run_id)": "(?:[^"\\]|\\.)*"`)

func withoutStore(s string) string { return storeFields.ReplaceAllString(withoutTimes(s), `"$1": "-"`) }

// The whole job through a PostgreSQL store, from the command line: the
// same reports as through SQLite, the same export afterwards, and the
// password in none of the output.
func TestSyncThroughPostgres(t *testing.T) {
	env := testenv.Postgres(t)
	var b [4]byte
	rand.Read(b[:])
	table := "octopus_" + hex.EncodeToString(b[:]) + ".users"
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
		schema, _, _ := strings.Cut(table, ".")
		c.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		for _, t := range []string{"owned", "journal", "runs"} {
			c.Exec(context.Background(), `DELETE FROM upnsync.`+t+` WHERE tbl = $1`, `"`+schema+`"."users"`)
		}
	})

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
	_, fromSQLite, _ := cli(t, nil, "store", "export", "--store", d.store)
	code, fromPG, errOut := cli(t, pwEnv, "store", "export", "--store", env.URL, "--store-table", table)
	if code != 0 || fromPG != fromSQLite {
		t.Errorf("exports differ (%d %s):\n%s\n---\n%s", code, errOut, fromSQLite, fromPG)
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
}
