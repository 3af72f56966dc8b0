package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/backoff"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// planWithRetries opens the directory and plans the run. When the
// directory fails in a way that may pass (directory.Transient: the
// connection lost, no answer to a page within --timeout, the server busy;
// never a mistake of the settings, such as a wrong password, a file that
// cannot be read, a scheme that does not fit the port or a server that
// accepts the connection and says nothing, which fail in one attempt), it starts
// over after a growing pause, up to --retries times: the directory closed
// and opened again (a new connection and bind), the read from its first
// page, the store's users loaded again into a new, empty planner (build
// must plan from scratch each time it is called). Nothing
// of a failed attempt is carried into the next: a paging cookie belongs to
// the connection that issued it, and people read twice would turn into
// duplicate-UPN conflicts.
//
// It returns the open directory (nil when it could not be opened) with the
// last attempt's plan and error; the caller closes the directory.
func planWithRetries(ctx context.Context, s *config.Settings, log *slog.Logger,
	open func() (upnsync.Directory, error), build func(upnsync.Directory) (upnsync.Plan, error),
) (upnsync.Directory, upnsync.Plan, error) {
	policy := backoff.Policy{Base: s.RetryDelay}
	attempts := s.Retries + 1
	for attempt := 1; ; attempt++ {
		dir, err := open()
		var plan upnsync.Plan
		if err != nil {
			dir = nil // Open may return a typed nil
		} else {
			plan, err = build(dir)
			var readErr *upnsync.ReadError
			if err != nil && !errors.As(err, &readErr) {
				return dir, plan, err // the store failed: not the directory's fault
			}
		}
		if err == nil || !directory.Transient(err) || ctx.Err() != nil {
			return dir, plan, err
		}
		if attempt >= attempts {
			return dir, plan, gaveUp(err, attempt, s.Retries)
		}
		if dir != nil {
			dir.Close()
		}
		wait := policy.Delay(attempt)
		log.Warn(fmt.Sprintf("attempt %d of %d failed: %v; retrying in %s on a new connection, reading from the first page again",
			attempt, attempts, err, wait.Round(time.Millisecond)))
		if werr := backoff.Wait(ctx, wait); werr != nil {
			return nil, plan, fmt.Errorf("%w; stopped (%v) before attempt %d of %d", err, werr, attempt+1, attempts)
		}
	}
}

// gaveUp adds to the last error how many attempts failed, keeping its type
// (a *upnsync.ReadError stays one: the report says the read is incomplete).
func gaveUp(err error, attempts, retries int) error {
	if attempts <= 1 {
		return err
	}
	msg := fmt.Sprintf("%v; gave up after %d attempts (--retries %d)", err, attempts, retries)
	var readErr *upnsync.ReadError
	if errors.As(err, &readErr) {
		return &upnsync.ReadError{Err: &wrapped{msg: msg, err: readErr.Err}}
	}
	return &wrapped{msg: msg, err: err}
}

// wrapped is an error with a new message and the old cause.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }
