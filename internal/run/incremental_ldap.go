package run

import (
	"context"
	"fmt"
	"slices"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// ldapFeed reads what changed in Active Directory: the users whose
// uSNChanged is above the watermark of the same DC (--incremental), or
// from the DirSync cookie (--dirsync). USNs belong to one DC and one
// incarnation of its database: another DC, or a new invocationId, means
// a full read.
type ldapFeed struct{ dirSync bool }

// The inputs an LDAP read adds to the fingerprint.
const (
	inputBases  = "search bases"
	inputFilter = "user filter"
)

func tracker(dir upnsync.Directory) (directory.ChangeTracker, error) {
	tr, ok := dir.(directory.ChangeTracker)
	if !ok {
		return nil, fmt.Errorf("%s cannot tell what changed: leave --incremental and --dirsync out", dir.Describe())
	}
	return tr, nil
}

// start reads the DC's position, and pins the connection the read uses.
func (f ldapFeed) start(ctx context.Context, dir upnsync.Directory, next *syncState) error {
	tr, err := tracker(dir)
	if err != nil {
		return err
	}
	pos, err := tr.Position(ctx)
	if err != nil {
		return err
	}
	next.Host, next.InvocationID, next.USN = pos.Host, pos.InvocationID, pos.USN
	bases := tr.Bases()
	for i := range bases {
		bases[i] = strings.ToLower(bases[i])
	}
	slices.Sort(bases)
	next.Inputs[inputBases] = strings.Join(bases, "; ")
	next.Inputs[inputFilter] = tr.Filter()
	return nil
}

func (f ldapFeed) stale(st, next *syncState) string {
	switch {
	case !strings.EqualFold(st.Host, next.Host):
		return fmt.Sprintf("the domain controller changed: the watermark is from %s, this run reached %s (USNs belong to one DC)", st.Host, next.Host)
	case !strings.EqualFold(st.InvocationID, next.InvocationID):
		return fmt.Sprintf("the invocationId of %s changed from %s to %s (its database was restored or reset), so its old USNs mean nothing", next.Host, st.InvocationID, next.InvocationID)
	case next.USN < st.USN:
		return fmt.Sprintf("the highestCommittedUSN of %s went back from %d to %d", next.Host, st.USN, next.USN)
	case f.dirSync && len(st.Cookie) == 0:
		return "no DirSync cookie was saved"
	}
	return ""
}

func (f ldapFeed) from(dir upnsync.Directory, saved *syncState) {
	tr, err := tracker(dir)
	if err != nil {
		return // start refused it already
	}
	switch {
	case f.dirSync && saved != nil:
		tr.DirSync(saved.Cookie)
	case f.dirSync:
		tr.DirSync(nil)
	case saved != nil:
		tr.ChangedSince(saved.USN + 1)
	default:
		tr.ChangedSince(0)
	}
}

// finish takes DirSync's cookie; an LDAP read never turns itself into a
// full one.
func (f ldapFeed) finish(dir upnsync.Directory, next *syncState) string {
	if tr, err := tracker(dir); err == nil && f.dirSync {
		next.Cookie = tr.DirSyncCookie()
	}
	return ""
}

func (f ldapFeed) position(st *syncState) string {
	return directory.Position{Host: st.Host, InvocationID: st.InvocationID, USN: st.USN}.String()
}
