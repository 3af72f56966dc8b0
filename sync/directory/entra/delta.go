package entra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// Delta reads (/users/delta). A round of delta pages ends with an
// @odata.deltaLink: the watermark. A read from a saved link returns only
// the users created, changed or deleted since; a read without one reads
// every user (a full read) and ends with the first link. Microsoft Graph
// keeps a delta link for 7 days; an expired one (410 Gone, or
// syncStateNotFound) makes the read start a new round in full.

// DeltaResult is the account of the last delta read.
type DeltaResult struct {
	// From is the delta link the read started from ("" for a full round).
	From string
	// Link is the new delta link, the watermark the next run starts from;
	// "" unless the read completed.
	Link string
	// FullReason says why a read asked to start from a link was done in
	// full instead ("" when it was not).
	FullReason string
	// Unresolved counts deleted users whose objectGUID could not be told
	// (permanently deleted, or the lookup failed): their entries are not
	// classified by this read.
	Unresolved int
}

// Delta makes the following Reads delta reads from link, a delta link an
// earlier read returned ("": a full round that ends with the first link).
// After the Read, DeltaResult says where it ended. A read from a link is
// Partial: people not in it are not gone.
func (d *Directory) Delta(link string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.delta, d.deltaFrom = true, link
}

// DeltaResult is the account of the last delta read.
func (d *Directory) DeltaResult() DeltaResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deltaState
}

// deltaURL is the first page of a full delta round.
func (d *Directory) deltaURL() string {
	return fmt.Sprintf("%s/v1.0/users/delta?$select=%s", d.endpoint, d.m.selectList())
}

// usableLink says why a saved link cannot be used, or "".
func (d *Directory) usableLink(link string) string {
	u, err := url.Parse(link)
	if err != nil || !strings.EqualFold(u.Host, d.endpoint.Host) || !strings.EqualFold(u.Scheme, d.endpoint.Scheme) ||
		!strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/users/delta") {
		return fmt.Sprintf("the saved delta link is not a users delta link of %s", d.endpoint)
	}
	return ""
}

func (d *Directory) readDelta(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	d.deltaState = DeltaResult{From: d.deltaFrom}
	var res upnsync.ReadResult
	link, partial := d.deltaFrom, d.deltaFrom != ""
	if partial {
		if why := d.usableLink(link); why != "" {
			d.deltaState.FullReason, link, partial = why, "", false
		}
	}
	if !partial {
		link = d.deltaURL()
	}
	// Partial from the start: a delta read that fails half-way is still
	// one from which nobody may be taken as gone.
	res.Partial = partial
	out, err := d.readPages(ctx, link, true, fn, &res)
	if err != nil && partial && errors.Is(err, errDeltaExpired) && res.Entries == 0 {
		// Refused before anyone was handed on: start a new round.
		d.deltaState.FullReason = err.Error()
		d.log.Warn("reading in full: " + err.Error())
		res = upnsync.ReadResult{}
		out, err = d.readPages(ctx, d.deltaURL(), true, fn, &res)
	}
	if err != nil {
		return d.fail(&res, err)
	}
	if err := d.tombstones(ctx, out.removed, fn, &res); err != nil {
		return d.fail(&res, err)
	}
	res.Complete = true
	d.deltaState.Link = out.deltaLink
	return res, nil
}

// tombstones hands on the users a delta reported deleted as the engine
// expects deletions (Person.Deleted with the objectGUID), as DirSync's
// tombstones are. Graph gives only their Entra object id: a user still
// in the deleted items (reason "changed": restorable for 30 days) is
// looked up there for its onPremisesImmutableId; a user deleted for good
// (reason "deleted") cannot be, and is counted in Unresolved.
func (d *Directory) tombstones(ctx context.Context, removed []removedUser, fn func(upnsync.Person) error, res *upnsync.ReadResult) error {
	for _, r := range removed {
		if !strings.EqualFold(r.reason, "changed") {
			d.deltaState.Unresolved++
			d.log.Info("a user was deleted for good; its objectGUID cannot be told, so entries upnsync added for it are kept until a full read", "id", r.id)
			continue
		}
		u, err := d.deletedUser(ctx, r.id)
		if err != nil {
			if ctx.Err() != nil {
				return &directory.Error{Msg: fmt.Sprintf("the read of %s was cancelled while looking up deleted users: %v; the read is incomplete", d.Describe(), ctx.Err()), Err: ctx.Err()}
			}
			d.deltaState.Unresolved++
			d.log.Warn("cannot look up a deleted user; entries upnsync added for it are kept", "id", r.id, "error", err.Error())
			continue
		}
		if u == nil {
			d.deltaState.Unresolved++
			continue
		}
		guid := immutableGUID(u.OnPremisesImmutableID)
		if guid == "" {
			continue // cloud-only or a custom anchor: upnsync never recorded it under a GUID
		}
		res.Entries++
		res.Tombstones++
		if err := fn(upnsync.Person{GUID: guid, DN: u.OnPremisesDistinguishedName, UPN: u.UserPrincipalName, Deleted: true}); err != nil {
			return &directory.Error{Msg: fmt.Sprintf("the read of %s stopped at the deleted user %s: %v; the read is incomplete", d.Describe(), r.id, err), Err: err}
		}
	}
	return nil
}

// deletedUser reads a user from the deleted items; nil when it is not
// there (deleted for good).
func (d *Directory) deletedUser(ctx context.Context, id string) (*graphUser, error) {
	if !validTenant(id) { // an object id: hex digits and hyphens
		return nil, fmt.Errorf("%q is not an object id", id)
	}
	link := fmt.Sprintf("%s/v1.0/directory/deletedItems/%s?$select=id,userPrincipalName,onPremisesImmutableId,onPremisesDistinguishedName", d.endpoint, id)
	resp, cancel, err := d.get(ctx, link, "the deleted user "+id)
	if err != nil {
		var hs httpStatus
		if errors.As(err, &hs) && hs == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	var u graphUser
	if err := json.NewDecoder(io.LimitReader(resp.Body, errBodyLimit)).Decode(&u); err != nil {
		return nil, fmt.Errorf("the answer for the deleted user %s is not a user: %s", id, oneLine(err.Error()))
	}
	return &u, nil
}
