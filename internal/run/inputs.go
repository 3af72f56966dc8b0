package run

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"
	"strconv"

	upnsync "github.com/upnsync/upnsync/sync"
)

// inputsHash is the digest of everything a saved plan was made from: the
// mapping file, the settings, the store's users with what upnsync added,
// and the people read (with where departed ones went). It streams: nothing
// is kept but the hash states.
//
// The store and the directory have a digest each, combined at the end:
// BuildPlan loads the store while the directory read starts, so the two
// wrappers run at the same time, and one shared digest would be a data
// race whose result depended on how they interleaved.
type inputsHash struct{ head, users, people fieldHash }

func newInputsHash(mappingFile []byte, settings map[string]string) *inputsHash {
	i := &inputsHash{head: newFieldHash(), users: newFieldHash(), people: newFieldHash()}
	i.head.field("mapping", string(mappingFile))
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		i.head.field(k, settings[k])
	}
	return i
}

type fieldHash struct{ h hash.Hash }

func newFieldHash() fieldHash { return fieldHash{sha256.New()} }

// field writes length-prefixed strings, so that no two different inputs
// hash alike by running into each other.
func (f fieldHash) field(parts ...string) {
	var n [8]byte
	for _, p := range parts {
		binary.LittleEndian.PutUint64(n[:], uint64(len(p)))
		f.h.Write(n[:])
		f.h.Write([]byte(p))
	}
}

// sum is the digest of the three digests: settings, the store's users and
// the people read.
func (i *inputsHash) sum() string {
	f := newFieldHash()
	f.field("settings", string(i.head.h.Sum(nil)), "users", string(i.users.h.Sum(nil)),
		"people", string(i.people.h.Sum(nil)))
	return hex.EncodeToString(f.h.Sum(nil))
}

func (i *inputsHash) store(s upnsync.Store) upnsync.Store { return hashingStore{s, i} }

func (i *inputsHash) directory(d upnsync.Directory) upnsync.Directory { return hashingDir{d, i} }

type hashingStore struct {
	upnsync.Store
	i *inputsHash
}

func (s hashingStore) Users(ctx context.Context, fn func(upnsync.User) error) error {
	return s.Store.Users(ctx, func(u upnsync.User) error {
		s.i.users.field("user", u.ID, u.FirstName, u.LastName, u.Email, u.WindowsUsernames, u.ExternalID, strconv.FormatBool(u.Active))
		for _, o := range u.Owned {
			s.i.users.field("owned", o.Entry, o.GUID)
		}
		return fn(u)
	})
}

type hashingDir struct {
	upnsync.Directory
	i *inputsHash
}

func (d hashingDir) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	return d.Directory.Read(ctx, func(p upnsync.Person) error {
		if p.Deleted || p.Unselected {
			// From a change feed (DirSync): records of their own kinds, so
			// that the digest of everyone else stays what it always was.
			kind := "tombstone"
			if p.Unselected {
				kind = "unselected"
			}
			d.i.people.field(kind, p.GUID, p.DN)
			return fn(p)
		}
		kind := "person"
		if p.Skip != "" {
			// Left out by the source (an Entra ID guest): a record of its
			// own kind, with why, as above.
			kind = "skipped: " + p.Skip
		}
		d.i.people.field(kind, p.GUID, p.UPN, p.SAMAccountName, p.Domain, p.DNSDomain, p.DN, p.GivenName, p.Surname, p.Mail,
			strconv.FormatBool(p.Disabled))
		return fn(p)
	})
}

// LocateGUID passes lookups through (a directory that cannot look up
// leaves departures unclassified, as without the hash).
func (d hashingDir) LocateGUID(ctx context.Context, guid string) (upnsync.Whereabouts, error) {
	loc, ok := d.Directory.(upnsync.GUIDLocator)
	if !ok {
		return upnsync.Whereabouts{}, nil
	}
	w, err := loc.LocateGUID(ctx, guid)
	if err == nil {
		d.i.people.field("located", guid, string(w.Reason), w.DN)
	}
	return w, err
}
