package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/run"
	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/entra"
)

// Entra ID's checks, one per step a run takes: signing in (a token), the
// permission to list users (one page of one user), and the first user as
// upnsync maps it.
var entraChecks = []string{"sign-in", "permission", "first user", "changes"}

func skipEntraFrom(d *doctor, first, why string) {
	on := false
	for _, name := range entraChecks {
		on = on || name == first
		if on && (name != "changes" || d.tracking) {
			d.skip(name, why)
		}
	}
}

// doctorEntra checks an entra:TENANT directory (tenant, or the error of
// its URL).
func doctorEntra(ctx context.Context, d *doctor, s *config.Settings, fields mapping.Fields, tenant string, urlErr error) {
	if urlErr != nil {
		d.fail("directory", urlErr.Error(), "")
		skipEntraFrom(d, "sign-in", "the directory settings are not usable")
		return
	}
	dir, err := entra.Open(run.EntraOptions(s, tenant, fields))
	if err != nil {
		d.fail("directory", err.Error(), "")
		skipEntraFrom(d, "sign-in", "the directory settings are not usable")
		return
	}
	defer dir.Close()
	c, err := dir.Check(ctx)

	// sign-in
	if c.TokenExpires.IsZero() {
		d.fail("sign-in", err.Error(), signInFix(c.Auth))
		skipEntraFrom(d, "permission", "no token")
		return
	}
	perms := "the token names no application permission (roles)"
	if len(c.Roles) > 0 {
		perms = "application permissions in the token: " + strings.Join(c.Roles, ", ")
	}
	d.pass("sign-in", fmt.Sprintf("signed in to Entra ID tenant %s as %s; the token is valid until %s; %s",
		tenant, c.Who, c.TokenExpires.Local().Format(time.DateTime), perms))

	// permission
	if err != nil {
		fix := ""
		if !c.HasUserReadAll() {
			fix = "grant the Microsoft Graph application permission User.Read.All with admin consent (docs/entra.md), then run upnsync doctor again"
		}
		d.fail("permission", err.Error(), fix)
		skipEntraFrom(d, "first user", "Microsoft Graph did not let upnsync list users")
		return
	}
	d.pass("permission", fmt.Sprintf("Microsoft Graph lets %s list users (one page read)", c.Who))
	d.note("a run reads like: GET " + strings.Replace(c.Users, "$top=1", fmt.Sprintf("$top=%d", entra.PageSize), 1))

	// first user
	if c.First == nil {
		d.warn("first user", "the tenant lists no users", "check the tenant in --directory entra:TENANT")
	} else {
		d.pass("first user", personLine(c.First))
	}

	// change tracking
	if d.tracking {
		d.pass("changes", "--incremental: Microsoft Graph's delta query (/users/delta) needs no permission beyond the one above; the first run reads in full and keeps the delta link in the store's state")
	}
}

// personLine shows a person read through Graph as upnsync maps it, and
// how it can match an Octopus user.
func personLine(p *upnsync.Person) string {
	parts := []string{"UPN " + orNone(p.UPN)}
	if p.GUID != "" {
		parts = append(parts, "objectGUID "+p.GUID+" (from onPremisesImmutableId: matches the ExternalIdentifier ADSIReader stored)")
	} else {
		parts = append(parts, "no objectGUID (a cloud-only user, or a custom source anchor: matches by Windows username or e-mail)")
	}
	if p.SAMAccountName != "" {
		parts = append(parts, fmt.Sprintf("account %s\\%s", p.Domain, p.SAMAccountName))
	}
	parts = append(parts, "e-mail "+orNone(p.Mail), fmt.Sprintf("name %q %q", p.GivenName, p.Surname))
	if p.Disabled {
		parts = append(parts, "disabled")
	}
	if p.Skip != "" {
		parts = append(parts, "skipped: "+p.Skip)
	}
	return strings.Join(parts, "; ")
}

// signInFix says what to check when signing in failed, by the way chosen.
func signInFix(how entra.AuthKind) string {
	switch how {
	case entra.AuthSecret:
		return "check --client-id (the app registration's Application (client) ID) and that the secret file holds the secret's Value, not its ID, and has not expired"
	case entra.AuthCertificate:
		return "check --client-id and that the certificate's public part is uploaded to the app registration (Certificates & secrets)"
	case entra.AuthManagedIdentity:
		return "run upnsync on the Azure resource whose managed identity it is, with that identity turned on (or its client ID given)"
	case entra.AuthAzureCLI:
		return "sign in with az login --tenant TENANT --allow-no-subscriptions, or give --client-id with --client-secret-file or --client-certificate"
	}
	return "see docs/entra.md for the ways to sign in"
}
