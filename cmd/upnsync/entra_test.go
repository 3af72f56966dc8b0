package main

// Microsoft Entra ID as the directory (--directory entra:TENANT), through
// the command, against entratest's Graph-shaped HTTPS tenant (no live
// tenant is reachable where upnsync is tested): into SQLite and into a
// DataImporter workbook, hybrid, cloud-only and guest users, throttling, a
// read cut in the middle, doctor, and the secret in none of the output.
// Delta runs are in entra_delta_test.go; the same plan over LDAP and
// Graph in entra_sameplan_test.go.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/sync/directory/entra/entratest"
)

// entraStoreCSV are Octopus users for entratest.SampleUsers: Jane (hybrid,
// pinned by her objectGUID), the cloud-only user (by e-mail), the guest,
// the disabled hybrid user (by account name), the custom source anchor
// (by account name), and a user Entra ID does not have.
const entraStoreCSV = `ID,FirstName,LastName,Email,WindowsUsername,ExternalIdentifier,Active
2001,Jane,Doe,jane.doe@corp.example.com,CORP\jdoe,3f2504e0-4f89-11d3-9a0c-0305e82c3301,true
2002,Cloud,Only,cloud.only@contoso.com,,,true
2003,Gus,Guest,guest@example.org,,,true
2004,Gone,Away,gone.away@corp.example.com,gaway,,true
2005,Custom,Anchor,custom.anchor@corp.example.com,canchor,,true
2006,Not,InEntra,nobody@corp.example.com,nobody,,true
`

// entraEnv is a fake tenant and a SQLite store seeded for its users.
type entraEnv struct {
	tn                      *entratest.Tenant
	dir, mapping, db, store string
	secretEnv               map[string]string
}

func newEntraEnv(t *testing.T, users []map[string]any, storeCSV string) *entraEnv {
	t.Helper()
	e := &entraEnv{tn: entratest.New(t), dir: t.TempDir()}
	e.tn.Users = users
	e.mapping = filepath.Join(e.dir, "ADSIReaderLDAPMappings.xml")
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "ADSIReaderLDAPMappings.xml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, e.mapping, string(data), 0o600)
	e.db = filepath.Join(e.dir, "octopus.db")
	e.store = "sqlite:" + e.db
	if storeCSV != "" {
		csv := writeFile(t, filepath.Join(e.dir, "octopus-users.csv"), storeCSV, 0o600)
		if code, out, errOut := cli(t, nil, "store", "import", "--store", e.store, csv); code != 0 {
			t.Fatalf("store import: %s %s", out, errOut)
		}
	}
	e.secretEnv = map[string]string{"UPNSYNC_CLIENT_SECRET": entratest.DefaultSecret}
	return e
}

// entra are the options that read the fake tenant, with the mapping and
// the store.
func (e *entraEnv) entra(extra ...string) []string {
	return append([]string{"--config-file-path", e.mapping, "--directory", "entra:" + entratest.TenantID,
		"--client-id", entratest.ClientID, "--authority-host", e.tn.AuthorityHost(), "--graph-endpoint", e.tn.Server.URL,
		"--ca-file", e.tn.CAFile, "--store", e.store}, extra...)
}

// entraReport is the part of a JSON report these tests read.
type entraReport struct {
	Directory     string
	DirectoryKind string `json:"directory_kind"`
	Complete      bool
	Why           string `json:"incomplete_reason"`
	Stopped       string
	Summary       map[string]int
	Read          struct{ Pages, Entries int }
	Changes       []struct {
		UserID string `json:"user_id"`
		Match  string
		Added  []string
		After  string
	}
	Skipped  []struct{ DN, Reason string }
	Applied  *struct{ Written int }
	ReadMode *struct {
		Mode        string
		FullReason  string `json:"full_reason"`
		From, To    string
		Advanced    bool
		NotAdvanced string `json:"not_advanced"`
	} `json:"read_mode"`
	Departures []struct {
		GUID, Reason string
		Removed      bool
	}
	NextSteps []string `json:"next_steps"`
}

func parseEntraReport(t *testing.T, out, errOut string) entraReport {
	t.Helper()
	var r entraReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, out, errOut)
	}
	return r
}

// matches lists the changes as user:match.
func (r entraReport) matches() string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.UserID+":"+c.Match)
	}
	return strings.Join(out, " ")
}

// Entra ID to SQLite: a hybrid user matches by her objectGUID (from
// onPremisesImmutableId) as over LDAP, the cloud-only user by e-mail,
// synchronised users by account name; the guest is skipped with the
// reason until --include-guests; the custom source anchor is named in a
// warning; the apply writes and a second run has nothing left.
func TestEntraToSQLite(t *testing.T) {
	e := newEntraEnv(t, entratest.SampleUsers(), entraStoreCSV)

	code, out, errOut := cli(t, e.secretEnv, e.entra("--report", "json")...)
	r := parseEntraReport(t, out, errOut)
	if code != exitPending || !r.Complete || r.Directory != "entra:"+entratest.TenantID || r.DirectoryKind != "entra" ||
		r.Summary["read"] != 5 || r.Read.Pages != 1 {
		t.Fatalf("dry run: exit %d %+v\n%s", code, r, errOut)
	}
	if got := r.matches(); got != "2001:external-id 2002:email 2004:windows-username 2005:windows-username" {
		t.Errorf("changes %s", got)
	}
	if len(r.Skipped) != 1 || !strings.Contains(r.Skipped[0].DN, "#EXT#") || r.Skipped[0].Reason != "guest account (userType Guest or #EXT# UPN); --include-guests takes guests in" {
		t.Errorf("skipped %+v", r.Skipped)
	}
	if !strings.Contains(errOut, `onPremisesImmutableId "E12345" is not the base64 of a 16-byte objectGUID`) {
		t.Errorf("no warning about the custom source anchor:\n%s", errOut)
	}
	// The text report names the directory and the guest.
	code, out, _ = cli(t, e.secretEnv, e.entra()...)
	if code != exitPending || !strings.Contains(out, "entra:"+entratest.TenantID) || !strings.Contains(out, "guest account") {
		t.Errorf("text report: exit %d\n%s", code, out)
	}

	code, out, errOut = cli(t, e.secretEnv, e.entra("--report", "json", "--apply")...)
	r = parseEntraReport(t, out, errOut)
	if code != exitOK || r.Applied == nil || r.Applied.Written != 4 {
		t.Fatalf("apply: exit %d %+v\n%s", code, r.Applied, errOut)
	}
	code, out, errOut = cli(t, e.secretEnv, e.entra("--report", "json")...)
	if r = parseEntraReport(t, out, errOut); code != exitOK || r.Summary["changes"] != 0 || r.Summary["unchanged"] != 4 {
		t.Fatalf("second run: exit %d %v\n%s", code, r.Summary, errOut)
	}

	// --include-guests: the guest is a person, matched by e-mail.
	code, out, errOut = cli(t, e.secretEnv, e.entra("--report", "json", "--include-guests")...)
	r = parseEntraReport(t, out, errOut)
	if code != exitPending || r.matches() != "2003:email" || len(r.Skipped) != 0 ||
		r.Changes[0].Added[0] != "guest_example.org#EXT#@contoso.onmicrosoft.com" {
		t.Fatalf("--include-guests: exit %d %s %+v\n%s", code, r.matches(), r.Skipped, errOut)
	}
	// --skip-disabled: the disabled hybrid user is skipped as over LDAP.
	code, out, errOut = cli(t, e.secretEnv, e.entra("--report", "json", "--skip-disabled")...)
	r = parseEntraReport(t, out, errOut)
	if code != exitOK || len(r.Skipped) != 2 || r.Skipped[1].Reason != "account disabled (--skip-disabled)" {
		t.Fatalf("--skip-disabled: exit %d %+v\n%s", code, r.Skipped, errOut)
	}
}

// Entra ID to the DataImporter workbook, spelled as ADSIReader's
// administrators do: the current users from an Octopus export, the
// workbook and its configuration written on /Apply.
func TestEntraToDataImporter(t *testing.T) {
	e := newEntraEnv(t, entratest.SampleUsers(), entraStoreCSV)
	export := filepath.Join(e.dir, "octopus-export.csv")
	if code, _, errOut := cli(t, nil, "store", "export", "--store", e.store, export); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	workbook := filepath.Join(e.dir, "upn-import.xlsx")
	args := []string{"/ConfigFilePath:" + e.mapping, "/Directory:entra:" + entratest.TenantID, "/ClientId:" + entratest.ClientID,
		"/AuthorityHost:" + e.tn.AuthorityHost(), "/GraphEndpoint:" + e.tn.Server.URL, "/CAFile:" + e.tn.CAFile,
		"/Store:dataimporter:" + workbook, "/OctopusExport:" + export, "/Report:json"}
	code, out, errOut := cli(t, e.secretEnv, args...)
	r := parseEntraReport(t, out, errOut)
	if code != exitPending || r.matches() != "2001:external-id 2002:email 2004:windows-username 2005:windows-username" {
		t.Fatalf("dry run: exit %d %s\n%s", code, r.matches(), errOut)
	}
	if _, err := os.Stat(workbook); !os.IsNotExist(err) {
		t.Fatal("the dry run wrote the workbook")
	}
	code, out, errOut = cli(t, e.secretEnv, append(args, "/Apply")...)
	r = parseEntraReport(t, out, errOut)
	if code != exitOK || r.Applied == nil || r.Applied.Written != 4 || len(r.NextSteps) != 3 {
		t.Fatalf("apply: exit %d %+v %q\n%s", code, r.Applied, r.NextSteps, errOut)
	}
	for _, f := range []string{workbook, filepath.Join(e.dir, "upn-import.xml")} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// Graph throttles: the run waits as Retry-After says and completes; the
// log says it waited.
func TestEntraThrottled(t *testing.T) {
	e := newEntraEnv(t, entratest.SampleUsers(), entraStoreCSV)
	e.tn.Throttle, e.tn.RetryAfter = 2, "1"
	log := filepath.Join(e.dir, "upnsync.log")
	code, out, errOut := cli(t, e.secretEnv, e.entra("--report", "json", "--log-file-path", log)...)
	r := parseEntraReport(t, out, errOut)
	logText, _ := os.ReadFile(log)
	if code != exitPending || !r.Complete || r.Summary["changes"] != 4 || strings.Count(string(logText), "Microsoft Graph is throttling the read") != 2 {
		t.Fatalf("exit %d %+v\n%s\n%s", code, r.Summary, errOut, logText)
	}
	// Throttled beyond --retries: incomplete, nothing written.
	e.tn.Throttle = 100
	before := fileHash(t, e.db)
	code, out, errOut = cli(t, e.secretEnv, e.entra("--report", "json", "--apply", "--retries", "1")...)
	r = parseEntraReport(t, out, errOut)
	if code != exitError || r.Complete || !strings.Contains(errOut, "gave up after --retries 1") || fileHash(t, e.db) != before {
		t.Fatalf("throttled for good: exit %d %+v\n%s", code, r, errOut)
	}
}

// A page cut off in the middle (the connection closed): the read is
// incomplete, the report says so, nothing is written, exit 1.
func TestEntraCutReadWritesNothing(t *testing.T) {
	e := newEntraEnv(t, entratest.SampleUsers(), entraStoreCSV)
	e.tn.PageSize, e.tn.CutPage = 2, 2
	before := fileHash(t, e.db)
	code, out, errOut := cli(t, e.secretEnv, e.entra("--report", "json", "--apply", "--retries", "1", "--retry-delay", "10ms")...)
	r := parseEntraReport(t, out, errOut)
	if code != exitError || r.Complete || r.Applied != nil || !strings.Contains(r.Stopped, "nothing was written") ||
		!strings.Contains(errOut, "was cut off") || !strings.Contains(errOut, "gave up after 2 attempts") {
		t.Fatalf("exit %d %+v\n%s", code, r, errOut)
	}
	if fileHash(t, e.db) != before {
		t.Fatal("an incomplete read changed the store")
	}
}

// doctor passes with a tenant that lets upnsync read users, showing the
// first user as upnsync maps it; it fails clearly without the permission
// (naming User.Read.All and admin consent) or with a wrong secret.
func TestEntraDoctor(t *testing.T) {
	e := newEntraEnv(t, entratest.SampleUsers(), entraStoreCSV)
	doctor := func(env map[string]string) (int, string) {
		code, out, _ := cli(t, env, append([]string{"doctor"}, e.entra("--incremental")...)...)
		return code, out
	}
	code, out := doctor(e.secretEnv)
	for _, want := range []string{
		"PASS  sign-in       signed in to Entra ID tenant " + entratest.TenantID + " as application " + entratest.ClientID + " (client secret); the token is valid until",
		"application permissions in the token: User.Read.All",
		"PASS  permission    Microsoft Graph lets application " + entratest.ClientID + " (client secret) list users (one page read)",
		"a run reads like: GET " + e.tn.Server.URL + "/v1.0/users?$select=",
		"PASS  first user    UPN jane.doe@corp.example.com; objectGUID 3f2504e0-4f89-11d3-9a0c-0305e82c3301 (from onPremisesImmutableId",
		`account CORP\jdoe; e-mail jane.doe@corp.example.com; name "Jane" "Doe"`,
		"PASS  changes       --incremental: Microsoft Graph's delta query",
		"All checks passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	if code != exitOK {
		t.Errorf("doctor: exit %d", code)
	}

	e.tn.Roles = nil
	code, out = doctor(e.secretEnv)
	if code != exitError || !strings.Contains(out, "FAIL  permission") || !strings.Contains(out, "User.Read.All") ||
		!strings.Contains(out, "admin consent") || !strings.Contains(out, "SKIP  first user") {
		t.Errorf("without the permission: exit %d\n%s", code, out)
	}

	code, out = doctor(map[string]string{"UPNSYNC_CLIENT_SECRET": "not-the-secret"})
	if code != exitError || !strings.Contains(out, "FAIL  sign-in") || !strings.Contains(out, "AADSTS7000215: Invalid client secret provided") ||
		!strings.Contains(out, "fix: check --client-id") || !strings.Contains(out, "SKIP  permission") {
		t.Errorf("wrong secret: exit %d\n%s", code, out)
	}
}

// The client secret, from the environment or a file, reaches the token
// endpoint and nothing else: not the log, a report in any format, the
// summary, the metrics, the store, an error, even when the token
// endpoint echoes a wrong one back.
func TestEntraSecretNeverLeaks(t *testing.T) {
	wrong := randomSecret(t, "Wr0ng~Secret+&=")
	for _, route := range []string{"UPNSYNC_CLIENT_SECRET", "--client-secret-file"} {
		for _, tt := range []struct {
			name, secret string
			code         int
			want         string
		}{
			{"right secret", entratest.DefaultSecret, exitPending, ""},
			{"wrong secret", wrong, exitError, "AADSTS7000215: Invalid client secret provided"},
		} {
			t.Run(route+"/"+tt.name, func(t *testing.T) {
				e := newEntraEnv(t, entratest.SampleUsers(), entraStoreCSV)
				e.tn.EchoSecret = true
				env := map[string]string{"UPNSYNC_CLIENT_SECRET": tt.secret}
				var extra []string
				if route == "--client-secret-file" {
					env = nil
					extra = []string{"--client-secret-file", writeFile(t, filepath.Join(e.dir, "pw"), tt.secret+"\n", 0o600)}
				}
				base := e.entra(append(extra, "--log-file-path", filepath.Join(e.dir, "logs")+string(filepath.Separator),
					"--summary-file", filepath.Join(e.dir, "summary.json"), "--metrics-file", filepath.Join(e.dir, "upnsync.prom"), "--retries", "0")...)
				var outputs []string
				for _, format := range []string{"text", "json", "csv"} {
					code, out, errOut := cli(t, env, append(base, "--report", format)...)
					if code != tt.code || !strings.Contains(errOut, tt.want) {
						t.Fatalf("%s report: exit %d, want %d\n%s\n%s", format, code, tt.code, out, errOut)
					}
					outputs = append(outputs, out, errOut)
					code, out, errOut = cli(t, env, append(base, "--report", format, "--report-file", filepath.Join(e.dir, "report."+format))...)
					if code != tt.code {
						t.Fatalf("%s report file: exit %d\n%s", format, code, errOut)
					}
					outputs = append(outputs, out, errOut)
				}
				code, out, _ := cli(t, env, append([]string{"doctor"}, base...)...)
				if tt.code == exitError && code != exitError {
					t.Errorf("doctor: exit %d\n%s", code, out)
				}
				outputs = append(outputs, out)
				code, out, errOut := cli(t, env, append([]string{"plan", "--out", filepath.Join(e.dir, "plan.json")}, e.entra(extra...)...)...)
				if code != tt.code {
					t.Errorf("plan: exit %d\n%s", code, errOut)
				}
				outputs = append(outputs, out, errOut)
				all := everything(t, e.dir, outputs...)
				for _, form := range []string{tt.secret, strings.ReplaceAll(tt.secret, "+", "%2B"), strings.NewReplacer("~", "%7E", "+", "%2B", "&", "%26", "=", "%3D").Replace(tt.secret)} {
					if strings.Contains(all, form) {
						t.Fatalf("the secret (as %q) appears in the output", form)
					}
				}
				if tt.code == exitError && !strings.Contains(all, "[redacted]") {
					t.Error("the echoed secret was not replaced: the test proves less than it should")
				}
			})
		}
	}
}
