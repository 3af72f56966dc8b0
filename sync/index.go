package sync

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
)

// userIndex is the store's snapshot with the lookups matching needs. At a
// million users it is most of upnsync's memory, so it is compact and free
// of pointers (the garbage collector never scans it):
//
//   - each user is one record of length-prefixed strings in an append-only
//     arena of large strings (userArena), addressed by a uint64;
//   - GUIDs in canonical form are kept as 16 bytes, and an owned entry that
//     is also in the user's list as the number of that entry;
//   - the three lookups (ExternalIdentifier, each Windows username, e-mail)
//     are open-addressing tables of 8-byte slots holding a 32-bit
//     fingerprint of the key's hash and the user's position. A candidate is
//     always checked against the user's record, so a hash collision costs a
//     comparison, never a wrong match.
//
// Keys compare as the lower-cased strings did in the map-based index this
// replaces (strings.ToLower, rune by rune), which index_ref_test.go checks.
type userIndex struct {
	seed   maphash.Seed
	arena  userArena
	recs   []uint64 // arena address of each user's record
	pinned []uint64 // bit set: ExternalIdentifier holds a GUID
	n      int32
	// pinnedN counts the pinned users: without any, C8 has nothing to
	// look for.
	pinnedN int32
	// dropped are the pinned users M5 kept the last match from (M2's,
	// then from byName on M3's), for M7's candidates.
	dropped []int32
	byName  int

	byExt, byEntry, byEmail keyTable
	// built is false while users were added since the tables were built.
	built bool
	// collide gives every key the same hash: tests use it to show that
	// only the check against the records tells keys apart.
	collide bool

	enc      []byte // record being encoded
	key, cmp []byte // lower-cased key and candidate
}

func newUserIndex() *userIndex {
	return &userIndex{seed: maphash.MakeSeed()}
}

// Record flags.
const (
	recActive = 1 << iota
	recExtGUID
)

// A string that may be one of the user's Windows usernames (the e-mail,
// an owned entry) is a uvarint: position<<1|1 when it is that entry of the
// list, else length<<1 followed by the bytes.

// Owned GUID encodings (one byte before the value).
const (
	guidLiteral = 0 // then the GUID as a string
	guidRaw     = 1 // then 16 bytes of a canonical lower-case GUID
)

func (ix *userIndex) add(u User) {
	pos := ix.n
	ix.n++
	ext := NormalizeGUID(u.ExternalID)
	pinned := IsGUID(ext)
	var flags byte
	if u.Active {
		flags |= recActive
	}
	canonical := pinned && ext == u.ExternalID
	if canonical {
		flags |= recExtGUID
	}
	if pinned {
		ix.pinnedN++
		for len(ix.pinned) <= int(pos>>6) {
			ix.pinned = append(ix.pinned, 0)
		}
		ix.pinned[pos>>6] |= 1 << (pos & 63)
	}
	b := append(ix.enc[:0], flags)
	b = appendString(b, u.ID)
	b = appendString(b, u.FirstName)
	b = appendString(b, u.LastName)
	b = appendString(b, u.WindowsUsernames)
	b = appendEntryOr(b, u.WindowsUsernames, u.Email)
	if canonical {
		b = appendGUID(b, ext)
	} else {
		b = appendString(b, u.ExternalID)
	}
	b = binary.AppendUvarint(b, uint64(len(u.Owned)))
	for _, o := range u.Owned {
		b = appendEntryOr(b, u.WindowsUsernames, o.Entry)
		if IsGUID(o.GUID) {
			b = append(b, guidRaw)
			b = appendGUID(b, o.GUID)
		} else {
			b = append(b, guidLiteral)
			b = appendString(b, o.GUID)
		}
	}
	ix.enc = b
	ix.recs = append(ix.recs, ix.arena.add(b))
	ix.built = false
}

// entryIndex is the position of entry (exactly, after trimming) in the
// list as SplitEntries splits it, or -1.
func entryIndex(list, entry string) int {
	k := 0
	for part := range strings.SplitSeq(list, ";") {
		e := strings.TrimSpace(part)
		if e == "" {
			continue
		}
		if e == entry {
			return k
		}
		k++
	}
	return -1
}

// appendEntryOr appends s as the position of an entry of list equal to it,
// or as itself.
func appendEntryOr(b []byte, list, s string) []byte {
	if s != "" {
		if k := entryIndex(list, s); k >= 0 {
			return binary.AppendUvarint(b, uint64(k)<<1|1)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s))<<1)
	return append(b, s...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// userArena stores records in large strings that only ever grow by
// appending within their capacity, so a record, once added, is an
// immutable substring for the rest of the run.
type userArena struct {
	chunks []*strings.Builder
}

const arenaChunk = 1 << 20

func (a *userArena) add(rec []byte) uint64 {
	n := len(a.chunks)
	if n == 0 || a.chunks[n-1].Cap()-a.chunks[n-1].Len() < len(rec) {
		b := new(strings.Builder)
		b.Grow(max(arenaChunk, len(rec)))
		a.chunks = append(a.chunks, b)
		n++
	}
	c := a.chunks[n-1]
	off := c.Len()
	c.Write(rec)
	return uint64(n-1)<<32 | uint64(off)
}

// at returns the arena from addr on; the record is at its start.
func (a *userArena) at(addr uint64) string {
	return a.chunks[addr>>32].String()[uint32(addr):]
}

// record reads the fields of one user's record in order.
type record struct {
	s string
	i int
}

func (ix *userIndex) record(pos int32) (record, byte) {
	s := ix.arena.at(ix.recs[pos])
	return record{s: s, i: 1}, s[0]
}

func (r *record) str() string {
	n, k := uvarint(r.s[r.i:])
	r.i += k
	v := r.s[r.i : r.i+int(n)]
	r.i += int(n)
	return v
}

// entryOr reads what appendEntryOr wrote.
func (r *record) entryOr(list string) string {
	v := r.uvarint()
	if v&1 != 0 {
		return nthEntry(list, int(v>>1))
	}
	return r.raw(int(v >> 1))
}

func (r *record) skip(fields int) {
	for ; fields > 0; fields-- {
		r.str()
	}
}

func (r *record) raw(n int) string {
	v := r.s[r.i : r.i+n]
	r.i += n
	return v
}

func (r *record) byte() byte {
	c := r.s[r.i]
	r.i++
	return c
}

func (r *record) uvarint() uint64 {
	v, k := uvarint(r.s[r.i:])
	r.i += k
	return v
}

// uvarint is binary.Uvarint on a string (records are written by
// binary.AppendUvarint, so they are well formed).
func uvarint(s string) (uint64, int) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return v, len(s)
}

// The first fields of a record, after the flags byte; then come the
// e-mail (entryOr), the ExternalIdentifier (16 bytes with recExtGUID, else
// a string) and the owned entries.
const (
	fieldID = iota
	fieldFirst
	fieldLast
	fieldWindows
)

func (ix *userIndex) field(pos int32, f int) string {
	r, _ := ix.record(pos)
	r.skip(f)
	return r.str()
}

func (ix *userIndex) id(pos int32) string      { return ix.field(pos, fieldID) }
func (ix *userIndex) windows(pos int32) string { return ix.field(pos, fieldWindows) }

// ownedCount returns the user's list and how many owned entries the user
// has, without rebuilding the user.
func (ix *userIndex) ownedCount(pos int32) (windows string, owned int) {
	r, flags := ix.record(pos)
	r.skip(fieldWindows)
	windows = r.str()
	r.entryOr(windows) // e-mail
	if flags&recExtGUID != 0 {
		r.raw(16)
	} else {
		r.str()
	}
	return windows, int(r.uvarint())
}

// isPinned reports whether the user's ExternalIdentifier holds a GUID.
func (ix *userIndex) isPinned(pos int32) bool {
	return ix.pinned != nil && int(pos>>6) < len(ix.pinned) && ix.pinned[pos>>6]&(1<<(pos&63)) != 0
}

// user rebuilds the User at pos. Its strings share the arena; only the
// ExternalIdentifier and owned GUIDs kept as bytes, and the Owned slice,
// are allocated.
func (ix *userIndex) user(pos int32) User {
	r, flags := ix.record(pos)
	u := User{Active: flags&recActive != 0}
	u.ID, u.FirstName, u.LastName, u.WindowsUsernames = r.str(), r.str(), r.str(), r.str()
	u.Email = r.entryOr(u.WindowsUsernames)
	if flags&recExtGUID != 0 {
		var g [36]byte
		formatGUID(&g, r.raw(16))
		u.ExternalID = string(g[:])
	} else {
		u.ExternalID = r.str()
	}
	if n := r.uvarint(); n > 0 {
		u.Owned = make([]Owned, n)
		for i := range u.Owned {
			o := &u.Owned[i]
			o.Entry = r.entryOr(u.WindowsUsernames)
			if r.byte() == guidRaw {
				var g [36]byte
				formatGUID(&g, r.raw(16))
				o.GUID = string(g[:])
			} else {
				o.GUID = r.str()
			}
		}
	}
	return u
}

func nthEntry(list string, k int) string {
	for part := range strings.SplitSeq(list, ";") {
		if e := strings.TrimSpace(part); e != "" {
			if k == 0 {
				return e
			}
			k--
		}
	}
	return ""
}
