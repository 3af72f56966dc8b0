package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Faults in the store during --apply, through the command: a failure in
// the middle of a batch, the store locked by another process. No batch is
// ever half written, the journal says exactly which users were written,
// and running the command again finishes the job.

// storeFaultUsers gives 3 batches of --batch-size batch: batch, batch
// and batch*2/5 changes. refusedUser is in the middle of batch 2. The
// batch is smaller than octopus.DefaultBatchSize so that the stores stay
// small; the option is what an administrator would use too.
const (
	batch           = 500
	storeFaultUsers = 2*batch + batch*2/5
	refusedUser     = batch + batch*2/5
)

// batch2Stopped is what an apply that stopped in batch 2 says.
var batch2Stopped = fmt.Sprintf("apply stopped in batch 2 of 3 (changes %d to %d)", batch+1, 2*batch)

// batch1Stays is what it says about batch 1.
var batch1Stays = fmt.Sprintf("that batch was rolled back; %d users written before it stay written", batch)

type storeFiles struct {
	dir, mapping, ldif, db, store string
}

// newStoreFiles writes a directory export of storeFaultUsers people, and a
// store of as many Octopus users matched to them by Windows username, so
// that every user gets one change: user i (IDs 1 to 1200, planned and
// written in that order) gains user<i>@corp.example.com.
func newStoreFiles(t *testing.T) storeFiles {
	t.Helper()
	dir := t.TempDir()
	f := storeFiles{dir: dir,
		mapping: filepath.Join(dir, "ADSIReaderLDAPMappings.xml"),
		ldif:    filepath.Join(dir, "directory.ldif"),
		db:      filepath.Join(dir, "octopus.db"),
	}
	f.store = "sqlite:" + f.db
	if err := os.WriteFile(f.mapping, mustRead(t, filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml")), 0o644); err != nil {
		t.Fatal(err)
	}
	var ldif, csv strings.Builder
	ldif.WriteString("version: 1\n")
	csv.WriteString("ID,FirstName,LastName,Email,WindowsUsername,ExternalIdentifier,Active\n")
	for i := 1; i <= storeFaultUsers; i++ {
		fmt.Fprintf(&ldif, "\ndn: CN=User %d,OU=Staff,DC=corp,DC=example,DC=com\nobjectClass: user\nsAMAccountName: u%d\nuserPrincipalName: user%d@corp.example.com\n", i, i, i)
		fmt.Fprintf(&csv, "%d,User,Number %d,u%d@mail.example.org,u%d,,true\n", i, i, i, i)
	}
	csvPath := filepath.Join(dir, "users.csv")
	for path, data := range map[string]string{f.ldif: ldif.String(), csvPath: csv.String()} {
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, out, errOut := cli(t, nil, "store", "import", "--store", f.store, csvPath); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	return f
}

func (f storeFiles) args(extra ...string) []string {
	return append([]string{"--config-file-path", f.mapping, "--directory", "ldif:" + f.ldif, "--store", f.store, "--batch-size", strconv.Itoa(batch)}, extra...)
}

// storeState reads the store as another program would.
type storeState struct {
	written  map[int]bool // users whose list holds their UPN
	journal  map[string][]int
	runs     map[string]int // run id: written count recorded
	finished map[string]bool
}

func readStore(t *testing.T, path string) storeState {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := storeState{written: map[int]bool{}, journal: map[string][]int{}, runs: map[string]int{}, finished: map[string]bool{}}
	rows, err := db.Query(`SELECT id, windows_usernames FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, list string
		rows.Scan(&id, &list)
		n, _ := strconv.Atoi(id)
		switch list {
		case fmt.Sprintf("u%d", n):
		case fmt.Sprintf("u%d;user%d@corp.example.com", n, n):
			st.written[n] = true
		default:
			t.Errorf("user %s holds %q", id, list)
		}
	}
	rows.Close()
	rows, err = db.Query(`SELECT run_id, user_id, "before", "after" FROM upnsync_journal ORDER BY run_id, seq`)
	if err == nil {
		for rows.Next() {
			var run, id, before, after string
			rows.Scan(&run, &id, &before, &after)
			n, _ := strconv.Atoi(id)
			if before != fmt.Sprintf("u%d", n) || after != fmt.Sprintf("u%d;user%d@corp.example.com", n, n) {
				t.Errorf("journal of run %s, user %s: %q -> %q", run, id, before, after)
			}
			st.journal[run] = append(st.journal[run], n)
		}
		rows.Close()
	}
	rows, err = db.Query(`SELECT id, written, finished IS NOT NULL FROM upnsync_runs`)
	if err == nil {
		for rows.Next() {
			var run string
			var n int
			var fin bool
			rows.Scan(&run, &n, &fin)
			st.runs[run], st.finished[run] = n, fin
		}
		rows.Close()
	}
	return st
}

// regexpRun finds the run id an error names.
var regexpRun = regexp.MustCompile(`\(run (\d{8}T\d{6}Z-[0-9a-f]{6})\)`)

// ids is from..to.
func ids(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A write refused in the middle of batch 2 (a trigger stands for any
// failure inside a transaction): batch 1 stays written, batch 2 is rolled
// back whole, batch 3 is never tried; the journal and the run record say
// exactly the users of batch 1; a second apply writes the others and a
// third run has nothing to do.
func TestStoreFailureMidBatch(t *testing.T) {
	f := newStoreFiles(t)
	db, err := sql.Open("sqlite", f.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf(`CREATE TRIGGER refuse BEFORE UPDATE ON users WHEN NEW.id = '%d'
		BEGIN SELECT RAISE(ABORT, 'the disk controller failed (a test trigger)'); END`, refusedUser)); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := cli(t, nil, f.args("--apply", "--report", "json")...)
	t.Log(errOut)
	noStack(t, out, errOut)
	if code != exitError {
		t.Fatalf("exit %d, want 1\n%s", code, errOut)
	}
	rep := decodePlan(t, out)
	var runID string
	if m := regexpRun.FindStringSubmatch(errOut); m != nil {
		runID = m[1]
	}
	for _, want := range []string{
		fmt.Sprintf(`user "%d": cannot update the Windows usernames`, refusedUser), "the disk controller failed (a test trigger)",
		fmt.Sprintf(`%s at user "%d"`, batch2Stopped, refusedUser),
		batch1Stays + " (run " + runID + ")",
		"run upnsync again to finish the job",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the error lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Count(strings.TrimSpace(errOut), "\n") != 0 || runID == "" {
		t.Errorf("want one error line naming the run:\n%s", errOut)
	}
	if rep.Applied == nil || rep.Applied.Written != batch || rep.Complete != true {
		t.Errorf("the report says %+v written", rep.Applied)
	}
	st := readStore(t, f.db)
	var written []int
	for i := 1; i <= storeFaultUsers; i++ {
		if st.written[i] {
			written = append(written, i)
		}
	}
	if !sameInts(written, ids(1, batch)) {
		t.Fatalf("users written: %d (%v...), want exactly users 1 to %d", len(written), written[:min(5, len(written))], batch)
	}
	if len(st.journal) != 1 || !sameInts(st.journal[runID], ids(1, batch)) || st.runs[runID] != batch || !st.finished[runID] {
		t.Fatalf("journal of run %s: %d entries; run record %d written, finished %v; want users 1 to %d",
			runID, len(st.journal[runID]), st.runs[runID], st.finished[runID], batch)
	}

	// The cause gone, the same command finishes the job, then has nothing
	// left to do.
	if _, err := db.Exec(`DROP TRIGGER refuse`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cli(t, nil, f.args("--apply", "--report", "json")...)
	rep = decodePlan(t, out)
	if code != exitOK || rep.Summary["changes"] != storeFaultUsers-batch || rep.Applied == nil || rep.Applied.Written != storeFaultUsers-batch {
		t.Fatalf("second apply: exit %d, %v, applied %+v\n%s", code, rep.Summary, rep.Applied, errOut)
	}
	code, out, _ = cli(t, nil, f.args("--report", "json")...)
	if rep = decodePlan(t, out); code != exitOK || rep.Summary["changes"] != 0 || rep.Summary["unchanged"] != storeFaultUsers {
		t.Fatalf("third run: exit %d, %v", code, rep.Summary)
	}
	st = readStore(t, f.db)
	if len(st.written) != storeFaultUsers || len(st.journal) != 2 {
		t.Fatalf("after the rerun: %d users written, %d runs journaled", len(st.written), len(st.journal))
	}
}

// Another process writing to the store: the apply waits for it (the busy
// timeout), then stops with words that say so and writes nothing; once
// the other process is done, the same command goes through. A process
// holding an exclusive lock keeps even the dry run's read out.
func TestStoreLockedByAnotherProcess(t *testing.T) {
	for _, tt := range []struct {
		mode, args, want string
	}{
		{"IMMEDIATE", "--apply", "cannot record the run; nothing was written: the database is locked by another process (waited 5s); retry when it has finished"},
		{"EXCLUSIVE", "", "the database is locked by another process (waited 5s); retry when it has finished"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			f := newStoreFiles(t)
			before := fileHash(t, f.db)
			release := holdSQLiteLock(t, f.db, tt.mode)
			args := f.args()
			if tt.args != "" {
				args = append(args, tt.args)
			}
			started := time.Now()
			code, out, errOut := cli(t, nil, args...)
			waited := time.Since(started)
			t.Log(errOut)
			noStack(t, out, errOut)
			if code != exitError || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d\n%s\nwant %q", code, errOut, tt.want)
			}
			if waited < 4*time.Second {
				t.Errorf("gave up after %s, before the busy timeout", waited)
			}
			release()
			if fileHash(t, f.db) != before {
				t.Fatal("the store changed")
			}
			code, _, errOut = cli(t, nil, f.args("--apply")...)
			if code != exitOK || len(readStore(t, f.db).written) != storeFaultUsers {
				t.Fatalf("after the lock was released: exit %d\n%s", code, errOut)
			}
		})
	}
}
