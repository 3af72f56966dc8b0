package run

import (
	"context"
	"fmt"
	"strconv"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/entra"
)

// entraFeed reads what changed in Entra ID with Microsoft Graph's delta
// query: the watermark is the @odata.deltaLink a /users/delta round
// ended with. Graph keeps a delta link for 7 days; an expired one (410
// Gone, syncStateNotFound) makes the directory read a new round in full,
// which finish reports.
type entraFeed struct{ includeGuests bool }

// The inputs an Entra ID read adds to the fingerprint: the properties a
// delta link was made for ($select), and whether guests are people.
const (
	inputProperties = "properties"
	inputGuests     = "guests"
)

func graphDirectory(dir upnsync.Directory) (*entra.Directory, error) {
	d, ok := dir.(*entra.Directory)
	if !ok {
		return nil, fmt.Errorf("%s is not an Entra ID directory: leave --incremental out", dir.Describe())
	}
	return d, nil
}

// start needs nothing from Graph: the watermark is known after the read.
func (f entraFeed) start(_ context.Context, dir upnsync.Directory, next *syncState) error {
	d, err := graphDirectory(dir)
	if err != nil {
		return err
	}
	next.Inputs[inputProperties] = d.Select()
	next.Inputs[inputGuests] = "include-guests=" + strconv.FormatBool(f.includeGuests)
	return nil
}

func (entraFeed) stale(st, _ *syncState) string {
	if st.DeltaLink == "" {
		return "no delta link was saved"
	}
	return ""
}

func (entraFeed) from(dir upnsync.Directory, saved *syncState) {
	d, err := graphDirectory(dir)
	if err != nil {
		return // start refused it already
	}
	if saved == nil {
		d.Delta("")
		return
	}
	d.Delta(saved.DeltaLink)
}

func (entraFeed) finish(dir upnsync.Directory, next *syncState) string {
	d, err := graphDirectory(dir)
	if err != nil {
		return ""
	}
	r := d.DeltaResult()
	next.DeltaLink = r.Link
	return r.FullReason
}

// position names a delta link by when it was saved: the link itself
// (Graph's opaque token) tells an administrator nothing.
func (entraFeed) position(st *syncState) string {
	if st.DeltaLink == "" {
		return "a new Microsoft Graph delta link"
	}
	return "the Microsoft Graph delta link of " + st.Time.UTC().Format(time.RFC3339)
}
