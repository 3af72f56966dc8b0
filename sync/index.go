package sync

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
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

// appendGUID appends the 16 bytes of a canonical lower-case GUID string.
func appendGUID(b []byte, g string) []byte {
	for i := 0; i < len(g); i++ {
		if g[i] == '-' {
			continue
		}
		b = append(b, unhexLower(g[i])<<4|unhexLower(g[i+1]))
		i++
	}
	return b
}

func unhexLower(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// formatGUID writes the canonical string of 16 GUID bytes kept by
// appendGUID.
func formatGUID(dst *[36]byte, raw string) {
	const hex = "0123456789abcdef"
	j := 0
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = hex[raw[i]>>4], hex[raw[i]&0xf]
		j += 2
	}
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

// keyTable maps keys to user positions by hash. Slots are
// fingerprint<<32 | position+1 (0 is empty); a slot's home is derived from
// its fingerprint, so the table is rebuilt from records alone.
type keyTable struct {
	slots []uint64
}

func (t *keyTable) reset(keys int) {
	// Load at most 0.8: a key not present probes about a dozen slots, one
	// or two cache lines.
	n := max(8, keys+keys/4+1)
	if cap(t.slots) >= n {
		t.slots = t.slots[:n]
		clear(t.slots)
		return
	}
	t.slots = make([]uint64, n)
}

func (t *keyTable) home(fp uint32) int {
	return int(uint64(fp) * uint64(len(t.slots)) >> 32)
}

func (t *keyTable) put(s uint64) {
	i := t.home(uint32(s >> 32))
	for t.slots[i] != 0 {
		i++
		if i == len(t.slots) {
			i = 0
		}
	}
	t.slots[i] = s
}

// Which table a lookup uses; the candidate check depends on it.
type keyKind uint8

const (
	kindExt keyKind = iota
	kindEntry
	kindEmail
)

func (ix *userIndex) table(k keyKind) *keyTable {
	switch k {
	case kindExt:
		return &ix.byExt
	case kindEntry:
		return &ix.byEntry
	}
	return &ix.byEmail
}

// build (re)builds the three tables from the records: once, before the
// first lookup, when every user is known and the tables can be sized
// exactly.
func (ix *userIndex) build() {
	if ix.built {
		return
	}
	n := int(ix.n)
	ext, entry, email := make([]uint64, 0, n), make([]uint64, 0, 2*n), make([]uint64, 0, n)
	for pos := range ix.n {
		r, flags := ix.record(pos)
		r.skip(fieldWindows)
		windows := r.str()
		if k := lowerTrimmed(ix.key[:0], r.entryOr(windows)); len(k) > 0 {
			ix.key = k
			email = append(email, slotOf(ix.hash(k), pos))
		}
		for part := range strings.SplitSeq(windows, ";") {
			if e := strings.TrimSpace(part); e != "" {
				ix.key = lowerInto(ix.key[:0], e)
				entry = append(entry, slotOf(ix.hash(ix.key), pos))
			}
		}
		if flags&recExtGUID != 0 {
			var g [36]byte
			formatGUID(&g, r.raw(16))
			ext = append(ext, slotOf(ix.hash(g[:]), pos))
		} else if k := normalizeGUIDInto(ix.key[:0], r.str()); len(k) > 0 {
			ix.key = k
			ext = append(ext, slotOf(ix.hash(k), pos))
		}
	}
	var scratch []uint64
	scratch = ix.byExt.fill(ext, scratch)
	scratch = ix.byEntry.fill(entry, scratch)
	ix.byEmail.fill(email, scratch)
	ix.built = true
}

// slotOf is the slot of a key with hash h held by user pos.
func slotOf(h uint64, pos int32) uint64 {
	return h&^0xffffffff | uint64(uint32(pos)+1)
}

// fill sizes the table for the slots and inserts them in the order of
// their fingerprints, so of their homes: a stable radix sort (slots of one
// key stay in the order of their users), after which each slot goes to its
// home or right after the one inserted before it: a walk through the table
// instead of a cache miss per key. It returns scratch for reuse.
func (t *keyTable) fill(slots, scratch []uint64) []uint64 {
	t.reset(len(slots))
	if cap(scratch) < len(slots) && len(slots) >= 1<<16 {
		scratch = make([]uint64, len(slots))
	}
	if len(slots) < 1<<16 {
		// Small: a plain sort (by fingerprint, then user) beats clearing
		// the radix sort's counters.
		slices.Sort(slots)
	} else {
		tmp := scratch[:len(slots)]
		radix16(tmp, slots, 32)
		radix16(slots, tmp, 48)
	}
	last, wrapped := -1, false
	for _, s := range slots {
		home := t.home(uint32(s >> 32))
		i := home
		if !wrapped && i <= last {
			// Homes only grow: every slot from home to last is taken.
			i = last + 1
		}
		if i == len(t.slots) {
			i, wrapped = 0, true
		}
		if wrapped {
			// Past the end, the first slots may be taken: probe.
			for t.slots[i] != 0 {
				if i++; i == len(t.slots) {
					i = 0
				}
			}
		}
		t.slots[i] = s
		last = i
	}
	return scratch
}

// radix16 copies src to dst ordered by the 16 bits at shift, stably.
func radix16(dst, src []uint64, shift uint) {
	var count [1<<16 + 1]int
	for _, s := range src {
		count[(s>>shift)&0xffff+1]++
	}
	for i := 1; i < len(count); i++ {
		count[i] += count[i-1]
	}
	for _, s := range src {
		k := (s >> shift) & 0xffff
		dst[count[k]] = s
		count[k]++
	}
}

func (ix *userIndex) hash(key []byte) uint64 {
	if ix.collide {
		// Near the end of the tables, so that slots wrap around too.
		return 0xfffffff0 << 32
	}
	return maphash.Bytes(ix.seed, key)
}

// get appends to buf the users holding key (already lower-cased as the
// kind requires), each once, in the order they were added.
func (ix *userIndex) get(kind keyKind, key []byte, buf []int32) []int32 {
	t := ix.table(kind)
	if len(t.slots) == 0 {
		return buf
	}
	fp := uint32(ix.hash(key) >> 32)
	start := len(buf)
	for i := t.home(fp); ; {
		s := t.slots[i]
		if s == 0 {
			return buf
		}
		if uint32(s>>32) == fp {
			pos := int32(uint32(s) - 1)
			if !containsPos(buf[start:], pos) && ix.holds(kind, pos, key) {
				buf = append(buf, pos)
			}
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

func containsPos(list []int32, pos int32) bool {
	for _, p := range list {
		if p == pos {
			return true
		}
	}
	return false
}

// holds checks a candidate: does user pos really have key?
func (ix *userIndex) holds(kind keyKind, pos int32, key []byte) bool {
	r, flags := ix.record(pos)
	r.skip(fieldWindows)
	windows := r.str()
	switch kind {
	case kindEntry:
		for part := range strings.SplitSeq(windows, ";") {
			if e := strings.TrimSpace(part); e != "" {
				ix.cmp = lowerInto(ix.cmp[:0], e)
				if string(ix.cmp) == string(key) {
					return true
				}
			}
		}
		return false
	case kindEmail:
		ix.cmp = lowerTrimmed(ix.cmp[:0], r.entryOr(windows))
		return string(ix.cmp) == string(key)
	}
	r.entryOr(windows) // e-mail
	if flags&recExtGUID != 0 {
		var g [36]byte
		formatGUID(&g, r.raw(16))
		return string(g[:]) == string(key)
	}
	ix.cmp = normalizeGUIDInto(ix.cmp[:0], r.str())
	return string(ix.cmp) == string(key)
}

// lowerInto appends strings.ToLower(s) to b without allocating.
func lowerInto(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		return b
	}
	// As strings.ToLower (strings.Map with unicode.ToLower): invalid
	// UTF-8 becomes U+FFFD.
	for _, r := range s {
		b = utf8.AppendRune(b, unicode.ToLower(r))
	}
	return b
}

func lowerTrimmed(b []byte, s string) []byte {
	return lowerInto(b, strings.TrimSpace(s))
}

// normalizeGUIDInto appends NormalizeGUID(s) to b without allocating.
func normalizeGUIDInto(b []byte, s string) []byte {
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	return lowerInto(b, s)
}

// NormalizeGUID gives a GUID string the canonical form used as key: no
// braces or spaces, lower case. Other strings are only trimmed and
// lower-cased, so a DN kept in ExternalIdentifier by older installs still
// compares equal to itself.
func NormalizeGUID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	return strings.ToLower(s)
}

// IsGUID reports whether s (normalized) has the canonical 8-4-4-4-12 form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// match finds the Octopus users a person matches by the first rule that
// matches anyone: ExternalIdentifier equal to the objectGUID; a Windows
// username equal to the sAMAccountName (bare or DOMAIN\name) or to the UPN;
// a unique e-mail. Users whose ExternalIdentifier pins them to another
// object are never matched by the weaker rules.
func (ix *userIndex) match(p *Person, upn string, buf []int32) ([]int32, MatchRule) {
	ix.build()
	// NormalizeGUID of a GUID is empty only when it is blank.
	hasGUID := strings.TrimSpace(p.GUID) != ""
	if hasGUID {
		ix.key = normalizeGUIDInto(ix.key[:0], p.GUID)
		if got := ix.get(kindExt, ix.key, buf[:0]); len(got) > 0 {
			return got, MatchExternalID
		}
	}
	got := buf[:0]
	if p.SAMAccountName != "" {
		ix.key = lowerInto(ix.key[:0], p.SAMAccountName)
		got = ix.get(kindEntry, ix.key, got)
		if p.Domain != "" {
			ix.key = lowerInto(ix.key[:0], p.Domain)
			ix.key = append(ix.key, '\\')
			ix.key = lowerInto(ix.key, p.SAMAccountName)
			got = ix.get(kindEntry, ix.key, got)
		}
	}
	if upn != "" {
		ix.key = lowerInto(ix.key[:0], upn)
		got = ix.get(kindEntry, ix.key, got)
	}
	if got = ix.unpinned(got, hasGUID); len(got) > 0 {
		return got, MatchWindowsUsername
	}
	if p.Mail != "" {
		ix.key = lowerTrimmed(ix.key[:0], p.Mail)
		got = ix.get(kindEmail, ix.key, got[:0])
		if got = ix.unpinned(got, hasGUID); len(got) > 0 {
			return got, MatchEmail
		}
	}
	return nil, ""
}

// unpinned drops duplicates and, for a person with a GUID, users pinned by
// ExternalIdentifier to another directory object.
func (ix *userIndex) unpinned(list []int32, hasGUID bool) []int32 {
	out := list[:0]
	for _, p := range list {
		if hasGUID && ix.isPinned(p) {
			continue
		}
		if !containsPos(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// holders lists the users whose list contains entry (any case).
func (ix *userIndex) holders(entry string, buf []int32) []int32 {
	ix.build()
	ix.key = lowerInto(ix.key[:0], entry)
	return ix.get(kindEntry, ix.key, buf[:0])
}
