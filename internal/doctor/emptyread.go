package doctor

import (
	"context"
	"fmt"

	"github.com/upnsync/upnsync/internal/progress"
	"github.com/upnsync/upnsync/sync/directory"
)

// emptyBase says which part of what a run selects leaves a base without
// anyone (a run that reads nobody stops: docs/design.md, rule G8): the
// --filter clause, the user filter (--user-filter), or the base itself
// (--domain), counting the people under the base with each part left out
// in turn.
func emptyBase(ctx context.Context, d *doctor, p *directory.Probe, base string) {
	user, extra := p.FilterParts()
	count := func(filter string) (int, bool) {
		info, err := p.CountWith(ctx, base, filter, doctorCountLimit)
		if err != nil {
			return 0, false
		}
		return info.Users, true
	}
	users := func(n int) string {
		if n >= doctorCountLimit {
			return "more than " + progress.Thousands(int64(n)) + " entries"
		}
		if n == 1 {
			return "1 entry"
		}
		return progress.Thousands(int64(n)) + " entries"
	}
	const stops = "a run that reads nobody stops before writing (exit 3)"
	if extra != "" {
		if n, ok := count(user); ok && n > 0 {
			d.warn("base", fmt.Sprintf("%s: --filter %s selects nobody: the user filter alone selects %s there", base, extra, users(n)),
				"check --filter (a group's DN in memberOf must be exact, e.g. (memberOf=CN=Staff,OU=Groups,DC=corp,DC=example,DC=com)); "+stops)
			return
		}
	}
	if user != directory.DefaultUserFilter {
		if n, ok := count(directory.DefaultUserFilter); ok && n > 0 {
			d.warn("base", fmt.Sprintf("%s: --user-filter %s selects nobody: AD's own filter %s selects %s there", base, user, directory.DefaultUserFilter, users(n)),
				"check --user-filter; "+stops)
			return
		}
	}
	if n, ok := count("(objectClass=*)"); ok && n > 1 {
		d.warn("base", fmt.Sprintf("%s exists but holds no user (%s, none a user the filter selects)", base, users(n)),
			"check --domain (the users may be under another OU) and --user-filter (for non-AD directories e.g. (objectClass=inetOrgPerson)); "+stops)
		return
	}
	d.warn("base", fmt.Sprintf("%s exists but shows nothing under it to this account", base),
		"check --domain, and that the account upnsync binds as may read under it (List contents and Read all properties); "+stops)
}
