package octopus

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// WriteChecker is a store that can tell whether an apply could write to
// it, without writing: `upnsync doctor` asks.
type WriteChecker interface {
	CheckWritable(ctx context.Context) error
}

var _ WriteChecker = (*sqliteStore)(nil)

// CheckWritable proves an apply could write without changing a byte of the
// database: the file opened read-write, its folder takes new files (SQLite
// writes its journal there), and the write lock can be taken. The lock is
// taken by a write transaction that is rolled back at once, empty.
func (s *sqliteStore) CheckWritable(ctx context.Context) error {
	if err := s.checkWritable("it cannot be written"); err != nil {
		return err
	}
	dir := filepath.Dir(s.abs)
	f, err := os.CreateTemp(dir, ".upnsync-check-*.tmp")
	if err != nil {
		return fmt.Errorf("store %s: its folder %s does not take new files (%v); SQLite writes its journal there, so make the folder writable for this account",
			s.Describe(), dir, pathErr(err))
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("store %s: cannot remove the test file %s from its folder: %v", s.Describe(), name, pathErr(err))
	}
	// The store's connections begin with BEGIN IMMEDIATE (_txlock), which
	// takes the write lock: another process holding it shows here.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.explain("cannot take its write lock", err)
	}
	if err := tx.Rollback(); err != nil {
		return s.explain("cannot release its write lock", err)
	}
	return nil
}
