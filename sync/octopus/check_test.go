package octopus

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CheckWritable proves a store writable without changing a byte of it or
// its modification time, and says so when it is opened read-only or
// another process holds its write lock.
func TestCheckWritableWritesNothing(t *testing.T) {
	s, path := newStore(t, "users.csv", Options{})
	s.Close()
	before := hashT(t, path)
	st, _ := os.Stat(path)
	time.Sleep(10 * time.Millisecond) // a write would now show in the modification time

	rw := openT(t, path, Options{})
	if err := rw.CheckWritable(context.Background()); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	after, _ := os.Stat(path)
	if hashT(t, path) != before || !after.ModTime().Equal(st.ModTime()) {
		t.Fatal("CheckWritable changed the store")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".upnsync-check-*")); len(left) > 0 {
		t.Fatalf("test files left: %v", left)
	}

	ro := openT(t, path, Options{ReadOnly: true})
	if err := ro.CheckWritable(context.Background()); err == nil || !strings.Contains(err.Error(), "opened read-only") {
		t.Fatalf("read-only store: %v", err)
	}

	// Another process (here, a raw connection) holds the write lock.
	db := rawT(t, path)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	locked := openT(t, path, Options{BusyTimeout: 50 * time.Millisecond})
	if err := locked.CheckWritable(context.Background()); err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("locked store: %v", err)
	}
}
