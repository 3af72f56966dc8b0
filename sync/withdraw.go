package sync

import (
	"maps"
	"slices"
)

// Withdraw turns planned changes into conflicts, keyed by their position in
// p.Changes: a store that cannot write some changes (a value over one of
// its limits, a user it has no safe way to find) says so before anything
// is reported or written, and the rest of the plan goes on (docs/design.md,
// rule C7).
func (p *Plan) Withdraw(refused map[int]Conflict) {
	if len(refused) == 0 {
		return
	}
	for _, i := range slices.Sorted(maps.Keys(refused)) {
		conf := refused[i]
		if i < 0 || i >= p.Changes.Len() {
			continue
		}
		if c := p.Changes.At(i); conf.UserNames == nil && len(conf.Users) == 1 && conf.Users[0] == c.UserID {
			conf.UserNames = []string{c.UserName}
		}
		p.Conflicts = append(p.Conflicts, conf)
	}
	p.Changes = p.Changes.without(func(i int) bool { _, ok := refused[i]; return ok })
	p.Stats.Changes = p.Changes.Len()
	p.Stats.Conflicts = len(p.Conflicts)
}
