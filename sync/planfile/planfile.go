// Package planfile saves a plan for `upnsync apply`: the changes exactly as
// planned, each with the value the plan saw (the apply is a
// compare-and-swap on it), the store they are for, and a SHA-256 of the
// plan so that a file changed after it was written is refused.
//
// The file is JSON: {"format":"upnsync-plan","version":1,"sha256":"…",
// "plan":{…}}, where sha256 is the digest of the exact bytes of the plan
// value. The digest detects edits, damage and truncation; it is not a
// signature (whoever can edit the file can recompute it), so keep plan
// files where only administrators can write, as the store itself. The
// format is described in docs/design.md, "Saved plan".
package planfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/upnsync/upnsync/internal/atomicfile"
	upnsync "github.com/upnsync/upnsync/sync"
)

// Format and Version identify the file. Version goes up when a change
// would make an older upnsync misread a plan.
const (
	Format  = "upnsync-plan"
	Version = 1
)

// maxSize bounds what is read: a plan of a million changes is a few
// hundred megabytes.
const maxSize = 2 << 30

// Plan is the saved plan.
type Plan struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
	Host      string    `json:"host,omitempty"`
	User      string    `json:"user,omitempty"`
	// Store is the --store URL the plan applies to (a file path made
	// absolute, never a password); State is --state, if any.
	Store string `json:"store"`
	State string `json:"state,omitempty"`
	// Directory describes where the people came from.
	Directory string `json:"directory"`
	// InputsSHA256 is a digest of what the plan was made from: the mapping
	// file, the settings, the store's users and provenance, and the people
	// read. Two plans with the same inputs digest were made from the same
	// state of things.
	InputsSHA256 string            `json:"inputs_sha256"`
	Settings     map[string]string `json:"settings"`
	Read         ReadSummary       `json:"read"`
	Summary      Summary           `json:"summary"`
	// Forced lists the guards --force let through when the plan was made.
	Forced     []string    `json:"forced,omitempty"`
	Changes    []Change    `json:"changes"`
	Departures []Departure `json:"departures,omitempty"`
}

// ReadSummary is the directory read the plan was made from.
type ReadSummary struct {
	Complete bool `json:"complete"`
	Entries  int  `json:"entries"`
	Pages    int  `json:"pages"`
}

// Summary are the plan's counts.
type Summary struct {
	Read       int `json:"read"`
	Matched    int `json:"matched"`
	Unchanged  int `json:"unchanged"`
	Changes    int `json:"changes"`
	Conflicts  int `json:"conflicts"`
	Unmatched  int `json:"unmatched"`
	Skipped    int `json:"skipped"`
	Departed   int `json:"departed"`
	Removals   int `json:"removals"`
	StoreUsers int `json:"store_users"`
}

// Change is one planned write.
type Change struct {
	UserID   string                `json:"user_id"`
	Name     string                `json:"name,omitempty"`
	Match    string                `json:"match,omitempty"`
	Before   string                `json:"before"`
	After    string                `json:"after"`
	Added    []string              `json:"added,omitempty"`
	Replaced []upnsync.Replacement `json:"replaced,omitempty"`
	Removed  []string              `json:"removed,omitempty"`
	Departed string                `json:"departed,omitempty"`
	GUID     string                `json:"guid,omitempty"`
	DN       string                `json:"dn,omitempty"`
	UPN      string                `json:"upn,omitempty"`
	Notes    []string              `json:"notes,omitempty"`
}

// Departure is a departed person, for the record.
type Departure struct {
	GUID    string `json:"guid"`
	Reason  string `json:"reason"`
	DN      string `json:"dn,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Removed bool   `json:"removed"`
	Kept    string `json:"kept,omitempty"`
}

type envelope struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	SHA256  string          `json:"sha256"`
	Plan    json.RawMessage `json:"plan"`
}

// FromPlan turns an engine plan into the saved form.
func FromPlan(p *upnsync.Plan) ([]Change, []Departure, Summary, ReadSummary) {
	changes := make([]Change, 0, p.Changes.Len())
	for _, c := range p.Changes.All() {
		changes = append(changes, Change{UserID: c.UserID, Name: c.UserName, Match: string(c.Match),
			Before: c.Before, After: c.After, Added: c.Added, Replaced: c.Replaced, Removed: c.Removed,
			Departed: string(c.Departed), GUID: c.Person.GUID, DN: c.Person.DN, UPN: c.Person.UPN, Notes: c.Notes})
	}
	var deps []Departure
	for _, d := range p.Departures {
		deps = append(deps, Departure{GUID: d.GUID, Reason: string(d.Reason), DN: d.DN, Detail: d.Detail, Removed: d.Removed, Kept: d.Kept})
	}
	st := p.Stats
	sum := Summary{Read: st.Read, Matched: st.Matched, Unchanged: st.Unchanged, Changes: st.Changes,
		Conflicts: st.Conflicts, Unmatched: st.Unmatched, Skipped: st.Skipped, Departed: st.Departed,
		Removals: st.Removals, StoreUsers: st.StoreUsers}
	return changes, deps, sum, ReadSummary{Complete: p.Read.Complete, Entries: p.Read.Entries, Pages: p.Read.Pages}
}

// EngineChanges are the saved changes as the store applies them.
func (p *Plan) EngineChanges() []upnsync.Change {
	out := make([]upnsync.Change, 0, len(p.Changes))
	for _, c := range p.Changes {
		out = append(out, upnsync.Change{UserID: c.UserID, UserName: c.Name, Match: upnsync.MatchRule(c.Match),
			Before: c.Before, After: c.After, Added: c.Added, Replaced: c.Replaced, Removed: c.Removed,
			Departed: upnsync.DepartureReason(c.Departed), Notes: c.Notes,
			Person: upnsync.Person{GUID: c.GUID, DN: c.DN, UPN: c.UPN}})
	}
	return out
}

// EnginePlan is the saved plan as the reports render it.
func (p *Plan) EnginePlan() upnsync.Plan {
	s := p.Summary
	return upnsync.Plan{
		Changes: upnsync.ChangesOf(p.EngineChanges()...),
		Read:    upnsync.ReadResult{Complete: p.Read.Complete, Entries: p.Read.Entries, Pages: p.Read.Pages},
		Stats: upnsync.Stats{Read: s.Read, Matched: s.Matched, Unchanged: s.Unchanged, Changes: len(p.Changes),
			Conflicts: s.Conflicts, Unmatched: s.Unmatched, Skipped: s.Skipped, Departed: s.Departed,
			Removals: s.Removals, StoreUsers: s.StoreUsers},
	}
}

// Write saves the plan to path, to stdout for "-", atomically (a
// temporary file renamed into place) and readable by its owner only
// (atomicfile.Private), and returns its SHA-256.
func Write(path string, stdout io.Writer, p *Plan) (string, error) {
	body, err := json.MarshalIndent(p, "  ", "  ")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	digest := hex.EncodeToString(sum[:])
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"format\": %q,\n  \"version\": %d,\n  \"sha256\": %q,\n  \"plan\": ", Format, Version, digest)
	b.Write(body)
	b.WriteString("\n}\n")
	err = atomicfile.WriteTo(path, stdout, atomicfile.Private, func(w io.Writer) error {
		_, err := w.Write(b.Bytes())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("cannot write the plan to %s: %v", path, unwrap(err))
	}
	return digest, nil
}

// Read loads a saved plan, refusing a file that is not a plan, a plan of
// another version, a plan changed since it was written and a plan older
// than maxAge (0: any age). It returns the plan's SHA-256.
func Read(path string, maxAge time.Duration, now time.Time) (*Plan, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the plan %s: %v", path, unwrap(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the plan %s: %v", path, err)
	}
	if len(data) > maxSize {
		return nil, "", fmt.Errorf("%s is larger than any plan upnsync writes; refusing it", path)
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Format != Format {
		return nil, "", fmt.Errorf("%s is not a plan saved by upnsync plan --out (%s); refusing it", path, notPlanWhy(err, env.Format))
	}
	switch {
	case env.Version > Version:
		return nil, "", fmt.Errorf("%s was saved by a newer upnsync (plan version %d; this one reads version %d); apply it with that version, or make a new plan", path, env.Version, Version)
	case env.Version < Version:
		return nil, "", fmt.Errorf("%s is a plan of an old format (version %d; this one reads version %d); make a new plan with upnsync plan --out", path, env.Version, Version)
	}
	sum := sha256.Sum256(env.Plan)
	digest := hex.EncodeToString(sum[:])
	if !strings.EqualFold(digest, env.SHA256) {
		return nil, "", fmt.Errorf("%s was changed after upnsync saved it (its SHA-256 is %s, the file says %s); refusing to apply it; make a new plan with upnsync plan --out", path, digest, env.SHA256)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(env.Plan))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, "", fmt.Errorf("%s: the plan cannot be read: %v; make a new plan with upnsync plan --out", path, err)
	}
	if p.Store == "" {
		return nil, "", fmt.Errorf("%s names no store; make a new plan with upnsync plan --out", path)
	}
	if maxAge > 0 && now.Sub(p.Created) > maxAge {
		return nil, "", fmt.Errorf("%s was made %s ago (%s), longer ago than --max-plan-age %s allows; make a new plan, or give a longer --max-plan-age",
			path, now.Sub(p.Created).Round(time.Minute), p.Created.UTC().Format("2006-01-02 15:04 UTC"), maxAge)
	}
	return &p, digest, nil
}

func notPlanWhy(err error, format string) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON at byte %d", se.Offset)
	case err != nil:
		return "not the JSON of a plan"
	case format == "":
		return `no "format": "upnsync-plan"`
	}
	return fmt.Sprintf("its format is %q", format)
}

func unwrap(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
