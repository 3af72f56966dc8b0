package sync

// Withdraw turns planned changes into conflicts, keyed by their position in
// p.Changes: a store that cannot write some changes (a value over one of
// its limits, a user it has no safe way to find) says so before anything
// is reported or written, and the rest of the plan goes on (docs/design.md,
// rule C7).
func (p *Plan) Withdraw(refused map[int]Conflict) {
	if len(refused) == 0 {
		return
	}
	keep := p.Changes[:0]
	for i, c := range p.Changes {
		if conf, ok := refused[i]; ok {
			if conf.UserNames == nil && len(conf.Users) == 1 && conf.Users[0] == c.UserID {
				conf.UserNames = []string{c.UserName}
			}
			p.Conflicts = append(p.Conflicts, conf)
			continue
		}
		keep = append(keep, c)
	}
	p.Changes = keep
	p.Stats.Changes = len(p.Changes)
	p.Stats.Conflicts = len(p.Conflicts)
}
