package sync

import (
	"hash/maphash"
	"iter"
	"slices"
	"strings"
)

// ownerSet holds the objectGUIDs that own entries in the store (issue 4's
// provenance), what the read saw of each, and which users' entries each
// owns. Only those GUIDs: its memory is bounded by what upnsync added to
// the store, never by the directory. It is pointer-free like the snapshot
// it sits beside (a canonical GUID is keyed by its 16 bytes, an owned entry
// is the user's position and the number of the entry in the user's
// record), because after a first apply at a million users it holds a
// couple of hundred thousand GUIDs, which the collector would otherwise
// scan on every cycle.
type ownerSet struct {
	// table finds a canonical GUID's owner: open addressing, each slot a
	// 32-bit fingerprint of the GUID's hash and 1 + the owner's index (0:
	// empty), the home from the fingerprint, a match checked against raws.
	// After a first run at a million users it holds most of them: a map of
	// 16-byte keys took more memory and more time.
	table []uint64
	raws  [][16]byte // by owner: the canonical GUID, zero for a literal one
	seed  maphash.Seed
	// byLit holds GUIDs that are not canonical once normalized (older
	// installs, hand-edited data): compared as NormalizeGUID strings, as
	// the map they replace did.
	byLit  map[string]int32
	list   []owner
	refs   []ownedRef
	wheres []Whereabouts
	// key is scratch for normalizing a GUID without allocating.
	key []byte
}

// rawOwner is the owner of a canonical GUID, or -1.
func (s *ownerSet) rawOwner(raw *[16]byte) int32 {
	if len(s.table) == 0 {
		return -1
	}
	fp := s.fingerprint(raw)
	for i := s.home(fp); ; {
		v := s.table[i]
		if v == 0 {
			return -1
		}
		if uint32(v>>32) == fp && s.raws[uint32(v)-1] == *raw {
			return int32(uint32(v) - 1)
		}
		if i++; i == len(s.table) {
			i = 0
		}
	}
}

func (s *ownerSet) fingerprint(raw *[16]byte) uint32 {
	return uint32(maphash.Bytes(s.seed, raw[:]) >> 32)
}

func (s *ownerSet) home(fp uint32) int { return int(uint64(fp) * uint64(len(s.table)) >> 32) }

// putRaw records that owner i has the canonical GUID raw, not in the table.
func (s *ownerSet) putRaw(raw *[16]byte, i int32) {
	if (len(s.raws)+1)*5 > len(s.table)*4 {
		if len(s.table) == 0 {
			s.seed = maphash.MakeSeed()
		}
		old := s.table
		s.table = make([]uint64, max(1024, 2*len(old)))
		for _, v := range old {
			if v != 0 {
				s.place(v)
			}
		}
	}
	for len(s.raws) <= int(i) {
		s.raws = append(s.raws, [16]byte{})
	}
	s.raws[i] = *raw
	s.place(uint64(s.fingerprint(raw))<<32 | uint64(i+1))
}

func (s *ownerSet) place(v uint64) {
	i := s.home(uint32(v >> 32))
	for s.table[i] != 0 {
		if i++; i == len(s.table) {
			i = 0
		}
	}
	s.table[i] = v
}

// owner is one objectGUID that owns entries, and what the read saw of it.
type owner struct {
	first, last int32 // chain of refs, in the order the store gave them; -1: none
	seen        bool
	disabled    bool  // read, but skipped by --skip-disabled
	deleted     bool  // reported deleted by a change feed (a tombstone)
	unselected  bool  // reported changed by a change feed, and no longer selected
	where       int32 // 1 + index in wheres; 0: not located
}

// ownedRef is one entry owned by a GUID: the k-th owned entry of the user
// at pos.
type ownedRef struct {
	pos, k int32
	next   int32 // next ref of the same owner; -1: the last
}

// normalized puts NormalizeGUID(guid) in s.key and says whether it is
// canonical (then its 16 bytes are raw).
func (s *ownerSet) normalized(guid string) (raw [16]byte, canonical bool) {
	if IsGUID(guid) {
		// Canonical already, as readers and stores give most GUIDs.
		s.key = append(s.key[:0], guid...)
	} else {
		s.key = normalizeGUIDInto(s.key[:0], guid)
		if !isGUIDBytes(s.key) {
			return raw, false
		}
	}
	j := 0
	for i := 0; i < len(s.key); i++ {
		if s.key[i] == '-' {
			continue
		}
		raw[j] = unhexLower(s.key[i])<<4 | unhexLower(s.key[i+1])
		j++
		i++
	}
	return raw, true
}

// foldSafe reports whether guid, normalized, is canonical or empty: then
// find's -1 also means that no owned GUID equals it under
// strings.EqualFold, which is how MergeUPN compares (hex digits and dashes
// fold only to themselves and their ASCII case).
func (s *ownerSet) foldSafe(guid string) bool {
	_, canonical := s.normalized(guid)
	return canonical || len(s.key) == 0
}

// find returns the owner of guid, or -1.
func (s *ownerSet) find(guid string) int32 {
	if len(s.list) == 0 {
		return -1
	}
	raw, canonical := s.normalized(guid)
	if canonical {
		return s.rawOwner(&raw)
	}
	if len(s.key) == 0 {
		return -1
	}
	if i, ok := s.byLit[string(s.key)]; ok {
		return i
	}
	return -1
}

// add records that guid owns the k-th owned entry of the user at pos.
func (s *ownerSet) add(guid string, pos, k int32) {
	raw, canonical := s.normalized(guid)
	if !canonical && len(s.key) == 0 {
		return // no GUID: nobody can claim the entry
	}
	var i int32
	var ok bool
	if canonical {
		if i = s.rawOwner(&raw); i >= 0 {
			ok = true
		} else {
			i = int32(len(s.list))
			s.putRaw(&raw, i)
		}
	} else {
		if s.byLit == nil {
			s.byLit = map[string]int32{}
		}
		if i, ok = s.byLit[string(s.key)]; !ok {
			i = int32(len(s.list))
			s.byLit[string(s.key)] = i
		}
	}
	if !ok {
		s.list = append(s.list, owner{first: -1, last: -1})
	}
	r := int32(len(s.refs))
	s.refs = append(s.refs, ownedRef{pos: pos, k: k, next: -1})
	o := &s.list[i]
	if o.last < 0 {
		o.first = r
	} else {
		s.refs[o.last].next = r
	}
	o.last = r
}

// entries yields the entries owner i owns, in the order the store gave
// them.
func (s *ownerSet) entries(i int32) iter.Seq[ownedRef] {
	return func(yield func(ownedRef) bool) {
		for r := s.list[i].first; r >= 0; r = s.refs[r].next {
			if !yield(s.refs[r]) {
				return
			}
		}
	}
}

// guids returns every owner's GUID (normalized) with its index, sorted by
// GUID as strings sort. Only departures need them as strings.
func (s *ownerSet) guids(keep func(*owner) bool) []ownerGUID {
	var out []ownerGUID
	for _, v := range s.table {
		if i := int32(uint32(v)) - 1; v != 0 && keep(&s.list[i]) {
			var g [36]byte
			formatGUID(&g, string(s.raws[i][:]))
			out = append(out, ownerGUID{guid: string(g[:]), i: i})
		}
	}
	for lit, i := range s.byLit {
		if keep(&s.list[i]) {
			out = append(out, ownerGUID{guid: lit, i: i})
		}
	}
	slices.SortFunc(out, func(a, b ownerGUID) int { return strings.Compare(a.guid, b.guid) })
	return out
}

type ownerGUID struct {
	guid string
	i    int32
}
