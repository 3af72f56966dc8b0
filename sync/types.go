// Package sync is the engine of upnsync: it matches directory people to
// Octopus users, merges each person's UPN into the user's list of Windows
// usernames and produces a Plan. It does no I/O of its own: directories and
// stores are ports (the Directory and Store interfaces) implemented under
// sync/directory and sync/octopus and wired together by cmd/upnsync.
package sync

import (
	"context"
	"time"
)

// Person is one directory user as the engine needs it. Readers fill it from
// LDAP, LDIF or exports through the attribute mapping.
type Person struct {
	// GUID is the objectGUID in canonical lower-case form
	// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), or "" when the source has none.
	GUID string
	// UPN is the userPrincipalName as read (possibly empty).
	UPN            string
	SAMAccountName string
	// Domain is the NetBIOS domain name (CORP) used to match DOMAIN\name
	// entries; DNSDomain (corp.example.com) builds an implicit UPN.
	Domain    string
	DNSDomain string
	DN        string
	GivenName string
	Surname   string
	Mail      string
	Disabled  bool
}

// Label names a person in reports and errors: the DN when known, else the
// UPN or the account name.
func (p *Person) Label() string {
	switch {
	case p.DN != "":
		return p.DN
	case p.UPN != "":
		return p.UPN
	case p.SAMAccountName != "":
		return p.SAMAccountName
	}
	return p.GUID
}

// Owned is one entry of a user's Windows usernames that upnsync added
// itself, with the objectGUID of the person it was added for. Only owned
// entries may ever be replaced (a rename) or removed.
type Owned struct {
	Entry string
	GUID  string
}

// User is one Octopus user as the store holds it.
type User struct {
	ID               string
	FirstName        string
	LastName         string
	Email            string
	WindowsUsernames string
	ExternalID       string
	Active           bool
	// Owned lists what upnsync added to WindowsUsernames on earlier runs.
	Owned []Owned
}

// Name is the user's display name for reports.
func (u *User) Name() string {
	switch {
	case u.FirstName != "" && u.LastName != "":
		return u.FirstName + " " + u.LastName
	case u.FirstName != "":
		return u.FirstName
	}
	return u.LastName
}

// MatchRule says which rule tied a person to an Octopus user.
type MatchRule string

// The matching rules, strongest first.
const (
	MatchExternalID      MatchRule = "external-id"
	MatchWindowsUsername MatchRule = "windows-username"
	MatchEmail           MatchRule = "email"
)

// Replacement is an owned entry replaced in place because the person's UPN
// changed in the directory (same objectGUID).
type Replacement struct {
	Old string `json:"old"`
	New string `json:"new"`
}

// Change is one Octopus user whose Windows usernames must change. Before is
// the exact value the plan saw: applying it is a compare-and-swap on Before.
type Change struct {
	UserID     string
	UserName   string
	ExternalID string
	Match      MatchRule
	Before     string
	After      string
	Added      []string
	Replaced   []Replacement
	Person     Person
	// Notes are facts worth telling the administrator that do not stop the
	// change (for example a manual entry equal to an old UPN kept as is).
	Notes []string
}

// Conflict reasons. Programs read these strings from the JSON report.
const (
	ConflictInvalidUPN     = "invalid-upn"
	ConflictDuplicateUPN   = "duplicate-upn"
	ConflictOwnedByOther   = "upn-owned-by-other-user"
	ConflictFieldTooLong   = "field-too-long"
	ConflictAmbiguousMatch = "ambiguous-match"
)

// Conflict is a person (or several) that could not be merged. A conflict
// never stops the rest of the run and nothing is written for it.
type Conflict struct {
	Reason string
	UPN    string
	Detail string
	// Users are Octopus user ids involved; People are directory labels (DNs).
	Users  []string
	People []string
}

// Skip is a person left out on purpose, with the reason.
type Skip struct {
	DN     string
	Reason string
}

// Stats are the summary counts of a plan.
type Stats struct {
	Read      int
	Matched   int
	Unchanged int
	Changes   int
	Conflicts int
	Unmatched int
	Skipped   int
	ByRule    map[MatchRule]int
	// Octopus users loaded from the store.
	StoreUsers int
}

// ReadResult is the directory's account of a read and the proof that it is
// complete: every page closed with success and the last cookie was empty.
type ReadResult struct {
	Complete  bool
	Pages     int
	Entries   int
	Referrals int
	// Why explains an incomplete read in words an administrator can act on.
	Why string
	// Bases are per search base counts when the reader searched several.
	Bases []BaseCount
}

// BaseCount is how many entries one search base returned.
type BaseCount struct {
	Base    string
	Entries int
	Pages   int
}

// Plan is everything one run would change and why. The same value renders
// the text, JSON and CSV reports.
type Plan struct {
	Changes   []Change
	Conflicts []Conflict
	Unmatched []Person
	Skipped   []Skip
	Stats     Stats
	Read      ReadResult
}

// Directory is where people come from.
type Directory interface {
	// Read streams every person to fn. It returns the completeness proof; an
	// error means the read failed and ReadResult.Complete is false.
	Read(ctx context.Context, fn func(Person) error) (ReadResult, error)
	// Describe names the directory for reports (never with credentials).
	Describe() string
	Close() error
}

// Run identifies one apply for the journal.
type Run struct {
	ID        string
	Started   time.Time
	Directory string
}

// Stale is a planned change not written because the user's value changed
// after the plan saw it (the compare-and-swap failed) or the user is gone.
type Stale struct {
	UserID   string
	Expected string
	Found    string
	Missing  bool
}

// Applied is the store's account of an apply.
type Applied struct {
	RunID   string
	Written []string
	Stale   []Stale
}

// Store is the Octopus user store.
type Store interface {
	// Users streams every user with what upnsync owns in its list.
	Users(ctx context.Context, fn func(User) error) error
	// Apply writes the changes as compare-and-swap updates on Before, in
	// transactions, journaling before/after values and recording the
	// provenance of added and replaced entries. A user whose value is no
	// longer Before is reported in Applied.Stale, never overwritten.
	Apply(ctx context.Context, run Run, changes []Change) (Applied, error)
	Describe() string
	Close() error
}
