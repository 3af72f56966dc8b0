package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Check is what doctor shows of an Entra ID directory: who signed in,
// what the token allows, and the first user as upnsync maps it.
type Check struct {
	Auth AuthKind
	Who  string
	// Roles are the application permissions the token carries (its roles
	// claim), when the token can be read (a JWT); TokenExpires when it
	// ends.
	Roles        []string
	TokenExpires time.Time
	// Users is the first page's URL as sent; First the first user of it
	// as mapped (nil: the tenant has no users).
	Users string
	First *upnsync.Person
}

// HasUserReadAll tells whether the token carries a role that lets it
// list users.
func (c Check) HasUserReadAll() bool {
	return slices.ContainsFunc(c.Roles, func(r string) bool {
		switch strings.ToLower(r) {
		case "user.read.all", "user.readwrite.all", "directory.read.all", "directory.readwrite.all":
			return true
		}
		return false
	})
}

// Check signs in and reads one user (one page of one), as a run would:
// a missing permission or consent is reported here as in a run.
func (d *Directory) Check(ctx context.Context) (Check, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := Check{Auth: d.auth.kind, Who: d.auth.who}
	tok, err := d.token(ctx)
	if err != nil {
		return c, err
	}
	c.TokenExpires = d.tok.ExpiresOn
	c.Roles = tokenRoles(tok)
	c.Users = fmt.Sprintf("%s/v1.0/users?$select=%s&$top=1", d.endpoint, d.m.selectList())
	var res upnsync.ReadResult
	var out pages
	_, _, _, err = d.readPage(ctx, c.Users, 1, false, func(p upnsync.Person) error {
		if c.First == nil {
			c.First = &p
		}
		return nil
	}, &res, &out)
	return c, err
}

// tokenRoles reads the roles claim of a JWT access token without checking
// it (Graph does): for display only.
func tokenRoles(tok string) []string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return nil
	}
	return claims.Roles
}
