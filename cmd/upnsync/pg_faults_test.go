package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/upnsync/upnsync/internal/faultproxy"
	"github.com/upnsync/upnsync/internal/testenv"
)

// Faults of a PostgreSQL store during --apply, through the command and the
// real server of scripts/testdirs.sh: the connection cut (through
// internal/faultproxy), the session ended by the server, the server gone
// for good, a lock held by another session, a statement timeout, an
// account or a database that may not write. Each time: exit code 1 as
// docs/design.md says, no batch half written, upnsync.journal holds exactly the
// users written, the error says what happened and what to do, and running
// the command again finishes the job.
//
// The store holds the 1200 users of newStoreFiles, written in 3 batches
// (500, 500, 200); user 700, in batch 2, is where the faults strike.

// pgFaultStore is a database of its own on the test server (dropped at
// the end), filled with storeFaultUsers users by `upnsync store import`.
type pgFaultStore struct {
	storeFiles
	env   testenv.PostgresEnv
	url   string // without the password
	pwEnv map[string]string
	admin *pgx.Conn // another session, as a DBA's psql
}

func newPgFaultStore(t *testing.T) pgFaultStore {
	t.Helper()
	env := testenv.Postgres(t)
	f := pgFaultStore{storeFiles: newStoreFiles(t), env: env, pwEnv: map[string]string{"UPNSYNC_STORE_PASSWORD": env.Password}}
	ctx := context.Background()
	connect := func(raw string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(raw)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Password = env.Password
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var b [6]byte
	rand.Read(b[:])
	name := "upnsync_f_" + hex.EncodeToString(b[:])
	main := connect(env.URL)
	defer main.Close(ctx)
	if _, err := main.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := connect(env.URL)
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(env.URL)
	u.Path = "/" + name
	f.url = u.String()
	f.admin = connect(f.url)
	t.Cleanup(func() { f.admin.Close(ctx) })
	if code, out, errOut := cli(t, f.pwEnv, "store", "import", "--store", f.url, filepath.Join(f.dir, "users.csv")); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	return f
}

func (f pgFaultStore) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := f.admin.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// pgArgs are a sync of the store at storeURL.
func (f pgFaultStore) pgArgs(storeURL string, extra ...string) []string {
	return append([]string{"--config-file-path", f.mapping, "--directory", "ldif:" + f.ldif, "--store", storeURL, "--batch-size", strconv.Itoa(batch)}, extra...)
}

// state reads the store as another program would: the users whose list
// holds their UPN, and the users each run journaled, in order.
func (f pgFaultStore) state(t *testing.T) (written []int, journal map[string][]int) {
	t.Helper()
	ctx := context.Background()
	rows, err := f.admin.Query(ctx, `SELECT id, windows_usernames FROM users ORDER BY id::int`)
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
			written = append(written, n)
		default:
			t.Errorf("user %s holds %q: half written?", id, list)
		}
	}
	rows.Close()
	journal = map[string][]int{}
	rows, err = f.admin.Query(ctx, `SELECT run_id, user_id, "before", "after" FROM upnsync.journal ORDER BY run_id, seq`)
	if err != nil {
		return written, journal // no schema yet: nothing was ever written
	}
	for rows.Next() {
		var run, id, before, after string
		rows.Scan(&run, &id, &before, &after)
		n, _ := strconv.Atoi(id)
		if before != fmt.Sprintf("u%d", n) || after != fmt.Sprintf("u%d;user%d@corp.example.com", n, n) {
			t.Errorf("journal of run %s, user %s: %q -> %q", run, id, before, after)
		}
		journal[run] = append(journal[run], n)
	}
	rows.Close()
	return written, journal
}

// slowUser700 makes the update of user 700 (batch 2) take d in the server,
// so that a test can strike while batch 2 is in flight.
func (f pgFaultStore) slowUser700(t *testing.T, d time.Duration) {
	t.Helper()
	f.exec(t, fmt.Sprintf(`CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(%g); RETURN NEW; END $$`, d.Seconds()))
	f.exec(t, `CREATE TRIGGER slow BEFORE UPDATE ON users FOR EACH ROW WHEN (NEW.id = '700') EXECUTE FUNCTION slow()`)
}

// inBatch2 waits until upnsync's session sleeps in user 700's trigger and
// returns its server process id.
func (f pgFaultStore) inBatch2(t *testing.T, done <-chan struct{}) int32 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var pid int32
		err := f.admin.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND application_name = 'upnsync' AND wait_event = 'PgSleep'`).Scan(&pid)
		if err == nil {
			return pid
		}
		select {
		case <-done:
			t.Fatal("the apply ended before batch 2 was in flight")
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("batch 2 never reached user 700")
	return 0
}

// finishes runs the command again, directly against the server: it writes
// the 700 users left, and a third run has nothing to do.
func (f pgFaultStore) finishes(t *testing.T, firstRun string) {
	t.Helper()
	code, out, errOut := cli(t, f.pwEnv, f.pgArgs(f.url, "--apply", "--report", "json")...)
	rep := decodePlan(t, out)
	if code != exitOK || rep.Summary["changes"] != storeFaultUsers-500 || rep.Applied == nil || rep.Applied.Written != storeFaultUsers-500 {
		t.Fatalf("the rerun: exit %d, %v, applied %+v\n%s", code, rep.Summary, rep.Applied, errOut)
	}
	code, out, _ = cli(t, f.pwEnv, f.pgArgs(f.url, "--report", "json")...)
	if rep = decodePlan(t, out); code != exitOK || rep.Summary["changes"] != 0 {
		t.Fatalf("the run after: exit %d, %v", code, rep.Summary)
	}
	written, journal := f.state(t)
	if len(written) != storeFaultUsers || len(journal) != 2 || !sameInts(journal[firstRun], ids(1, 500)) {
		t.Fatalf("after the rerun: %d users written, %d runs journaled, run %s journaled %d", len(written), len(journal), firstRun, len(journal[firstRun]))
	}
}

// The connection is lost while batch 2 is in flight, three ways: cut by
// the network (the proxy closes every connection, the run lock's
// included), ended by the server (pg_terminate_backend, as an
// administrator or a failover does), or the server gone for good (the
// proxy stops listening: even the journal cannot be read). Batch 1 stays
// written, batch 2 is not written at all.
func TestPostgresFaultConnectionLostMidBatch(t *testing.T) {
	for _, tt := range []struct {
		name, outcome string
		proxy         bool
		strike        func(t *testing.T, f pgFaultStore, p *faultproxy.Proxy, pid int32)
	}{
		{"cut by the network", "that batch was not committed (the journal has none of it)", true,
			func(t *testing.T, f pgFaultStore, p *faultproxy.Proxy, pid int32) { p.DropAll() }},
		{"ended by the server", "that batch was not committed (the journal has none of it)", false,
			func(t *testing.T, f pgFaultStore, p *faultproxy.Proxy, pid int32) {
				f.exec(t, `SELECT pg_terminate_backend($1)`, pid)
			}},
		{"server gone", "whether that batch was committed could not be checked", true,
			func(t *testing.T, f pgFaultStore, p *faultproxy.Proxy, pid int32) { p.Close() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPgFaultStore(t)
			f.slowUser700(t, 2*time.Second)
			storeURL := f.url
			var p *faultproxy.Proxy
			if tt.proxy {
				pu, _ := url.Parse(f.url)
				var err error
				if p, err = faultproxy.Start(pu.Host); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { p.Close() })
				pu.Host = p.Addr() // still 127.0.0.1: the certificate's name holds
				storeURL = pu.String()
			}
			done := make(chan struct{})
			var code int
			var out, errOut string
			go func() {
				defer close(done)
				code, out, errOut = cli(t, f.pwEnv, f.pgArgs(storeURL, "--apply", "--report", "json")...)
			}()
			tt.strike(t, f, p, f.inBatch2(t, done))
			<-done
			t.Log(errOut)
			noStack(t, out, errOut)
			msg := errorLine(t, errOut)
			m := regexpRun.FindStringSubmatch(msg)
			if code != exitError || m == nil {
				t.Fatalf("exit %d, want 1 and an error naming the run:\n%s", code, errOut)
			}
			run := m[1]
			for _, want := range []string{`apply stopped in batch 2 of 3 (changes 501 to 1000)`, tt.outcome,
				"500 users written before it stay written (run " + run + ")", "run upnsync again to finish the job"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the error lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, `user "`) {
				t.Errorf("the error blames a user for a lost connection:\n%s", msg)
			}
			if strings.Contains(out+errOut, f.env.Password) {
				t.Fatal("the password is in the output")
			}
			if rep := decodePlan(t, out); rep.Applied == nil || rep.Applied.Written != 500 {
				t.Errorf("the report says %+v written", rep.Applied)
			}
			// The trigger is dropped once the session that ran it has
			// ended (DROP TRIGGER waits for its transaction).
			f.exec(t, `DROP TRIGGER slow ON users`)
			written, journal := f.state(t)
			if !sameInts(written, ids(1, 500)) || len(journal) != 1 || !sameInts(journal[run], ids(1, 500)) {
				t.Fatalf("%d users written, journal of run %s: %d users (%d runs); want exactly users 1 to 500",
					len(written), run, len(journal[run]), len(journal))
			}
			f.finishes(t, run)
		})
	}
}

// Another session holds a lock upnsync needs: the apply waits as long as
// for a locked SQLite store (5 s), then stops with words that say so.
// A row lock on user 700 stops batch 2 (batch 1 stays written); a lock on
// the whole table stops even a dry run's read. Once the other session is
// done, the same command goes through.
func TestPostgresFaultLockHeldByAnotherSession(t *testing.T) {
	f := newPgFaultStore(t)
	ctx := context.Background()
	other, err := pgx.ConnectConfig(ctx, f.admin.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)

	// The table, exclusively: not even a dry run reads it.
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE users IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	code, out, errOut := cli(t, f.pwEnv, f.pgArgs(f.url)...)
	noStack(t, out, errOut)
	if msg := errorLine(t, errOut); code != exitError || !strings.Contains(msg, `another session holds a lock on "users" or its rows (waited 5s); retry when it has finished`) {
		t.Fatalf("table locked, dry run: exit %d\n%s", code, errOut)
	}
	if waited := time.Since(started); waited < 4*time.Second || waited > 30*time.Second {
		t.Errorf("gave up after %s; the lock timeout is 5s", waited)
	}
	tx.Rollback(ctx)

	// One row, in an open transaction: batch 2 waits for it, then stops.
	tx, err = other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE users SET email = 'edited@example.org' WHERE id = '700'`); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cli(t, f.pwEnv, f.pgArgs(f.url, "--apply", "--report", "json")...)
	noStack(t, out, errOut)
	msg := errorLine(t, errOut)
	m := regexpRun.FindStringSubmatch(msg)
	if code != exitError || m == nil {
		t.Fatalf("row locked, apply: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{`user "700": cannot update the Windows usernames`, `another session holds a lock on "users" or its rows (waited 5s)`,
		`apply stopped in batch 2 of 3 (changes 501 to 1000) at user "700"`, "that batch was rolled back; 500 users written before it stay written (run " + m[1] + ")"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	written, journal := f.state(t)
	if !sameInts(written, ids(1, 500)) || len(journal) != 1 || !sameInts(journal[m[1]], ids(1, 500)) {
		t.Fatalf("%d users written, %d journaled; want users 1 to 500", len(written), len(journal[m[1]]))
	}
	tx.Rollback(ctx)
	f.finishes(t, m[1])
}

// The server cancels a statement that outlives the statement_timeout a DBA
// set for the database (or the account): batch 2 is rolled back, the error
// names the setting to raise.
func TestPostgresFaultStatementTimeout(t *testing.T) {
	f := newPgFaultStore(t)
	f.slowUser700(t, 3*time.Second)
	f.exec(t, `ALTER DATABASE `+pgx.Identifier{f.admin.Config().Database}.Sanitize()+` SET statement_timeout = '1s'`)
	code, out, errOut := cli(t, f.pwEnv, f.pgArgs(f.url, "--apply")...)
	noStack(t, out, errOut)
	msg := errorLine(t, errOut)
	m := regexpRun.FindStringSubmatch(msg)
	if code != exitError || m == nil {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"canceling statement due to statement timeout (SQLSTATE 57014)",
		"raise it for upnsync's account (ALTER ROLE ... SET statement_timeout", "apply stopped in batch 2 of 3", "that batch was rolled back; 500 users written before it stay written"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error lacks %q:\n%s", want, msg)
		}
	}
	if written, journal := f.state(t); !sameInts(written, ids(1, 500)) || !sameInts(journal[m[1]], ids(1, 500)) {
		t.Fatalf("%d users written, %d journaled; want users 1 to 500", len(written), len(journal[m[1]]))
	}
	f.exec(t, `ALTER DATABASE `+pgx.Identifier{f.admin.Config().Database}.Sanitize()+` RESET statement_timeout`)
	f.exec(t, `DROP TRIGGER slow ON users`)
	f.finishes(t, m[1])
}

// An account that may read but not write, and a database that refuses
// every write: the apply stops before writing any user, says why and what
// to ask for; once the right is back, the same command does the job.
func TestPostgresFaultReadOnly(t *testing.T) {
	for _, tt := range []struct {
		name, deny, allow, want string
	}{
		{"account without UPDATE", `REVOKE UPDATE ON users FROM CURRENT_USER`, `GRANT UPDATE ON users TO CURRENT_USER`,
			"permission denied for table users (SQLSTATE 42501); grant this account the rights it needs"},
		{"read-only database", `ALTER DATABASE %s SET default_transaction_read_only = on`, `ALTER DATABASE %s RESET default_transaction_read_only`,
			"cannot execute INSERT in a read-only transaction (SQLSTATE 25006); the database refuses writes (default_transaction_read_only is on for this database or account, or the server is a standby)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPgFaultStore(t)
			db := pgx.Identifier{f.admin.Config().Database}.Sanitize()
			f.exec(t, strings.ReplaceAll(tt.deny, "%s", db))
			code, out, errOut := cli(t, f.pwEnv, f.pgArgs(f.url, "--apply")...)
			noStack(t, out, errOut)
			if msg := errorLine(t, errOut); code != exitError || !strings.Contains(msg, tt.want) || !strings.Contains(msg, "nothing was written") {
				t.Fatalf("exit %d\n%s\nwant %q and nothing was written", code, errOut, tt.want)
			}
			if written, journal := f.state(t); len(written) != 0 || len(journal) != 0 {
				t.Fatalf("%d users written, %d runs journaled", len(written), len(journal))
			}
			f.exec(t, strings.ReplaceAll(tt.allow, "%s", db))
			code, out, errOut = cli(t, f.pwEnv, f.pgArgs(f.url, "--apply", "--report", "json")...)
			if rep := decodePlan(t, out); code != exitOK || rep.Applied == nil || rep.Applied.Written != storeFaultUsers {
				t.Fatalf("once allowed: exit %d %+v\n%s", code, rep.Applied, errOut)
			}
		})
	}
}
