package sync

import (
	"hash/maphash"
	"slices"
	"strings"
)

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

// The lookups the match rules (M1 to M3, rules.go) and C5 ask, each
// appending to buf the users that hold the key, each once, in the order
// they were added. Keys compare in lower case (strings.ToLower); GUIDs as
// NormalizeGUID gives them. Each builds the tables first, if users were
// added since, before it puts its key in ix.key (which build uses too).

// withExternalID finds the users whose ExternalIdentifier is guid.
func (ix *userIndex) withExternalID(guid string, buf []int32) []int32 {
	ix.build()
	ix.key = normalizeGUIDInto(ix.key[:0], guid)
	return ix.get(kindExt, ix.key, buf)
}

// withSwappedExternalID finds the users whose ExternalIdentifier is the
// byte-swapped form of guid (rule C8).
func (ix *userIndex) withSwappedExternalID(guid string, buf []int32) []int32 {
	ix.build()
	ix.key = normalizeGUIDInto(ix.key[:0], guid)
	if !isGUIDBytes(ix.key) {
		return buf
	}
	var canonical [36]byte
	copy(canonical[:], ix.key)
	swapGUIDBytes(ix.key)
	if string(ix.key) == string(canonical[:]) {
		return buf // its own swapped form: M1 looked for it already
	}
	return ix.get(kindExt, ix.key, buf)
}

// withEntry finds the users with the Windows username name, or
// domain\name when domain is not empty.
func (ix *userIndex) withEntry(buf []int32, domain, name string) []int32 {
	ix.build()
	ix.key = ix.key[:0]
	if domain != "" {
		ix.key = lowerInto(ix.key, domain)
		ix.key = append(ix.key, '\\')
	}
	ix.key = lowerInto(ix.key, name)
	return ix.get(kindEntry, ix.key, buf)
}

// withEmail finds the users whose e-mail is mail (both trimmed).
func (ix *userIndex) withEmail(mail string, buf []int32) []int32 {
	ix.build()
	ix.key = lowerTrimmed(ix.key[:0], mail)
	return ix.get(kindEmail, ix.key, buf)
}

// holders lists the users whose list contains entry (any case).
func (ix *userIndex) holders(entry string, buf []int32) []int32 {
	return ix.withEntry(buf[:0], "", entry)
}
