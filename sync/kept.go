package sync

import (
	"encoding/binary"
	"strings"
)

// keptPeople holds the people of a plan's changes, each as one record of
// an append-only arena (userArena, like the store's snapshot): a first run
// at a million users keeps close to a million, and what they share is kept
// once. A DN is its first RDN and the number of its parent (CN=Ann Lee,
// and OU=Sales,OU=People,DC=corp,DC=example,DC=com, which a whole
// department shares); a UPN its local part and the number of its domain.
// Either is split at any of its commas or at-signs and joined again at the
// same place, so a person comes back exactly as kept, whatever their
// names hold.
type keptPeople struct {
	arena userArena
	// parents and domains number the shared parts (sharedParts); a part
	// not numbered is kept whole in the record.
	parents, domains sharedParts
	enc              []byte // person being encoded
}

func newKeptPeople() keptPeople {
	return keptPeople{parents: sharedParts{sep: ','}, domains: sharedParts{sep: '@'}}
}

// Person record flags (the first byte of a kept person): the rule's index
// in its low bits, then these.
const (
	personRuleMask = 3 // index in rules; 3 is ruleNone
	personDisabled = 1 << 2
	personRawGUID  = 1 << 3
)

// ruleNone is the rule of a change no person matched: the removal of a
// departed person's entries.
const ruleNone = 255

// keep adds a person, and the rule of their change, and returns their
// address: flags, the DN's first RDN and its parent's number (0: none,
// the RDN is the whole DN), the UPN's local part and its domain's number
// (0: none), the sAMAccountName, then the GUID as 16 bytes when it is
// canonical (as readers give it), else as a string.
func (k *keptPeople) keep(p *Person, rule uint8) uint64 {
	flags := byte(rule) & personRuleMask
	if rule == ruleNone {
		flags = personRuleMask
	}
	var raw [16]byte
	canonical := parseGUID(&raw, p.GUID)
	if canonical {
		flags |= personRawGUID
	}
	if p.Disabled {
		flags |= personDisabled
	}
	b := append(k.enc[:0], flags)
	b = k.parents.appendSplit(b, p.DN, firstRDNEnd(p.DN))
	b = k.domains.appendSplit(b, p.UPN, strings.LastIndexByte(p.UPN, '@'))
	b = appendString(b, p.SAMAccountName)
	if canonical {
		b = append(b, raw[:]...)
	} else {
		b = appendString(b, p.GUID)
	}
	k.enc = b
	return k.arena.add(b)
}

// person rebuilds a kept person and their change's rule. The DN and UPN
// of a person whose parts are shared, and a GUID kept as bytes, are
// allocated; the rest shares the arena.
func (k *keptPeople) person(addr uint64) (Person, uint8) {
	r := record{s: k.arena.at(addr), i: 1}
	flags := r.s[0]
	var p Person
	p.DN = k.parents.join(&r)
	p.UPN = k.domains.join(&r)
	p.SAMAccountName = r.str()
	p.Disabled = flags&personDisabled != 0
	if flags&personRawGUID != 0 {
		var g [36]byte
		formatGUID(&g, r.raw(16))
		p.GUID = string(g[:])
	} else {
		p.GUID = r.str()
	}
	rule := flags & personRuleMask
	if rule == personRuleMask {
		rule = ruleNone
	}
	return p, rule
}

// upn is the UPN of a kept person.
func (k *keptPeople) upn(addr uint64) string {
	r := record{s: k.arena.at(addr), i: 1}
	r.str()
	r.uvarint()
	return k.domains.join(&r)
}

// parseGUID puts the 16 bytes of g in raw when g is a GUID in canonical
// form (IsGUID), in one pass: a first run keeps a GUID per change.
func parseGUID(raw *[16]byte, g string) bool {
	if len(g) != 36 || g[8] != '-' || g[13] != '-' || g[18] != '-' || g[23] != '-' {
		return false
	}
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
		}
		hi, lo := hexValue[g[i]], hexValue[g[i+1]]
		if hi|lo > 15 {
			return false
		}
		raw[j] = hi<<4 | lo
		j++
	}
	return true
}

// hexValue is the value of a lower-case hex digit, and 255 for any other
// byte.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 255
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// firstRDNEnd is where a DN's first RDN ends: its first comma not escaped
// by a backslash, or -1.
func firstRDNEnd(dn string) int {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return i
		}
	}
	return -1
}

// sharedParts numbers the parts of values many people share. It holds at
// most maxSharedParts parts of at most maxSharedPart bytes, so that
// values that share nothing cost one lookup each, never memory.
type sharedParts struct {
	sep   byte // what joins a value's head and its part: ',' or '@'
	ids   map[string]uint32
	parts []string
	// last is the part numbered last (people come in the directory's
	// order, a department after another), lastID its number.
	last   string
	lastID uint32
}

const (
	maxSharedParts = 1 << 16
	maxSharedPart  = 1 << 10
)

// appendSplit appends v to a record as v[:at] and the number of v[at+1:]
// (v[at] being the separator), or as v and 0 when at is -1 or the part is
// not numbered.
func (s *sharedParts) appendSplit(b []byte, v string, at int) []byte {
	if at >= 0 {
		if id := s.id(v[at+1:]); id > 0 {
			b = appendString(b, v[:at])
			return binary.AppendUvarint(b, uint64(id))
		}
	}
	b = appendString(b, v)
	return append(b, 0)
}

// join reads what appendSplit wrote.
func (s *sharedParts) join(r *record) string {
	head := r.str()
	id := r.uvarint()
	if id == 0 {
		return head
	}
	part := s.parts[id-1]
	var b strings.Builder
	b.Grow(len(head) + 1 + len(part))
	b.WriteString(head)
	b.WriteByte(s.sep)
	b.WriteString(part)
	return b.String()
}

// id is the number of part (from 1), numbering it when it is new; 0 when
// it is not numbered.
func (s *sharedParts) id(part string) uint32 {
	if s.lastID > 0 && part == s.last {
		return s.lastID
	}
	id, ok := s.ids[part]
	if !ok {
		if len(s.parts) >= maxSharedParts || len(part) > maxSharedPart {
			return 0
		}
		if s.ids == nil {
			s.ids = map[string]uint32{}
		}
		part = strings.Clone(part)
		s.parts = append(s.parts, part)
		id = uint32(len(s.parts))
		s.ids[part] = id
	}
	s.last, s.lastID = s.parts[id-1], id
	return id
}
