//go:build unix

package main

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A run that stopped part way (the store failed after batch 1) is undone
// like any other: `upnsync undo RUN --apply` restores exactly the users
// that run wrote, byte for byte, and only them. Through SQLite (a write
// refused in batch 2) and PostgreSQL (the session ended in batch 2).
func TestUndoOfAPartlyAppliedRun(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		f := newStoreFiles(t)
		_, before, _ := cli(t, nil, "store", "export", "--store", f.store)
		db, err := sql.Open("sqlite", f.db)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TRIGGER refuse BEFORE UPDATE ON users WHEN NEW.id = '700'
			BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := cli(t, nil, f.args("--apply")...)
		m := regexpRun.FindStringSubmatch(errOut)
		if code != exitError || m == nil || !strings.Contains(errOut, "500 users written before it stay written") {
			t.Fatalf("the partial apply: exit %d\n%s", code, errOut)
		}
		undoPartialRun(t, nil, m[1], before, "--store", f.store)
	})
	t.Run("postgres", func(t *testing.T) {
		f := newPgFaultStore(t)
		_, before, _ := cli(t, f.pwEnv, "store", "export", "--store", f.url)
		f.slowUser700(t, 2*time.Second)
		done := make(chan struct{})
		var code int
		var errOut string
		go func() {
			defer close(done)
			code, _, errOut = cli(t, f.pwEnv, f.pgArgs(f.url, "--apply")...)
		}()
		f.exec(t, `SELECT pg_terminate_backend($1)`, f.inBatch2(t, done))
		<-done
		m := regexpRun.FindStringSubmatch(errOut)
		if code != exitError || m == nil || !strings.Contains(errOut, "500 users written before it stay written") {
			t.Fatalf("the partial apply: exit %d\n%s", code, errOut)
		}
		f.exec(t, `DROP TRIGGER slow ON users`)
		undoPartialRun(t, f.pwEnv, m[1], before, "--store", f.url)
	})
}

// undoPartialRun undoes run, which wrote users 1 to 500 of newStoreFiles,
// and checks that the store is back to before, as exported.
func undoPartialRun(t *testing.T, env map[string]string, run, before string, store ...string) {
	t.Helper()
	code, out, errOut := cli(t, env, append([]string{"undo", run, "--report", "json"}, store...)...)
	if rep := decodePlan(t, out); code != exitPending || rep.Summary["changes"] != 500 {
		t.Fatalf("undo (dry run): exit %d, %v\n%s", code, rep.Summary, errOut)
	}
	code, out, errOut = cli(t, env, append([]string{"undo", run, "--apply", "--report", "json"}, store...)...)
	if rep := decodePlan(t, out); code != exitOK || rep.Applied == nil || rep.Applied.Written != 500 {
		t.Fatalf("undo --apply: exit %d %+v\n%s", code, rep.Applied, errOut)
	}
	if _, after, _ := cli(t, env, append([]string{"store", "export"}, store...)...); after != before {
		t.Fatal("the undo did not restore the store as it was before the partial run")
	}
	_, runs, _ := cli(t, env, append([]string{"runs"}, store...)...)
	if lines := strings.Split(strings.TrimSpace(runs), "\n"); len(lines) != 2 || !strings.Contains(lines[0], "undo") || !strings.HasPrefix(lines[1], run) {
		t.Fatalf("runs:\n%s", runs)
	}
}

// Run-lock contention under a fault: the run holding the PostgreSQL
// store's lock is killed (SIGKILL) in the middle of batch 2 while a second
// run waits for the lock (--wait-lock). The server ends the dead run's
// sessions, which releases its lock and rolls batch 2 back; the waiting run
// gets the lock, reports the stale holder, plans from what batch 1 wrote
// and writes exactly the other 700 users. The journal tells the two runs
// apart.
func TestKilledLockHolderMidApplyThroughPostgres(t *testing.T) {
	f := newPgFaultStore(t)
	// Only the first update of user 700 is slow: a sequence is not rolled
	// back with the killed run's transaction.
	f.exec(t, `CREATE SEQUENCE slow_once`)
	f.exec(t, `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF nextval('slow_once') = 1 THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$`)
	f.exec(t, `CREATE TRIGGER slow BEFORE UPDATE ON users FOR EACH ROW WHEN (NEW.id = '700') EXECUTE FUNCTION slow()`)

	victim := startUpnsync(t, []string{"UPNSYNC_STORE_PASSWORD=" + f.env.Password}, f.pgArgs(f.url, "--apply")...)
	f.inBatch2(t, victim.done)

	type result struct {
		code        int
		out, errOut string
	}
	next := make(chan result, 1)
	go func() {
		code, out, errOut := cli(t, f.pwEnv, f.pgArgs(f.url, "--apply", "--wait-lock", "60s", "--report", "json")...)
		next <- result{code, out, errOut}
	}()
	// The second run queues for the advisory lock in the server.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		f.admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND application_name LIKE 'upnsync run lock, pid %' AND wait_event_type = 'Lock'`).Scan(&n)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second run never waited for the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done

	var r result
	select {
	case r = <-next:
	case <-time.After(60 * time.Second):
		t.Fatal("the waiting run did not finish")
	}
	rep := parseSafety(t, r.out)
	if r.code != exitOK || rep.Applied == nil || rep.Applied.Written != storeFaultUsers-500 {
		t.Fatalf("the waiting run: exit %d %+v\n%s", r.code, rep.Applied, r.errOut)
	}
	for _, want := range []string{"a previous run ended without releasing the store's lock", "the database server released it",
		"pid " + strconv.Itoa(victim.cmd.Process.Pid)} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("the stale lock was not reported (%q):\n%s", want, r.errOut)
		}
	}
	written, journal := f.state(t)
	if len(written) != storeFaultUsers || len(journal) != 2 {
		t.Fatalf("%d users written, %d runs journaled", len(written), len(journal))
	}
	for run, users := range journal {
		if run == rep.Applied.RunID {
			if !sameInts(users, ids(501, storeFaultUsers)) {
				t.Errorf("the second run journaled %d users, want 501 to %d", len(users), storeFaultUsers)
			}
		} else if !sameInts(users, ids(1, 500)) {
			t.Errorf("the killed run %s journaled %d users, want 1 to 500", run, len(users))
		}
	}
}
