package run

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upnsync/upnsync/config"
	upnsync "github.com/upnsync/upnsync/sync"
)

// The retry loop's edges, with small fakes; the real faults, against the
// test directory through a proxy, are in cmd/upnsync/faults_test.go.

type fakeStore struct{ err error }

func (s fakeStore) Users(ctx context.Context, fn func(upnsync.User) error) error {
	if s.err != nil {
		return s.err
	}
	return fn(upnsync.User{ID: "1001", WindowsUsernames: "jdoe"})
}
func (fakeStore) Apply(context.Context, upnsync.Run, upnsync.Changes) (upnsync.Applied, error) {
	return upnsync.Applied{}, errors.New("not here")
}
func (fakeStore) Describe() string { return "fake store" }
func (fakeStore) Close() error     { return nil }

// fakeDir reads jdoe, then fails with err if set.
type fakeDir struct {
	err    error
	closed *int
}

func (d fakeDir) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	fn(upnsync.Person{SAMAccountName: "jdoe", UPN: "jane.doe@corp.example.com", DN: "CN=Jane"})
	if d.err != nil {
		return upnsync.ReadResult{Entries: 1, Why: d.err.Error()}, d.err
	}
	return upnsync.ReadResult{Complete: true, Entries: 1, Pages: 1}, nil
}
func (d fakeDir) Describe() string { return "fake directory" }
func (d fakeDir) Close() error     { *d.closed++; return nil }

var lost = &errorWithCause{"connection to ldaps://dc1 lost after page 1 of the read", syscall.ECONNRESET}

type errorWithCause struct {
	msg   string
	cause error
}

func (e *errorWithCause) Error() string { return e.msg }
func (e *errorWithCause) Unwrap() error { return e.cause }

// cancelOnWarn is a log handler that stops the run at the first warning.
type cancelOnWarn struct{ cancel context.CancelFunc }

func (h cancelOnWarn) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelOnWarn) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.cancel()
	}
	return nil
}
func (h cancelOnWarn) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelOnWarn) WithGroup(string) slog.Handler      { return h }

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Each attempt opens the directory anew and plans from an empty planner:
// the person read by the failed attempt is not counted twice.
func TestRetryStartsOver(t *testing.T) {
	closed, opened := 0, 0
	open := func() (upnsync.Directory, error) {
		opened++
		if opened == 1 {
			return fakeDir{err: lost, closed: &closed}, nil
		}
		return fakeDir{closed: &closed}, nil
	}
	s := &config.Settings{Retries: 3, RetryDelay: time.Millisecond}
	dir, plan, err := planWithRetries(context.Background(), s, quietLog(), open, buildWith(context.Background(), fakeStore{}))
	if err != nil || dir == nil || opened != 2 || closed != 1 {
		t.Fatalf("err %v, opened %d, closed %d", err, opened, closed)
	}
	if plan.Stats.Read != 1 || plan.Changes.Len() != 1 || len(plan.Conflicts) != 0 {
		t.Fatalf("plan %+v", plan.Stats)
	}
}

// A run stopped while waiting to retry stops at once and says so.
func TestRetryStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	closed := 0
	open := func() (upnsync.Directory, error) {
		return fakeDir{err: lost, closed: &closed}, nil
	}
	s := &config.Settings{Retries: 3, RetryDelay: time.Hour}
	started := time.Now()
	// The run is stopped once the retry is announced, while it waits: not
	// on a timer, which a slow machine could fire during the attempt.
	log := slog.New(cancelOnWarn{cancel})
	dir, _, err := planWithRetries(ctx, s, log, open, buildWith(ctx, fakeStore{}))
	if dir != nil || err == nil || !strings.Contains(err.Error(), "stopped (context canceled) before attempt 2 of 4") || time.Since(started) > 10*time.Second {
		t.Fatalf("dir %v, err %v after %s", dir, err, time.Since(started))
	}
	var readErr *upnsync.ReadError
	if !errors.As(err, &readErr) {
		t.Errorf("the error is no longer a read error: %T", err)
	}
}

// Not retried: an error of the store, a permanent directory error, a
// cancelled run.
func TestRetryOnlyTransientDirectoryErrors(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store error
		dir   error
		ctx   bool
	}{
		{"store error", errors.New("store: the database is locked"), nil, false},
		{"permanent", nil, errors.New("wrong password"), false},
		{"cancelled run", nil, lost, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if tt.ctx {
				cancel()
			}
			defer cancel()
			opened, closed := 0, 0
			open := func() (upnsync.Directory, error) { opened++; return fakeDir{err: tt.dir, closed: &closed}, nil }
			s := &config.Settings{Retries: 3, RetryDelay: time.Millisecond}
			_, _, err := planWithRetries(ctx, s, quietLog(), open, buildWith(ctx, fakeStore{err: tt.store}))
			if err == nil || opened != 1 || strings.Contains(err.Error(), "gave up") {
				t.Fatalf("opened %d times, err %v", opened, err)
			}
		})
	}
}

// buildWith plans from scratch against store, as makePlan's build does.
func buildWith(ctx context.Context, store upnsync.Store) func(upnsync.Directory) (upnsync.Plan, error) {
	return func(d upnsync.Directory) (upnsync.Plan, error) {
		return upnsync.BuildPlan(ctx, store, d, upnsync.Options{})
	}
}
