package sync

import (
	"context"
	"fmt"
)

// ReadError is a directory read that failed part way: the plan covers
// only what was read and must not be acted on.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// BuildPlan loads the store's users, streams the directory through the
// planner and returns the plan. When the read fails the plan covers what
// was read, Read.Complete is false and the error is a *ReadError; any
// other error comes from the store.
//
// The store loads while the directory read starts (connection, bind, the
// server's first pages); the first person waits until every user is
// loaded. A store error stops the read and is returned as is.
func BuildPlan(ctx context.Context, store Store, dir Directory, opts Options) (Plan, error) {
	p := NewPlanner(opts)
	loaded := make(chan error, 1)
	go func() {
		loaded <- store.Users(ctx, func(u User) error { p.AddUser(u); return nil })
	}()
	var storeErr error
	waiting := true
	wait := func() error {
		if waiting {
			waiting = false
			storeErr = <-loaded
		}
		return storeErr
	}
	read, err := dir.Read(ctx, func(person Person) error {
		if err := wait(); err != nil {
			return err
		}
		p.Add(person)
		return nil
	})
	if err := wait(); err != nil {
		return Plan{}, err
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		read.Complete = false
		if read.Why == "" {
			read.Why = err.Error()
		}
		p.nameConflictUsers()
		return p.plan(read, true), &ReadError{Err: err}
	}
	if opts.RemoveDeparted && read.Complete {
		// After a partial read only those a change feed reported out of
		// scope are asked about: the others were simply not read.
		p.partial = read.Partial
		if err := LocateDeparted(ctx, p, dir); err != nil {
			return Plan{}, err
		}
	}
	p.nameConflictUsers()
	return p.plan(read, true), nil
}

// LocateDeparted asks the directory where each departed person went. A
// directory that cannot look objects up leaves them unclassified (never
// removed); a lookup that fails marks that person only. Cancellation stops
// it with an error.
func LocateDeparted(ctx context.Context, p *Planner, dir Directory) error {
	loc, ok := dir.(GUIDLocator)
	if !ok {
		return nil
	}
	for _, g := range p.Departed() {
		w, err := loc.LocateGUID(ctx, g)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("looking up departed people in %s was cancelled: %w", dir.Describe(), ctxErr)
		}
		if err != nil {
			w = Whereabouts{Reason: DepartedLookupFailed, Detail: err.Error()}
		}
		p.Locate(g, w)
	}
	return nil
}
