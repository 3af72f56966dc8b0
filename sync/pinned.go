package sync

import "strings"

// What the read saw of the users pinned to a directory object by their
// ExternalIdentifier (rule M7, rules.go): which were named by a person of
// the read, and for the others the first person who would match them but
// for M5. Memory: a bit per user, and a candidate per pinned user M5 kept
// from someone.
type pinnedSeen struct {
	named      []uint64 // bit set by user position
	candidates map[int32]Pinned
	// guids is set once a person read had an objectGUID: a read without
	// any (an export that lacks them) cannot name anyone.
	guids bool
}

func (s *pinnedSeen) name(pos int32) {
	for len(s.named) <= int(pos>>6) {
		s.named = append(s.named, 0)
	}
	s.named[pos>>6] |= 1 << (pos & 63)
}

func (s *pinnedSeen) isNamed(pos int32) bool {
	return int(pos>>6) < len(s.named) && s.named[pos>>6]&(1<<(pos&63)) != 0
}

// notePinned records what one match says about pinned users: those it
// found are named by the person (by M1 or C8; or by M2 or M3 when the
// person has no objectGUID: an export without it); those M5 kept from the
// person (by M2, then M3) have a candidate, the first one only.
func (p *Planner) notePinned(person *Person, users []int32) {
	if p.ix.pinnedN == 0 {
		return
	}
	for _, pos := range users {
		p.pinned.name(pos)
	}
	for i, pos := range p.ix.dropped {
		if _, ok := p.pinned.candidates[pos]; ok {
			continue
		}
		if p.pinned.candidates == nil {
			p.pinned.candidates = map[int32]Pinned{}
		}
		m := MatchWindowsUsername
		if i >= p.ix.byName {
			m = MatchEmail
		}
		p.pinned.candidates[pos] = Pinned{Match: m, Candidate: Person{GUID: strings.Clone(person.GUID),
			UPN: strings.Clone(person.UPN), DN: strings.Clone(person.DN)}}
	}
}

// skipRead skips a person who was read (P3 to P5): a user pinned to the
// person's objectGUID (in either byte order) is named all the same.
func (p *Planner) skipRead(person *Person, reason string) {
	if p.ix.pinnedN > 0 && strings.TrimSpace(person.GUID) != "" {
		for _, pos := range p.ix.withExternalID(person.GUID, p.buf[:0]) {
			p.pinned.name(pos)
		}
		for _, pos := range p.ix.withSwappedExternalID(person.GUID, p.buf[:0]) {
			p.pinned.name(pos)
		}
	}
	p.skip(person, reason)
}
