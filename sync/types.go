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
	// Deleted marks a tombstone: a change feed (DirSync) reporting that the
	// object with this GUID was deleted. Only GUID and DN are set.
	Deleted bool
	// Unselected marks an object a change feed reported changed that the
	// search bases and the user filter no longer select (moved away,
	// filtered out). Only GUID and DN are set; the directory is asked why.
	Unselected bool
	// Skip is set by a source that reads a person but leaves them out on
	// purpose (an Entra ID guest): the reason, reported as a skip. The
	// person is not matched, and counts as seen: entries upnsync added for
	// them are not departed.
	Skip string
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

// The matching rules, strongest first (docs/design.md, rules M1 to M3).
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
	// Removed are entries upnsync added earlier that this change takes out:
	// a departed person's UPN (--remove-departed), or a renamed person's old
	// UPN when the new one is already in the list. Never a manual entry.
	Removed []string
	Person  Person
	// Departed is set on a change made only to remove a departed person's
	// entries: why the person is gone. Person then names that person.
	Departed DepartureReason
	// Notes are facts worth telling the administrator that do not stop the
	// change (for example a manual entry equal to an old UPN kept as is).
	Notes []string
}

// Removal reports whether the change takes out entries of a person who
// left (as opposed to a rename's clean-up).
func (c *Change) Removal() bool { return c.Departed != "" }

// Conflict reasons (docs/design.md, rules C1 to C6). Programs read these
// strings from the JSON report.
const (
	ConflictInvalidUPN     = "invalid-upn"
	ConflictDuplicateUPN   = "duplicate-upn"
	ConflictOwnedByOther   = "upn-owned-by-other-user"
	ConflictFieldTooLong   = "field-too-long"
	ConflictAmbiguousMatch = "ambiguous-match"
	// ConflictExternalIDByteOrder (C8): a user's ExternalIdentifier is the
	// person's objectGUID with the bytes of its first three groups in the
	// wrong order, a frequent export mistake.
	ConflictExternalIDByteOrder = "external-id-byte-order"
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
	// UserNames are the names of Users, in the same order ("" where a
	// user has none), for the reports.
	UserNames []string
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
	// Departed counts people upnsync added entries for who were not in the
	// read; Removals the entries of theirs the plan removes.
	Departed int
	Removals int
	// NotFound counts the departed people the directory could not find
	// (DepartedNotFound): kept, and worth a look at the account's rights.
	NotFound int
	// PinnedMissing counts the Octopus users whose ExternalIdentifier
	// names no person of a complete read (Plan.PinnedMissing).
	PinnedMissing int
	ByRule        map[MatchRule]int
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
	// Partial is set when the read covers only what changed since an
	// earlier run (an incremental or DirSync read): people not read are
	// not gone, so no departure is inferred from their absence. Complete
	// then proves that the whole delta was read.
	Partial bool
	// Whole is set by a source that proves it read every user of the
	// directory: LDAP with no --filter or --user-filter and every search
	// base a naming context's root (or the Global Catalog's whole
	// forest), or a full Entra ID read. Absence from a read that is not
	// whole (one OU, a filter, an export) says nothing about an object,
	// so rule M7 then lists only users someone of the read would match.
	Whole bool
	// Tombstones counts the deleted objects a change feed reported, and
	// Unselected the changed ones the bases and filter no longer select
	// (both are in Entries).
	Tombstones int
	Unselected int
}

// BaseCount is how many entries one search base returned.
type BaseCount struct {
	Base    string
	Entries int
	Pages   int
	// Referrals are the continuation references under this base, counted
	// and not followed.
	Referrals int
}

// Plan is everything one run would change and why. The same value renders
// the text, JSON and CSV reports.
type Plan struct {
	// Changes are kept compact (changes.go): read them with Len, At, All
	// or Batch.
	Changes   Changes
	Conflicts []Conflict
	Unmatched []Person
	Skipped   []Skip
	// Departures are the people upnsync added entries for who were not in
	// the read, with why they are gone when the directory could tell.
	Departures []Departure
	// PinnedMissing lists, after a complete full read, the Octopus users
	// whose ExternalIdentifier holds an objectGUID no person of the read
	// has (docs/design.md, rule M7); at most Options.ListLimit of them.
	PinnedMissing []Pinned
	Stats         Stats
	Read          ReadResult
	// DomainHints are unmatched people whose account name a user lists
	// under another NetBIOS domain name (domainhints.go): worth a note.
	DomainHints []DomainHint
}

// Pinned is an Octopus user whose ExternalIdentifier names a directory
// object the read did not return (rule M7), with the person of the read
// whose account name, UPN or e-mail matches the user, when one does.
type Pinned struct {
	UserID     string
	UserName   string
	ExternalID string
	// Candidate is that person (GUID, UPN, DN), and Match the rule by
	// which they would match the user but for M5; both empty when none.
	Candidate Person
	Match     MatchRule
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

// DepartureReason says why a person upnsync added entries for was not in
// a complete read. Programs read these strings from the JSON report.
type DepartureReason string

// Departure reasons (docs/design.md, rule D2). DepartedUnknown and
// DepartedPresent never lead to a removal.
const (
	// DepartedUnknown: not classified (--remove-departed not given, or the
	// directory could not be asked).
	DepartedUnknown DepartureReason = ""
	// DepartedDisabled: the account is disabled (and the filter or
	// --skip-disabled leaves disabled accounts out).
	DepartedDisabled DepartureReason = "disabled"
	// DepartedDeleted: the object's tombstone was read, or a change feed
	// (DirSync, Microsoft Graph's delta) reported the deletion: positive
	// evidence, never the mere absence of an object.
	DepartedDeleted DepartureReason = "deleted"
	// DepartedMoved: the object was read, outside every searched base.
	DepartedMoved DepartureReason = "moved-out-of-scope"
	// DepartedFiltered: the object was read inside a searched base, and
	// the user filter no longer selects it.
	DepartedFiltered DepartureReason = "filtered-out"
	// DepartedNotFound: the directory shows no object with that objectGUID
	// to this account, nor its tombstone: not visible to the account (its
	// read rights), or deleted and purged. No evidence that the person
	// left: never removed.
	DepartedNotFound DepartureReason = "not-found"
	// DepartedNotInExport: an export (LDIF) cannot tell more than that.
	DepartedNotInExport DepartureReason = "not-in-export"
	// DepartedPresent: found in scope and selected by the filter after the
	// read (created or moved back meanwhile): not gone at all.
	DepartedPresent DepartureReason = "present"
	// DepartedLookupFailed: asking the directory failed.
	DepartedLookupFailed DepartureReason = "lookup-failed"
)

// NotFoundCheck is what to check about a person the directory could not
// find (DepartedNotFound), as reports and the log say it.
const NotFoundCheck = "check that the account upnsync binds as may read the part of the directory this person was in (List contents and Read all properties on its OUs, under the searched bases), or whether the account was deleted"

// Removable reports whether entries of a person gone for this reason may
// be removed (with --remove-departed, after a complete read: docs/design.md,
// rule D3).
func (r DepartureReason) Removable() bool {
	switch r {
	case DepartedDisabled, DepartedDeleted, DepartedMoved, DepartedFiltered, DepartedNotInExport:
		return true
	}
	return false
}

// Whereabouts is what a directory found out about an objectGUID that was
// not in its read.
type Whereabouts struct {
	Reason DepartureReason
	// DN is where the object is now, when it was found.
	DN string
	// Detail says how the directory knows, in words.
	Detail string
}

// GUIDLocator is implemented by directories that can look an objectGUID
// up wherever the object is (AD: a base search on <GUID=...>), so that a
// departure can be classified before anything is removed.
type GUIDLocator interface {
	LocateGUID(ctx context.Context, guid string) (Whereabouts, error)
}

// DepartedEntry is one entry upnsync added to one user for a departed
// person.
type DepartedEntry struct {
	UserID   string
	UserName string
	Entry    string
}

// Departure is a person upnsync added entries for who was not in the read.
type Departure struct {
	GUID string
	Whereabouts
	// Entries upnsync added for this person that are still in a list.
	Entries []DepartedEntry
	// Removed is set when the plan removes the entries; Kept says why not.
	Removed bool
	Kept    string
}

// Run kinds, as `upnsync runs` lists them.
const (
	RunSync  = "sync"
	RunPlan  = "apply-plan"
	RunUndo  = "undo"
	RunOther = "other"
)

// Run identifies one apply for the journal.
type Run struct {
	ID        string
	Started   time.Time
	Directory string
	// Kind is RunSync, RunPlan or RunUndo ("" is RunSync).
	Kind string
	// Undoes is the run an undo reverses.
	Undoes string
	// PlanSHA256 is the digest of the saved plan an apply-plan run applied.
	PlanSHA256 string
	// Forced lists the guards --force let through, as their messages.
	Forced []string
	// Host, User and Command say who ran it (never a password).
	Host    string
	User    string
	Command string
}

// RunInfo is a recorded run, as `upnsync runs` lists it.
type RunInfo struct {
	Run
	Finished time.Time
	Written  int
	Stale    int
	// UndoneBy lists the undo runs that reversed this one.
	UndoneBy []string
}

// JournalEntry is one user written by a run: the exact values before and
// after, and the provenance changes made with it, so that an undo can
// reverse both.
type JournalEntry struct {
	Seq      int
	UserID   string
	Before   string
	After    string
	GUID     string
	Added    []string
	Replaced []Replacement
	Removed  []string
}

// Journal is implemented by stores that record runs: `upnsync runs` and
// `upnsync undo` need it.
type Journal interface {
	// Runs streams the recorded runs, newest first.
	Runs(ctx context.Context, fn func(RunInfo) error) error
	// RunJournal returns a run and streams what it wrote, in order. A run
	// that is not recorded is an error naming it.
	RunJournal(ctx context.Context, runID string, fn func(JournalEntry) error) (RunInfo, error)
}

// Inverse is the change that restores a journal entry's before value: a
// compare-and-swap on the after value, with the provenance changes
// reversed.
func (e JournalEntry) Inverse() Change {
	c := Change{UserID: e.UserID, Before: e.After, After: e.Before, Person: Person{GUID: e.GUID},
		Added: e.Removed, Removed: e.Added}
	for _, r := range e.Replaced {
		c.Replaced = append(c.Replaced, Replacement{Old: r.New, New: r.Old})
	}
	return c
}

// Stale is a planned change not written because the user's value changed
// after the plan saw it (the compare-and-swap failed) or the user is gone.
type Stale struct {
	UserID   string
	Expected string
	Found    string
	Missing  bool
	// Planned is the value the change would have written: when Found
	// equals it, the change was already made (a plan applied twice).
	Planned string
}

// AlreadyApplied reports whether the user already holds the planned value.
func (s Stale) AlreadyApplied() bool { return !s.Missing && s.Found == s.Planned }

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
	Apply(ctx context.Context, run Run, changes Changes) (Applied, error)
	Describe() string
	Close() error
}

// Read modes of a run, as reports and summaries name them.
const (
	ReadFull        = "full"
	ReadIncremental = "incremental"
	ReadDirSync     = "dirsync"
)

// ReadMode says how a run with --incremental or --dirsync read the
// directory: in full (and why) or only what changed, from which watermark,
// and whether the run advanced it.
type ReadMode struct {
	// Mode is ReadFull, ReadIncremental or ReadDirSync.
	Mode string `json:"mode"`
	// FullReason says why a run asked for a delta read in full.
	FullReason string `json:"full_reason,omitempty"`
	// From is the watermark the delta started after ("" for a full read);
	// To the one this run's read ends at, which the next run starts from
	// once this one advanced it.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Advanced is set when the run saved To; NotAdvanced says why not.
	Advanced    bool   `json:"advanced"`
	NotAdvanced string `json:"not_advanced,omitempty"`
}
