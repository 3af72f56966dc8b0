package octopus

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/upnsync/upnsync/internal/runlock"
	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
)

// pgDatabase creates a database of its own for one test on the test
// server and drops it at the end. It returns its URL (without the
// password) and the password.
func pgDatabase(t *testing.T) (string, string) {
	t.Helper()
	env := testenv.Postgres(t)
	ctx := context.Background()
	admin := pgConnT(t, env.URL, env.Password)
	var b [6]byte
	rand.Read(b[:])
	name := "upnsync_t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.ConnectConfig(ctx, pgConfigT(t, env.URL, env.Password))
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String(), env.Password
}

func pgConfigT(t testing.TB, rawURL, password string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = password
	return cfg
}

// pgConnT is another connection, as another program or an administrator
// with psql would have.
func pgConnT(t testing.TB, rawURL, password string) *pgx.Conn {
	t.Helper()
	c, err := pgx.ConnectConfig(context.Background(), pgConfigT(t, rawURL, password))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgExecT(t testing.TB, c *pgx.Conn, q string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func pgBackend() backend {
	var mu sync.Mutex
	passwords := map[string]string{}
	conn := func(t *testing.T, u string) *pgx.Conn {
		mu.Lock()
		pw := passwords[u]
		mu.Unlock()
		return pgConnT(t, u, pw)
	}
	return backend{
		name: "postgres",
		fresh: func(t *testing.T) (string, Options) {
			u, pw := pgDatabase(t)
			mu.Lock()
			passwords[u] = pw
			mu.Unlock()
			return u, Options{Password: pw}
		},
		setWU: func(t *testing.T, u, id, v string) {
			pgExecT(t, conn(t, u), `UPDATE users SET windows_usernames = $1 WHERE id = $2`, v, id)
		},
		deleteUser: func(t *testing.T, u, id string) { pgExecT(t, conn(t, u), `DELETE FROM users WHERE id = $1`, id) },
		refuseUpdates: func(t *testing.T, u, id string) {
			c := conn(t, u)
			pgExecT(t, c, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$`)
			pgExecT(t, c, `CREATE TRIGGER refuse BEFORE UPDATE ON users FOR EACH ROW
				WHEN (NEW.id = '`+id+`') EXECUTE FUNCTION refuse()`)
		},
		allowUpdates: func(t *testing.T, u string) { pgExecT(t, conn(t, u), `DROP TRIGGER refuse ON users`) },
		journal: func(t *testing.T, u, runID string) []string {
			rows, err := conn(t, u).Query(context.Background(), `SELECT seq, user_id, "before", "after" FROM upnsync.journal WHERE run_id = $1 ORDER BY seq`, runID)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var seq int
				var id, b, a string
				if err := rows.Scan(&seq, &id, &b, &a); err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%d %s %q→%q", seq, id, b, a))
			}
			return out
		},
		run: func(t *testing.T, u, runID string) (int, int, bool) {
			var w, st int
			var fin *time.Time
			conn(t, u).QueryRow(context.Background(), `SELECT written, stale, finished FROM upnsync.runs WHERE id = $1`, runID).Scan(&w, &st, &fin)
			return w, st, fin != nil
		},
		ownedRun: func(t *testing.T, u, id, entry string) string {
			var r string
			conn(t, u).QueryRow(context.Background(), `SELECT run_id FROM upnsync.owned WHERE user_id = $1 AND lower(entry) = lower($2)`, id, entry).Scan(&r)
			return r
		},
		ownedCount: func(t *testing.T, u string) int {
			var n int
			conn(t, u).QueryRow(context.Background(), `SELECT count(*) FROM upnsync.owned`).Scan(&n)
			return n
		},
		addOwned: func(t *testing.T, u, id, entry, guid string) {
			pgExecT(t, conn(t, u), `INSERT INTO upnsync.owned(tbl, user_id, entry, guid) VALUES ('"users"', $1, $2, $3)`, id, entry, guid)
		},
		lockChild: func(u string, opts Options) []string {
			return []string{lockChildEnv + "=" + lockChildSpec{URL: u, Table: opts.Table}.String(), lockChildPasswordEnv + "=" + opts.Password}
		},
	}
}

func TestContractPostgres(t *testing.T) {
	testenv.Postgres(t)
	testContract(t, pgBackend())
}

// Another session edits a user while the apply runs: the apply waits for
// its row lock, then its compare-and-swap sees the committed edit and
// reports the user as stale instead of overwriting it.
func TestPostgresConcurrentEditDuringApply(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()
	s := openStoreT(t, u, Options{Create: true, Password: pw})
	importT(t, s, "users.csv")
	changes := planEvery(t, s)

	other := pgConnT(t, u, pw)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE users SET windows_usernames = 'wli;wei.li@corp.example.com;wl@corp.example.com' WHERE id = '1008'`); err != nil {
		t.Fatal(err)
	}

	type result struct {
		a   upnsync.Applied
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(changes...))
		done <- result{a, err}
	}()
	// Commit only once the apply is seen waiting for the row lock.
	watch := pgConnT(t, u, pw)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting bool
		if err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'upnsync'
			AND datname = current_database() AND wait_event_type = 'Lock')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("the apply finished without waiting for the locked row: %+v %v", r.a, r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the apply never waited for the locked row")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	wantStale := []upnsync.Stale{{UserID: "1008", Expected: "wli;wei.li@corp.example.com", Found: "wli;wei.li@corp.example.com;wl@corp.example.com",
		Planned: "wli;wei.li@corp.example.com;u1008@corp.example.com"}}
	if !reflect.DeepEqual(r.a.Stale, wantStale) || len(r.a.Written) != 11 {
		t.Errorf("applied: written %v, stale %+v", r.a.Written, r.a.Stale)
	}
	if got := oneUserT(t, s, "1008"); got.WindowsUsernames != "wli;wei.li@corp.example.com;wl@corp.example.com" || got.Owned != nil {
		t.Errorf("1008 = %+v: the concurrent edit was overwritten", got)
	}
}

// The server ends the apply's session in the middle of a batch (an
// administrator's pg_terminate_backend, a failover): that batch is not
// written at all, the batches before it are, and the error, Applied, the
// journal and the run summary all say exactly which users were written.
func TestPostgresConnectionDropDuringApply(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()
	s := openStoreT(t, u, Options{Create: true, Password: pw, BatchSize: 5})
	importT(t, s, "users.csv")
	changes := planEvery(t, s)
	admin := pgConnT(t, u, pw)

	testBeforeCommit = func(batch int, pid uint32) {
		if batch != 2 {
			return
		}
		var ok bool
		if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)).Scan(&ok); err != nil || !ok {
			t.Errorf("pg_terminate_backend(%d): %v %v", pid, ok, err)
		}
	}
	defer func() { testBeforeCommit = nil }()

	a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(changes...))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"apply stopped in batch 2 of 3 (changes 6 to 10)",
		"that batch was not committed (the journal has none of it)",
		"5 users written before it stay written (run r1)",
		"run upnsync again to finish the job",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, pw) || strings.HasSuffix(msg, "EOF") {
		t.Errorf("error leaks the password or ends in a bare EOF: %s", msg)
	}
	if want := []string{"1001", "1002", "1003", "1004", "1005"}; !reflect.DeepEqual(a.Written, want) {
		t.Errorf("written = %v, want %v", a.Written, want)
	}
	// No partial batch: exactly the first batch's users changed.
	for _, usr := range allUsersT(t, s) {
		changed := strings.Contains(usr.WindowsUsernames, "u"+usr.ID+"@")
		if changed != (usr.ID <= "1005") {
			t.Errorf("user %s changed = %v", usr.ID, changed)
		}
	}
	var n int
	admin.QueryRow(ctx, `SELECT count(*) FROM upnsync.journal WHERE run_id = 'r1'`).Scan(&n)
	if n != 5 {
		t.Errorf("journal rows = %d, want 5", n)
	}
	var written int
	admin.QueryRow(ctx, `SELECT written FROM upnsync.runs WHERE id = 'r1'`).Scan(&written)
	if written != 5 {
		t.Errorf("run summary written = %d, want 5", written)
	}

	// The store recovers: a new plan finishes the job on a new connection.
	testBeforeCommit = nil
	var rest []upnsync.Change
	for _, c := range planEvery(t, s) {
		if c.UserID > "1005" {
			rest = append(rest, c)
		}
	}
	if a, err := s.Apply(ctx, upnsync.Run{ID: "r2"}, upnsync.ChangesOf(rest...)); err != nil || len(a.Written) != 7 {
		t.Errorf("second run: %+v %v", a, err)
	}
}

// A table that is not upnsync's: other column names, an integer id, a
// varchar list, a uuid external id and no e-mail column.
func TestPostgresForeignTable(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()
	c := pgConnT(t, u, pw)
	pgExecT(t, c, `CREATE SCHEMA octopus`)
	pgExecT(t, c, `CREATE TABLE octopus."Person" (
		person_id integer PRIMARY KEY, given text, family text, win_names varchar(250), ext uuid, enabled smallint)`)
	pgExecT(t, c, `INSERT INTO octopus."Person" VALUES
		(7, 'Jane', 'Doe', 'jdoe', '3f2504e0-4f89-11d3-9a0c-0305e82c3301', 1),
		(10, 'Marc', 'Tremblay', NULL, NULL, 0),
		(9, 'Wei', 'Li', 'wli', NULL, NULL)`)
	cols := "id=person_id,first_name=given,LastName=family,email=,windows_usernames=win_names,external_id=ext,active=enabled"
	s := openStoreT(t, u, Options{Password: pw, Table: `octopus.Person`, Columns: cols})
	got := allUsersT(t, s)
	want := []upnsync.User{
		{ID: "10", FirstName: "Marc", LastName: "Tremblay", Active: false},
		{ID: "7", FirstName: "Jane", LastName: "Doe", WindowsUsernames: "jdoe", ExternalID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", Active: true},
		{ID: "9", FirstName: "Wei", LastName: "Li", WindowsUsernames: "wli", Active: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("users:\n got %+v\nwant %+v", got, want)
	}
	if d := s.Describe(); !strings.HasSuffix(d, ` (table octopus.Person)`) || strings.Contains(d, pw) {
		t.Errorf("Describe = %q", d)
	}
	a, err := s.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(
		change("7", "jdoe", "jdoe;jane.doe@corp.example.com", "g7", "jane.doe@corp.example.com"),
		change("10", "", "marc.tremblay@corp.example.com", "g10", "marc.tremblay@corp.example.com"),
	))
	if err != nil || len(a.Written) != 2 {
		t.Fatalf("apply: %+v %v", a, err)
	}
	var wn string
	c.QueryRow(ctx, `SELECT win_names FROM octopus."Person" WHERE person_id = 10`).Scan(&wn)
	if wn != "marc.tremblay@corp.example.com" {
		t.Errorf("10 = %q", wn)
	}
	if u := oneUserT(t, s, "7"); len(u.Owned) != 1 {
		t.Errorf("7 owned = %+v", u.Owned)
	}

	// Import writes through the same conversions; a column the table does
	// not have is refused before anything is written.
	res, err := s.ImportCSV(ctx, strings.NewReader("ID,FirstName,Active\n11,Ann,false\n7,Jane,true\n"), "more.csv")
	if err != nil || res != (ImportResult{Read: 2, Created: 1, Unchanged: 1}) {
		t.Errorf("import: %+v %v", res, err)
	}
	var enabled int
	c.QueryRow(ctx, `SELECT enabled FROM octopus."Person" WHERE person_id = 11`).Scan(&enabled)
	if enabled != 0 {
		t.Errorf("11 enabled = %d", enabled)
	}
	_, err = s.ImportCSV(ctx, strings.NewReader("ID,Email\n12,x@corp.example.com\n"), "mail.csv")
	if err == nil || !strings.Contains(err.Error(), "mail.csv: column Email has nowhere to go") {
		t.Errorf("import with Email: %v", err)
	}

	// A wrong column name is named, with the columns the table has.
	_, err = Open(ctx, u, Options{Password: pw, Table: "octopus.Person", Columns: strings.Replace(cols, "=win_names", "=winnames", 1)})
	if err == nil || !strings.Contains(err.Error(), `table "octopus"."Person" has no column "winnames" for windows_usernames (its columns: person_id, given, family, win_names, ext, enabled)`) {
		t.Errorf("wrong column: %v", err)
	}
}

// Errors name what to do and never carry the password.
func TestPostgresOpenErrors(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()

	_, err := Open(ctx, u, Options{Password: "wrong-" + pw})
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") ||
		!strings.Contains(err.Error(), "--store-password-file") || strings.Contains(err.Error(), pw) {
		t.Errorf("wrong password: %v", err)
	}

	withPW, _ := url.Parse(u)
	withPW.User = url.UserPassword(withPW.User.Username(), pw)
	s, err := Open(ctx, withPW.String(), Options{Create: true})
	if err != nil {
		t.Fatalf("password in the URL: %v", err)
	}
	if d := s.Describe(); strings.Contains(d, pw) || !strings.Contains(d, ":xxxxx@") {
		t.Errorf("Describe = %q", d)
	}
	s.Close()
	_, err = Open(ctx, withPW.String(), Options{Password: pw})
	if err == nil || !strings.Contains(err.Error(), "give it once") || strings.Contains(err.Error(), pw) {
		t.Errorf("two passwords: %v", err)
	}

	missingDB, _ := url.Parse(u)
	missingDB.Path = "/no_such_database"
	_, err = Open(ctx, missingDB.String(), Options{Password: pw})
	if err == nil || !strings.Contains(err.Error(), `database "no_such_database" does not exist`) {
		t.Errorf("missing database: %v", err)
	}

	_, err = Open(ctx, u, Options{Password: pw})
	if want := `table "users" does not exist in database`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("missing table: %v", err)
	}

	closed, _ := url.Parse(u)
	closed.Host = "127.0.0.1:1"
	_, err = Open(ctx, closed.String(), Options{Password: pw})
	if err == nil || !strings.Contains(err.Error(), "check the host, port and TLS settings") || strings.Contains(err.Error(), pw) {
		t.Errorf("nothing listening: %v", err)
	}
}

// A dry run's sessions are read-only on the server too: even a statement
// the store would never send for a dry run is refused.
func TestPostgresReadOnlySession(t *testing.T) {
	u, pw := pgDatabase(t)
	s := openStoreT(t, u, Options{Create: true, Password: pw})
	importT(t, s, "users.csv")
	ro := openStoreT(t, u, Options{Password: pw, ReadOnly: true}).(*pgStore)
	_, err := ro.pool.Exec(context.Background(), `UPDATE users SET email = 'x' WHERE id = '1001'`)
	if err == nil || !strings.Contains(ro.explain("test", err).Error(), "the store was opened read-only (dry run)") {
		t.Errorf("write in a read-only session: %v", err)
	}
}

func TestParseColumns(t *testing.T) {
	cols, err := ParseColumns(" id = UserID , WindowsUsername=win_names,email=")
	want := [numColumns]string{"UserID", "first_name", "last_name", "", "win_names", "external_id", "active"}
	if err != nil || cols != want {
		t.Errorf("got %q %v, want %q", cols, err, want)
	}
	for spec, msg := range map[string]string{
		"windows_usernames=":               "windows_usernames needs a column",
		"nick=x":                           `unknown key "nick"`,
		"id=a,ID=b":                        "id is given twice",
		"id=x,email=x":                     `id and email are both the column "x"`,
		"email":                            "is not key=column",
		"email=" + strings.Repeat("x", 64): "longer than PostgreSQL's 63 bytes",
	} {
		if _, err := ParseColumns(spec); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", spec, err, msg)
		}
	}
	if id, err := ParseTable(`Octopus Data.Users"x`); err != nil || id.Sanitize() != `"Octopus Data"."Users""x"` {
		t.Errorf("ParseTable: %v %v", id, err)
	}
	if _, err := ParseTable("a.b.c"); err == nil {
		t.Error("a.b.c accepted")
	}
}

func TestRedactPostgres(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://octo:s3cret@db.corp.example.com:5432/octopus?sslmode=verify-full": "postgres://octo:xxxxx@db.corp.example.com:5432/octopus?sslmode=verify-full",
		"postgres://octo@db/octopus?password=s3cret&sslmode=require":                  "postgres://octo@db/octopus?password=xxxxx&sslmode=require",
		"postgresql://db/octopus": "postgresql://db/octopus",
	} {
		if got := redactPostgres(in); got != want {
			t.Errorf("redactPostgres(%q) = %q, want %q", in, got, want)
		}
	}
}

// cutProxy forwards TCP connections to target; once armed, it lets the
// next client message containing "commit" reach the server, waits for the
// server to act on it, then cuts the connection before any reply comes
// back: the commit happened, and the client cannot know.
type cutProxy struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	fired  atomic.Bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	defer client.Close()
	defer server.Close()
	// cut is set before the commit goes out: the server's reply is dropped
	// and the client's side closed, as when a network path fails.
	var cut atomic.Bool
	go func() {
		defer client.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if cut.Load() {
				return
			}
			if n > 0 {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			commit := p.armed.Load() && bytes.Contains(bytes.ToLower(buf[:n]), []byte("commit"))
			if commit {
				p.armed.Store(false)
				cut.Store(true)
				p.fired.Store(true)
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
			if commit {
				time.Sleep(500 * time.Millisecond) // the server commits
				return                             // both connections close
			}
		}
		if err != nil {
			return
		}
	}
}

// The connection breaks after the server committed a batch but before
// upnsync heard so: the journal, read on a new connection, shows the batch
// was written, and Applied, the error and the run summary say so.
func TestPostgresCommitReplyLost(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()
	s := openStoreT(t, u, Options{Create: true, Password: pw})
	importT(t, s, "users.csv")

	pu, _ := url.Parse(u)
	proxy := newCutProxy(t, pu.Host)
	pu.Host = proxy.ln.Addr().String()
	q := pu.Query()
	q.Set("sslmode", "disable") // the proxy must see the commit go by
	q.Del("sslrootcert")
	pu.RawQuery = q.Encode()
	ps := openStoreT(t, pu.String(), Options{Password: pw, BatchSize: 5})
	changes := planEvery(t, ps)

	testBeforeCommit = func(batch int, _ uint32) {
		if batch == 2 {
			proxy.armed.Store(true)
		}
	}
	defer func() { testBeforeCommit = nil }()
	a, err := ps.Apply(ctx, upnsync.Run{ID: "r1"}, upnsync.ChangesOf(changes...))
	if !proxy.fired.Load() {
		t.Fatalf("the proxy never cut a commit: %+v %v", a, err)
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"apply stopped in batch 2 of 3 (changes 6 to 10)",
		"that batch was committed before the connection broke (5 users, per the journal)",
		"10 users written before it stay written (run r1)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	want := []string{"1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009", "1010"}
	if !reflect.DeepEqual(a.Written, want) {
		t.Errorf("written = %v, want %v", a.Written, want)
	}
	for _, usr := range allUsersT(t, s) {
		if changed := strings.Contains(usr.WindowsUsernames, "u"+usr.ID+"@"); changed != (usr.ID <= "1010") {
			t.Errorf("user %s changed = %v", usr.ID, changed)
		}
	}
	admin := pgConnT(t, u, pw)
	var journal, written int
	admin.QueryRow(ctx, `SELECT count(*) FROM upnsync.journal WHERE run_id = 'r1'`).Scan(&journal)
	admin.QueryRow(ctx, `SELECT written FROM upnsync.runs WHERE id = 'r1'`).Scan(&written)
	if journal != 10 || written != 10 {
		t.Errorf("journal %d rows, run summary %d written; want 10 each", journal, written)
	}
}

// A database written by the previous version (schema upnsync version 1,
// without run kinds or journal provenance) is read as it is by a dry run
// and upgraded by the first write, keeping its runs, which undo can then
// reverse.
func TestPostgresUpgradeFromVersion1(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()
	c := pgConnT(t, u, pw)
	for _, q := range []string{
		`CREATE TABLE users (id text COLLATE "C" PRIMARY KEY, first_name text, last_name text, email text,
			windows_usernames text NOT NULL DEFAULT '', external_id text, active boolean NOT NULL DEFAULT true)`,
		`INSERT INTO users(id, windows_usernames) VALUES ('1', 'a;a@x'), ('2', 'b')`,
		// Version 1, as upnsync wrote it.
		`CREATE SCHEMA upnsync`,
		`CREATE TABLE upnsync.owned (tbl text NOT NULL, user_id text NOT NULL, entry text NOT NULL, guid text NOT NULL DEFAULT '', run_id text, added_at timestamptz)`,
		`CREATE UNIQUE INDEX owned_key ON upnsync.owned (tbl, user_id, lower(entry))`,
		`CREATE TABLE upnsync.runs (id text PRIMARY KEY, tbl text NOT NULL, started timestamptz, finished timestamptz, directory text,
			written integer NOT NULL DEFAULT 0, stale integer NOT NULL DEFAULT 0)`,
		`CREATE TABLE upnsync.journal (run_id text NOT NULL, seq integer NOT NULL, tbl text NOT NULL, user_id text NOT NULL,
			"before" text NOT NULL, "after" text NOT NULL, PRIMARY KEY (run_id, seq))`,
		`CREATE TABLE upnsync.meta (key text PRIMARY KEY, value text)`,
		`INSERT INTO upnsync.meta VALUES ('schema_version', '1')`,
		`INSERT INTO upnsync.owned VALUES ('"users"', '1', 'a@x', 'g', 'old', '2025-01-01T00:00:00Z')`,
		`INSERT INTO upnsync.runs VALUES ('old', '"users"', '2025-01-01T00:00:00Z', '2025-01-01T00:00:01Z', 'ldif:x', 1, 0)`,
		`INSERT INTO upnsync.journal VALUES ('old', 1, '"users"', '1', 'a', 'a;a@x')`,
	} {
		pgExecT(t, c, q)
	}
	columns := func() int {
		var n int
		c.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'upnsync'`).Scan(&n)
		return n
	}
	v1 := columns()

	ro := openStoreT(t, u, Options{Password: pw, ReadOnly: true}).(*pgStore)
	runs := runsT(t, ro)
	if len(runs) != 1 || runs[0].ID != "old" || runs[0].Kind != upnsync.RunSync || runs[0].Written != 1 {
		t.Fatalf("v1 runs = %+v", runs)
	}
	var entries []upnsync.JournalEntry
	if _, err := ro.RunJournal(ctx, "old", func(e upnsync.JournalEntry) error { entries = append(entries, e); return nil }); err != nil ||
		len(entries) != 1 || entries[0].After != "a;a@x" || entries[0].Added != nil {
		t.Fatalf("v1 journal: %+v %v", entries, err)
	}
	if o := oneUserT(t, ro, "1").Owned; len(o) != 1 || o[0].Entry != "a@x" {
		t.Fatalf("v1 owned: %+v", o)
	}
	if columns() != v1 {
		t.Fatal("reading a version 1 schema changed it")
	}

	rw := openStoreT(t, u, Options{Password: pw})
	if _, err := rw.Apply(ctx, upnsync.Run{ID: "new", Kind: upnsync.RunUndo, Undoes: "old", Host: "h"},
		upnsync.ChangesOf(upnsync.Change{UserID: "1", Before: "a;a@x", After: "a", Removed: []string{"a@x"}, Person: upnsync.Person{GUID: "g"}})); err != nil {
		t.Fatal(err)
	}
	runs = runsT(t, rw.(upnsync.Journal))
	if len(runs) != 2 || runs[0].ID != "new" || runs[0].Kind != upnsync.RunUndo || runs[0].Host != "h" ||
		runs[1].ID != "old" || !reflect.DeepEqual(runs[1].UndoneBy, []string{"new"}) {
		t.Fatalf("after the upgrade: %+v", runs)
	}
	if o := oneUserT(t, rw, "1").Owned; o != nil {
		t.Fatalf("the removal left provenance: %+v", o)
	}
	var v string
	c.QueryRow(ctx, `SELECT value FROM upnsync.meta WHERE key = 'schema_version'`).Scan(&v)
	if v != "2" || columns() <= v1 {
		t.Fatalf("schema_version = %s, columns %d (were %d)", v, columns(), v1)
	}
	// A newer schema is refused, not half understood.
	pgExecT(t, c, `UPDATE upnsync.meta SET value = '3' WHERE key = 'schema_version'`)
	if _, err := Open(ctx, u, Options{Password: pw}); err == nil || !strings.Contains(err.Error(), "written by a newer upnsync (schema version 3, this one knows 2)") {
		t.Fatalf("newer schema: %v", err)
	}
}

// The run lock is the table's: the same table named with or without its
// schema is one lock; another table in the same database is another.
func TestPostgresLockIsTheTables(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()
	s := openStoreT(t, u, Options{Create: true, Password: pw})
	importT(t, s, "users.csv")
	l, err := LockRun(ctx, u, Options{Password: pw}, lockHolder("upnsync sync --apply"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if !strings.Contains(l.Where, `on table public.users of postgres://`) || strings.Contains(l.Where, pw) {
		t.Errorf("where = %q", l.Where)
	}
	var held *runlock.HeldError
	if _, err := LockRun(ctx, u, Options{Password: pw, Table: "public.users"}, lockHolder("x"), 0); !errors.As(err, &held) {
		t.Errorf("public.users is users, but its lock was free: %v", err)
	}
	other, err := LockRun(ctx, u, Options{Password: pw, Table: "octopus.users"}, lockHolder("y"), 0)
	if err != nil {
		t.Fatalf("another table's lock: %v", err)
	}
	other.Release()
	// The holder is on record while it holds the lock, and gone after.
	admin := pgConnT(t, u, pw)
	var n int
	admin.QueryRow(ctx, `SELECT count(*) FROM upnsync.locks WHERE tbl = 'public.users' AND pid = $1`, os.Getpid()).Scan(&n)
	if n != 1 {
		t.Errorf("%d holder rows for public.users", n)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	admin.QueryRow(ctx, `SELECT count(*) FROM upnsync.locks`).Scan(&n)
	if n != 0 {
		t.Errorf("%d holder rows after a clean release", n)
	}
}

// A lock whose session the server ends (an administrator's
// pg_terminate_backend, a failover) is lost: Release says so, since
// another run may then have written.
func TestPostgresLockLost(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()
	importT(t, openStoreT(t, u, Options{Create: true, Password: pw}), "users.csv")
	l, err := LockRun(ctx, u, Options{Password: pw}, lockHolder("upnsync sync --apply"), 0)
	if err != nil {
		t.Fatal(err)
	}
	admin := pgConnT(t, u, pw)
	pgExecT(t, admin, `SELECT pg_terminate_backend(backend_pid) FROM upnsync.locks`)
	l2, err := LockRun(ctx, u, Options{Password: pw}, lockHolder("next"), 10*time.Second)
	if err != nil {
		t.Fatalf("after the holder's session ended: %v", err)
	}
	defer l2.Release()
	err = l.Release()
	if err == nil || !strings.Contains(err.Error(), "ended before the run did") || !strings.Contains(err.Error(), "another run may have written meanwhile") ||
		strings.Contains(err.Error(), pw) || strings.HasSuffix(err.Error(), "EOF") {
		t.Fatalf("release of a lost lock: %v", err)
	}
}

// The doctor's check proves the right to write without writing: it passes
// for the owner, names each missing right with the GRANT that gives it,
// and changes nothing (no schema upnsync appears).
func TestPostgresCheckWritable(t *testing.T) {
	u, pw := pgDatabase(t)
	ctx := context.Background()
	c := pgConnT(t, u, pw)
	pgExecT(t, c, `CREATE TABLE users (id text PRIMARY KEY, windows_usernames text NOT NULL DEFAULT '')`)
	cols := "first_name=,last_name=,email=,external_id=,active="
	s := openStoreT(t, u, Options{Password: pw, Columns: cols}).(*pgStore)
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatalf("owner: %v", err)
	}
	pgExecT(t, c, `REVOKE CREATE ON DATABASE `+s.database+` FROM PUBLIC, CURRENT_USER`)
	err := s.CheckWritable(ctx)
	if err == nil || !strings.Contains(err.Error(), "lacks CREATE on database "+s.database+" (the first write creates schema upnsync)") ||
		!strings.Contains(err.Error(), `GRANT CREATE ON DATABASE "`+s.database+`" TO "upnsync_test"`) {
		t.Fatalf("no CREATE on the database: %v", err)
	}
	var has bool
	c.QueryRow(ctx, `SELECT to_regnamespace('upnsync') IS NOT NULL`).Scan(&has)
	if has {
		t.Fatal("the check created schema upnsync")
	}
	pgExecT(t, c, `GRANT CREATE ON DATABASE `+s.database+` TO CURRENT_USER`)

	// With the schema in place: rights on the table and on upnsync's.
	if _, err := s.Apply(ctx, upnsync.Run{ID: "r0"}, upnsync.Changes{}); err != nil {
		t.Fatal(err)
	}
	s = openStoreT(t, u, Options{Password: pw, Columns: cols}).(*pgStore)
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatalf("with the schema: %v", err)
	}
	pgExecT(t, c, `REVOKE UPDATE ON users FROM CURRENT_USER`)
	pgExecT(t, c, `REVOKE INSERT ON upnsync.journal FROM CURRENT_USER`)
	err = s.CheckWritable(ctx)
	for _, want := range []string{`lacks UPDATE on column "windows_usernames" of "users", INSERT on upnsync.journal`,
		`GRANT UPDATE ("windows_usernames") ON "users" TO "upnsync_test"; GRANT INSERT ON upnsync.journal TO "upnsync_test"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing rights: %v\nwant %s", err, want)
		}
	}
	ro := openStoreT(t, u, Options{Password: pw, Columns: cols, ReadOnly: true}).(*pgStore)
	if err := ro.CheckWritable(ctx); err == nil || !strings.Contains(err.Error(), "opened read-only") {
		t.Errorf("read-only: %v", err)
	}
}
