package sync

import "strings"

// DomainHint is an unmatched person whose account name a user's list
// holds under another NetBIOS domain name: OTHER\sam, where the person was
// read with a domain that is not OTHER (else rule M2 would have matched).
// It usually means that the NetBIOS name in use is wrong (guessed from the
// DN: DC=octopus-qc gives OCTOPUS-QC while the domain is OCTOPUS) and
// --netbios-domain would match the person.
type DomainHint struct {
	// Person is the unmatched person (DN, UPN, sAMAccountName, GUID).
	Person Person
	// UserID and UserName name the user whose list holds Entry.
	UserID, UserName string
	// Entry is the list's entry as written, e.g. OCTOPUS\mtremblay.
	Entry string
}

// maxDomainHints bounds the hints a plan carries: past a few, the cause
// is the same for all and the first ones say it.
const maxDomainHints = 20

// domainHints is a post-pass over the unmatched people, run once when
// matching is over and the index is still there, outside the matching
// rules' hot path: it looks through every user's list for DOMAIN\sam
// entries naming an unmatched person's sAMAccountName, and costs nothing
// when no unmatched person has one.
func (p *Planner) domainHints() []DomainHint {
	sams := map[string]int{}
	for i := range p.unmatched {
		if p.gone[i] {
			continue
		}
		if sam := p.unmatched[i].unpack().SAMAccountName; sam != "" {
			if _, dup := sams[strings.ToLower(sam)]; !dup {
				sams[strings.ToLower(sam)] = i
			}
		}
	}
	if len(sams) == 0 || p.ix == nil {
		return nil
	}
	var hints []DomainHint
	hinted := map[int]bool{}
	for pos := int32(0); pos < p.ix.n && len(hints) < maxDomainHints; pos++ {
		list := p.ix.windows(pos)
		if strings.IndexByte(list, '\\') < 0 {
			continue
		}
		for entry := range strings.SplitSeq(list, ";") {
			entry = strings.TrimSpace(entry)
			d, sam, ok := strings.Cut(entry, `\`)
			if !ok || d == "" {
				continue
			}
			i, ok := sams[strings.ToLower(sam)]
			if !ok || hinted[i] {
				continue
			}
			hinted[i] = true
			u := p.ix.user(pos)
			hints = append(hints, DomainHint{Person: p.unmatched[i].unpack(), UserID: u.ID,
				UserName: strings.TrimSpace(u.FirstName + " " + u.LastName), Entry: entry})
		}
	}
	return hints
}
