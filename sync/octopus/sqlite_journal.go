package octopus

import (
	"context"
	"errors"
	"fmt"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Runs lists the recorded runs, newest first. See upnsync.Journal.
func (s *sqliteStore) Runs(ctx context.Context, fn func(upnsync.RunInfo) error) error {
	if s.db == nil {
		return fmt.Errorf("store %s: the store is closed", s.Describe())
	}
	if s.pending {
		return nil
	}
	if err := listRuns(ctx, s.db, s.ledger, fn); err != nil {
		return s.explain("cannot read the recorded runs", err)
	}
	return nil
}

// RunJournal returns a run and streams its journal. See upnsync.Journal.
func (s *sqliteStore) RunJournal(ctx context.Context, runID string, fn func(upnsync.JournalEntry) error) (upnsync.RunInfo, error) {
	if s.db == nil {
		return upnsync.RunInfo{}, fmt.Errorf("store %s: the store is closed", s.Describe())
	}
	info, err := runJournal(ctx, s.db, s.ledger, runID, fn)
	if errors.Is(err, errNoRun) {
		return info, fmt.Errorf("store %s: %w", s.Describe(), err)
	}
	if err != nil {
		return info, s.explain("cannot read the journal of run "+runID, err)
	}
	return info, nil
}
