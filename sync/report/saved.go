package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/planfile"
)

// A report rendered later, from what a run saved: a JSON report
// (--report json) or a saved plan (plan --out). `upnsync report html IN
// OUT` is HTMLFromFile; a scheduled job keeps JSON, the reviewer opens the
// HTML.

// HTMLFromFile renders the HTML report of a saved JSON report or a saved
// plan at path (told apart by their first key). A saved plan is checked
// as `upnsync apply` checks it (its SHA-256), whatever its age.
func HTMLFromFile(w io.Writer, path string) error {
	plan, meta, err := ReadSaved(path)
	if err != nil {
		return err
	}
	return HTML(w, plan, meta)
}

// ReadSaved reads a saved JSON report or a saved plan into the plan and
// meta the reports render.
func ReadSaved(path string) (*upnsync.Plan, Meta, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(4096)
	switch firstKey(head) {
	case "format":
		f.Close()
		p, digest, err := planfile.Read(path, 0, time.Now())
		if err != nil {
			return nil, Meta{}, err
		}
		plan, meta := SavedPlan(p, digest)
		meta.ApplyHint = "run: upnsync apply " + path
		return plan, meta, nil
	case "version":
		plan, meta, err := ReadJSON(br)
		if err != nil {
			return nil, Meta{}, fmt.Errorf("%s: %v", path, err)
		}
		return plan, meta, nil
	}
	return nil, Meta{}, fmt.Errorf("%s is neither a JSON report (--report json) nor a saved plan (plan --out); give one of those", path)
}

// firstKey is the first key of the JSON object b starts with, or "".
func firstKey(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	if t, err := dec.Token(); err == nil {
		if k, ok := t.(string); ok {
			return k
		}
	}
	return ""
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadJSON reads a JSON report (version 1) back into the plan and meta it
// was written from: JSON(ReadJSON(JSON(plan, meta))) writes the same
// bytes. The lists are decoded one item at a time.
func ReadJSON(in io.Reader) (*upnsync.Plan, Meta, error) {
	dec := json.NewDecoder(in)
	bad := func(err error) (*upnsync.Plan, Meta, error) {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, Meta{}, fmt.Errorf("not a JSON report: not JSON at byte %d (%v)", se.Offset, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, Meta{}, errors.New("the JSON report is cut short; write it again with --report json")
		}
		return nil, Meta{}, fmt.Errorf("not a JSON report upnsync wrote: %v", err)
	}
	if t, err := dec.Token(); err != nil {
		return bad(err)
	} else if t != json.Delim('{') {
		return bad(errors.New("it is not a JSON object"))
	}
	plan := &upnsync.Plan{}
	// The lists, item by item; every other key into head.
	items := map[string]func() error{
		"changes": func() error {
			var c jsonChange
			err := dec.Decode(&c)
			plan.Changes.Append(c.engine())
			return err
		},
		"conflicts": func() error {
			var c jsonConfl
			err := dec.Decode(&c)
			plan.Conflicts = append(plan.Conflicts, upnsync.Conflict{Reason: c.Reason, UPN: c.UPN, Detail: c.Detail,
				Users: c.Users, People: c.People})
			return err
		},
		"unmatched": func() error {
			var p jsonPerson
			err := dec.Decode(&p)
			plan.Unmatched = append(plan.Unmatched, upnsync.Person{DN: p.DN, UPN: p.UPN, GUID: p.GUID})
			return err
		},
		"skipped": func() error {
			var s jsonSkip
			err := dec.Decode(&s)
			plan.Skipped = append(plan.Skipped, upnsync.Skip(s))
			return err
		},
		"departures": func() error {
			var d jsonDeparture
			err := dec.Decode(&d)
			plan.Departures = append(plan.Departures, d.engine())
			return err
		},
		"pinned_missing": func() error {
			var pn jsonPinned
			err := dec.Decode(&pn)
			plan.PinnedMissing = append(plan.PinnedMissing, upnsync.Pinned{UserID: pn.UserID, UserName: pn.Name,
				ExternalID: pn.ExternalID, Match: upnsync.MatchRule(pn.Match),
				Candidate: upnsync.Person{DN: pn.DN, UPN: pn.UPN, GUID: pn.GUID}})
			return err
		},
	}
	head := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, _ := t.(string)
		item, isList := items[key]
		if !isList {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return bad(err)
			}
			head[key] = raw
			continue
		}
		if t, err := dec.Token(); err != nil {
			return bad(err)
		} else if t != json.Delim('[') {
			return bad(fmt.Errorf("%q is not a list", key))
		}
		for dec.More() {
			if err := item(); err != nil {
				return bad(fmt.Errorf("%s: %w", key, err))
			}
		}
		if _, err := dec.Token(); err != nil {
			return bad(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return bad(err)
	}
	var r jsonReport
	if b, err := json.Marshal(head); err != nil {
		return bad(err)
	} else if err := json.Unmarshal(b, &r); err != nil {
		return bad(err)
	}
	switch {
	case r.Version == 0 || r.Mode == "":
		return bad(errors.New(`no "version" and "mode"`))
	case r.Version > 1:
		return nil, Meta{}, fmt.Errorf("the JSON report is version %d, written by a newer upnsync; render it with that version", r.Version)
	}
	meta, err := r.engine(plan)
	if err != nil {
		return bad(err)
	}
	return plan, meta, nil
}

// engine fills plan's counts and read from the report's head, and returns
// the meta.
func (r *jsonReport) engine(plan *upnsync.Plan) (Meta, error) {
	s := r.Summary
	plan.Stats = upnsync.Stats{Read: s.Read, Matched: s.Matched, Unchanged: s.Unchanged, Changes: s.Changes,
		Conflicts: s.Conflicts, Unmatched: s.Unmatched, Skipped: s.Skipped, Departed: s.Departed,
		Removals: s.Removals, NotFound: s.NotFound, PinnedMissing: s.PinnedMissing,
		StoreUsers: r.Read.StoreUsers, ByRule: r.MatchedByRule}
	plan.Read = upnsync.ReadResult{Complete: r.Complete, Why: r.Why, Pages: r.Read.Pages, Entries: r.Read.Entries,
		Referrals: r.Read.Referrals, Partial: r.Read.Partial, Tombstones: r.Read.Tombstones, Unselected: r.Read.Unselected}
	for _, b := range r.Read.Bases {
		plan.Read.Bases = append(plan.Read.Bases, upnsync.BaseCount(b))
	}
	meta := Meta{Mode: r.Mode, Directory: r.Directory, Store: r.Store, Stopped: r.Stopped, Forced: r.Forced,
		Notes: r.Notes, Source: r.Source, DirectoryKind: r.DirectoryKind, StoreKind: r.StoreKind,
		NextSteps: r.NextSteps, Read: r.ReadMode, RunID: r.RunID, MappingFile: r.MappingFile,
		NetBIOS: r.NetBIOS, NetBIOSSource: r.NetBIOSFrom, ApplyHint: r.ApplyHint}
	var err error
	if meta.Started, err = unstamp(r.Started); err != nil {
		return meta, err
	}
	if meta.Finished, err = unstamp(r.Finished); err != nil {
		return meta, err
	}
	for _, g := range r.Guards {
		meta.Guards = append(meta.Guards, upnsync.GuardStop(g))
	}
	if r.Limits != nil {
		l := upnsync.Limits(*r.Limits)
		meta.Limits = &l
	}
	if a := r.Applied; a != nil {
		// The report counts the users written; Stale says whether the user
		// already held the planned value, not the value itself.
		meta.Applied = &upnsync.Applied{RunID: a.RunID, Written: make([]string, a.Written)}
		for _, st := range a.Stale {
			planned := st.Found
			if !st.AlreadyApplied {
				planned = "\x00" + st.Found // any value but Found
			}
			meta.Applied.Stale = append(meta.Applied.Stale, upnsync.Stale{UserID: st.UserID, Expected: st.Expected,
				Found: st.Found, Missing: st.Missing, Planned: planned})
		}
	}
	return meta, nil
}

func unstamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s)
}

func (c *jsonChange) engine() upnsync.Change {
	return upnsync.Change{UserID: c.UserID, UserName: c.Name, ExternalID: c.ExternalID, Match: upnsync.MatchRule(c.Match),
		Before: c.Before, After: c.After, Added: c.Added, Replaced: c.Replaced, Removed: c.Removed,
		Departed: upnsync.DepartureReason(c.Departed), Notes: c.Notes,
		Person: upnsync.Person{DN: c.DN, UPN: c.UPN, GUID: c.GUID}}
}

func (d *jsonDeparture) engine() upnsync.Departure {
	reason := upnsync.DepartureReason(d.Reason)
	if d.Reason == "unknown" {
		reason = upnsync.DepartedUnknown
	}
	out := upnsync.Departure{GUID: d.GUID, Whereabouts: upnsync.Whereabouts{Reason: reason, DN: d.DN, Detail: d.Detail},
		Removed: d.Removed, Kept: d.Kept}
	for _, e := range d.Entries {
		out.Entries = append(out.Entries, upnsync.DepartedEntry{UserID: e.UserID, UserName: e.Name, Entry: e.Entry})
	}
	return out
}

// SavedPlan is a saved plan (plan --out) as the reports render it: its
// changes and departures, and the counts of what it does not list
// (conflicts, unmatched and skipped people are only counted in a plan).
// digest is the plan's SHA-256, as planfile.Read returns it.
func SavedPlan(p *planfile.Plan, digest string) (*upnsync.Plan, Meta) {
	ep := p.EnginePlan()
	plan := &ep
	for _, d := range p.Departures {
		reason := upnsync.DepartureReason(d.Reason)
		if d.Reason == "unknown" {
			reason = upnsync.DepartedUnknown
		}
		plan.Departures = append(plan.Departures, upnsync.Departure{GUID: d.GUID,
			Whereabouts: upnsync.Whereabouts{Reason: reason, DN: d.DN, Detail: d.Detail}, Removed: d.Removed, Kept: d.Kept})
	}
	by := p.CreatedBy
	if p.User != "" {
		by += " as " + p.User
	}
	if p.Host != "" {
		by += " on " + p.Host
	}
	meta := Meta{Mode: ModeDryRun, Directory: p.Directory, Store: p.Store, Started: p.Created,
		MappingFile: p.Settings["config-file-path"], NetBIOS: p.Settings["netbios-domain"], NetBIOSSource: optionSource(p.Settings["netbios-domain"]),
		Forced: len(p.Forced) > 0, Limits: savedLimits(p.Settings),
		Notes: []string{fmt.Sprintf("A saved plan (SHA-256 %s), made by %s. It lists its changes and departures; conflicts, unmatched and skipped people are only counted (the dry run's JSON report lists them).", digest, by)}}
	for _, m := range p.Forced {
		meta.Guards = append(meta.Guards, upnsync.GuardStop{Message: m})
	}
	return plan, meta
}

// savedLimits are the guards' thresholds from a saved plan's settings, or
// nil when it does not hold all four thresholds of G2 to G5 (a plan saved
// before --max-read-drop existed had none: off).
func savedLimits(s map[string]string) *upnsync.Limits {
	l := upnsync.Limits{MaxReadDrop: -1}
	if _, ok := s["max-read-drop"]; !ok {
		s = maps.Clone(s)
		s["max-read-drop"] = "-1"
	}
	for _, f := range []struct {
		key   string
		int   *int
		float *float64
	}{{"max-changes", &l.MaxChanges, nil}, {"max-change-percent", nil, &l.MaxChangePercent},
		{"max-removals", &l.MaxRemovals, nil}, {"max-removal-percent", nil, &l.MaxRemovalPercent},
		{"max-read-drop", nil, &l.MaxReadDrop}} {
		v, ok := s[f.key]
		if !ok {
			return nil
		}
		var err error
		if f.int != nil {
			*f.int, err = strconv.Atoi(v)
		} else {
			*f.float, err = strconv.ParseFloat(v, 64)
		}
		if err != nil {
			return nil
		}
	}
	return &l
}
