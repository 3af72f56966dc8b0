package octopus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

// fillT writes n users straight into a new store, each with one entry that
// upnsync owns: the state after a first full run, the usual one.
func fillT(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.db")
	s := openT(b, path, Options{Create: true})
	if err := s.ensureSchema(context.Background()); err != nil {
		b.Fatal(err)
	}
	s.Close()
	db := rawT(b, path)
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins, _ := tx.Prepare(`INSERT INTO users(id, first_name, last_name, email, windows_usernames, external_id, active) VALUES (?, ?, ?, ?, ?, ?, 1)`)
	own, _ := tx.Prepare(`INSERT INTO upnsync_owned(user_id, entry, guid, run_id, added_at) VALUES (?, ?, ?, 'r0', '2026-01-01T00:00:00Z')`)
	for i := range n {
		id := fmt.Sprintf("%07d", i)
		upn := fmt.Sprintf("user%d@corp.example.com", i)
		guid := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		if _, err := ins.Exec(id, "First"+id, "Last"+id, upn, fmt.Sprintf("user%d;CORP\\user%d;%s", i, i, upn), guid); err != nil {
			b.Fatal(err)
		}
		if _, err := own.Exec(id, upn, guid); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	db.Close()
	return path
}

// benchSize is n unless the environment variable name says otherwise, so
// that a benchmark script can measure a million users without editing code.
func benchSize(b *testing.B, name string, n int) int {
	if v := os.Getenv(name); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m <= 0 {
			b.Fatalf("%s=%q: want a positive number", name, v)
		}
		return m
	}
	return n
}

// go test ./sync/octopus/ -run '^$' -bench . -benchmem
// (UPNSYNC_BENCH_USERS and UPNSYNC_BENCH_CHANGES change the sizes).
func BenchmarkUsers(b *testing.B) {
	n := benchSize(b, "UPNSYNC_BENCH_USERS", 100_000)
	path := fillT(b, n)
	s := openT(b, path, Options{ReadOnly: true})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		count, owned := 0, 0
		err := s.Users(ctx, func(u upnsync.User) error {
			count++
			owned += len(u.Owned)
			return nil
		})
		if err != nil || count != n || owned != n {
			b.Fatalf("users %d owned %d err %v", count, owned, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "users/s")
}

func BenchmarkApply(b *testing.B) {
	n := benchSize(b, "UPNSYNC_BENCH_CHANGES", 10_000)
	path := fillT(b, n)
	s := openT(b, path, Options{})
	ctx := context.Background()
	current := make([]string, n)
	if err := s.Users(ctx, func(u upnsync.User) error {
		i := 0
		fmt.Sscanf(u.ID, "%d", &i)
		current[i] = u.WindowsUsernames
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	changes := make([]upnsync.Change, n)
	b.ReportAllocs()
	b.ResetTimer()
	iter := 0
	for b.Loop() {
		b.StopTimer()
		iter++
		for i := range changes {
			upn := fmt.Sprintf("user%d.%d@corp.example.com", i, iter)
			after := current[i] + ";" + upn
			changes[i] = upnsync.Change{UserID: fmt.Sprintf("%07d", i), Before: current[i], After: after,
				Added: []string{upn}, Person: upnsync.Person{GUID: "g", UPN: upn}}
			current[i] = after
		}
		b.StartTimer()
		a, err := s.Apply(ctx, upnsync.Run{ID: fmt.Sprintf("bench-%d", iter)}, upnsync.ChangesOf(changes...))
		if err != nil || len(a.Written) != n {
			b.Fatalf("written %d err %v", len(a.Written), err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}
