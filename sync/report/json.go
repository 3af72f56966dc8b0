package report

import (
	"io"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
)

// The JSON report, version 1 (its contract: docs/design.md, "JSON
// report"). Programs depend on these names: add fields, never rename or
// remove one.
type jsonReport struct {
	Version   int          `json:"version"`
	Mode      string       `json:"mode"`
	Directory string       `json:"directory"`
	Store     string       `json:"store"`
	Started   string       `json:"started"`
	Finished  string       `json:"finished"`
	Complete  bool         `json:"complete"`
	Why       string       `json:"incomplete_reason,omitempty"`
	Stopped   string       `json:"stopped,omitempty"`
	Summary   jsonSummary  `json:"summary"`
	Read      jsonRead     `json:"read"`
	Changes   []jsonChange `json:"changes"`
	Conflicts []jsonConfl  `json:"conflicts"`
	Unmatched []jsonPerson `json:"unmatched"`
	Skipped   []jsonSkip   `json:"skipped"`
	// People counted in the summary but not listed (upnsync.Options.ListLimit).
	UnmatchedNotListed int          `json:"unmatched_not_listed,omitempty"`
	SkippedNotListed   int          `json:"skipped_not_listed,omitempty"`
	Applied            *jsonApplied `json:"applied,omitempty"`
	// Added in version 1 by the safety features.
	Departures []jsonDeparture `json:"departures"`
	Guards     []jsonGuard     `json:"guards,omitempty"`
	Forced     bool            `json:"forced,omitempty"`
	Notes      []string        `json:"notes,omitempty"`
	Source     string          `json:"source,omitempty"`
	// Added after version 1's first release; programs may ignore them.
	DirectoryKind string   `json:"directory_kind,omitempty"`
	StoreKind     string   `json:"store_kind,omitempty"`
	NextSteps     []string `json:"next_steps,omitempty"`
	// ReadMode: runs with --incremental or --dirsync only.
	ReadMode *upnsync.ReadMode `json:"read_mode,omitempty"`
	// Added for the HTML report's header (Meta's fields of the same names).
	RunID       string      `json:"run_id,omitempty"`
	MappingFile string      `json:"mapping_file,omitempty"`
	NetBIOS     string      `json:"netbios_name,omitempty"`
	NetBIOSFrom string      `json:"netbios_source,omitempty"`
	Limits      *jsonLimits `json:"limits,omitempty"`
	ApplyHint   string      `json:"apply_hint,omitempty"`
	// MatchedByRule counts the people matched by each rule (outside
	// "summary", which programs may read as a map of numbers).
	MatchedByRule map[upnsync.MatchRule]int `json:"matched_by_rule,omitempty"`
	// PinnedMissing: the Octopus users whose ExternalIdentifier names no
	// one of a complete read (rule M7); empty after any other read.
	PinnedMissing          []jsonPinned `json:"pinned_missing"`
	PinnedMissingNotListed int          `json:"pinned_missing_not_listed,omitempty"`
}

// jsonPinned is an Octopus user pinned to an object the read did not
// return, with the person who would match it (dn, upn, guid), when one
// would, and by which rule.
type jsonPinned struct {
	UserID     string `json:"user_id"`
	Name       string `json:"name"`
	ExternalID string `json:"external_id"`
	Match      string `json:"match,omitempty"`
	DN         string `json:"dn,omitempty"`
	UPN        string `json:"upn,omitempty"`
	GUID       string `json:"guid,omitempty"`
}

// jsonLimits are the guards' thresholds (upnsync.Limits); a negative
// value is a guard switched off.
type jsonLimits struct {
	MaxChanges        int     `json:"max_changes"`
	MaxChangePercent  float64 `json:"max_change_percent"`
	MaxRemovals       int     `json:"max_removals"`
	MaxRemovalPercent float64 `json:"max_removal_percent"`
	MaxReadDrop       float64 `json:"max_read_drop"`
	AllowEmptyRead    bool    `json:"allow_empty_read,omitempty"`
}

type jsonDeparture struct {
	GUID    string             `json:"guid"`
	Reason  string             `json:"reason"`
	DN      string             `json:"dn"`
	Detail  string             `json:"detail"`
	Entries []jsonDepartedItem `json:"entries"`
	Removed bool               `json:"removed"`
	Kept    string             `json:"kept,omitempty"`
}

type jsonDepartedItem struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Entry  string `json:"entry"`
}

type jsonGuard struct {
	Guard     string `json:"guard"`
	Count     int    `json:"count"`
	Threshold int    `json:"threshold"`
	Option    string `json:"option"`
	Message   string `json:"message"`
}

type jsonSummary struct {
	Read      int `json:"read"`
	Matched   int `json:"matched"`
	Unchanged int `json:"unchanged"`
	Changes   int `json:"changes"`
	Conflicts int `json:"conflicts"`
	Unmatched int `json:"unmatched"`
	Skipped   int `json:"skipped"`
	Departed  int `json:"departed"`
	Removals  int `json:"removals"`
	// NotFound: departures the directory could not find (kept);
	// PinnedMissing: users pinned to a missing object.
	NotFound      int `json:"not_found"`
	PinnedMissing int `json:"pinned_missing"`
}

type jsonRead struct {
	Pages      int        `json:"pages"`
	Entries    int        `json:"entries"`
	Referrals  int        `json:"referrals"`
	StoreUsers int        `json:"store_users"`
	Bases      []jsonBase `json:"bases,omitempty"`
	// Partial: only what changed was read; Tombstones: deleted objects a
	// change feed reported.
	Partial    bool `json:"partial,omitempty"`
	Tombstones int  `json:"tombstones,omitempty"`
	Unselected int  `json:"unselected,omitempty"`
}

type jsonBase struct {
	Base      string `json:"base"`
	Entries   int    `json:"entries"`
	Pages     int    `json:"pages"`
	Referrals int    `json:"referrals"`
}

type jsonChange struct {
	UserID     string                `json:"user_id"`
	Name       string                `json:"name"`
	ExternalID string                `json:"external_id"`
	Match      string                `json:"match"`
	Before     string                `json:"before"`
	After      string                `json:"after"`
	Added      []string              `json:"added"`
	Replaced   []upnsync.Replacement `json:"replaced"`
	DN         string                `json:"dn"`
	UPN        string                `json:"upn"`
	GUID       string                `json:"guid"`
	Removed    []string              `json:"removed"`
	Departed   string                `json:"departed,omitempty"`
	Notes      []string              `json:"notes,omitempty"`
}

type jsonConfl struct {
	Reason string   `json:"reason"`
	UPN    string   `json:"upn"`
	Users  []string `json:"users"`
	People []string `json:"people"`
	Detail string   `json:"detail"`
}

type jsonPerson struct {
	DN   string `json:"dn"`
	UPN  string `json:"upn"`
	GUID string `json:"guid"`
}

type jsonSkip struct {
	DN     string `json:"dn"`
	Reason string `json:"reason"`
}

type jsonApplied struct {
	RunID   string      `json:"run_id"`
	Written int         `json:"written"`
	Stale   []jsonStale `json:"stale"`
}

type jsonStale struct {
	UserID   string `json:"user_id"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
	Missing  bool   `json:"missing,omitempty"`
	// AlreadyApplied: the user already holds the planned value.
	AlreadyApplied bool `json:"already_applied,omitempty"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// JSON writes the version 1 JSON report. The lists are written one item
// at a time (jsonstream.go): at a million users they are over a hundred
// megabytes of JSON, which must not be held in memory whole.
func JSON(w io.Writer, plan *upnsync.Plan, meta Meta) error {
	r, lists := jsonOf(plan, meta)
	return streamJSON(w, r, lists, jsonIndented)
}

// jsonOf is the JSON report of a plan: its head, with the lists empty,
// and the lists, to be written item by item. The HTML report carries the
// same value (html.go).
func jsonOf(plan *upnsync.Plan, meta Meta) (*jsonReport, []jsonList) {
	r := &jsonReport{
		Version: 1, Mode: meta.Mode, Directory: meta.Directory, Store: meta.Store,
		Started: stamp(meta.Started), Finished: stamp(meta.Finished),
		Complete: plan.Read.Complete, Why: plan.Read.Why, Stopped: meta.Stopped,
		Summary: jsonSummary{
			Read: plan.Stats.Read, Matched: plan.Stats.Matched, Unchanged: plan.Stats.Unchanged,
			Changes: plan.Stats.Changes, Conflicts: plan.Stats.Conflicts,
			Unmatched: plan.Stats.Unmatched, Skipped: plan.Stats.Skipped,
			Departed: plan.Stats.Departed, Removals: plan.Stats.Removals,
			NotFound: plan.Stats.NotFound, PinnedMissing: pinnedCount(plan),
		},
		MatchedByRule: byRule(plan.Stats.ByRule),
		Read: jsonRead{Pages: plan.Read.Pages, Entries: plan.Read.Entries, Referrals: plan.Read.Referrals,
			StoreUsers: plan.Stats.StoreUsers, Partial: plan.Read.Partial, Tombstones: plan.Read.Tombstones,
			Unselected: plan.Read.Unselected},
		ReadMode:               meta.Read,
		Changes:                []jsonChange{},
		Conflicts:              []jsonConfl{},
		Unmatched:              []jsonPerson{},
		Skipped:                []jsonSkip{},
		UnmatchedNotListed:     unmatchedCount(plan) - len(plan.Unmatched),
		SkippedNotListed:       skippedCount(plan) - len(plan.Skipped),
		Departures:             []jsonDeparture{},
		PinnedMissing:          []jsonPinned{},
		PinnedMissingNotListed: pinnedCount(plan) - len(plan.PinnedMissing),
		Forced:                 meta.Forced,
		Notes:                  meta.Notes,
		Source:                 meta.Source,

		DirectoryKind: meta.DirectoryKind, StoreKind: meta.StoreKind, NextSteps: meta.NextSteps,
		RunID: meta.RunID, MappingFile: meta.MappingFile, NetBIOS: meta.NetBIOS, NetBIOSFrom: meta.NetBIOSSource, ApplyHint: meta.ApplyHint,
	}
	if meta.Limits != nil {
		l := jsonLimits(*meta.Limits)
		r.Limits = &l
	}
	for _, g := range meta.Guards {
		r.Guards = append(r.Guards, jsonGuard(g))
	}
	for _, b := range plan.Read.Bases {
		r.Read.Bases = append(r.Read.Bases, jsonBase(b))
	}
	if a := meta.Applied; a != nil {
		r.Applied = &jsonApplied{RunID: a.RunID, Written: len(a.Written), Stale: []jsonStale{}}
		for _, s := range a.Stale {
			r.Applied.Stale = append(r.Applied.Stale, jsonStale{UserID: s.UserID, Expected: s.Expected, Found: s.Found,
				Missing: s.Missing, AlreadyApplied: s.AlreadyApplied()})
		}
	}
	changes := plan.Changes
	return r, []jsonList{
		{"changes", changes.Len(), func(e *jsonEnc, i int) { c := changes.At(i); e.change(&c) }},
		{"conflicts", len(plan.Conflicts), func(e *jsonEnc, i int) { e.conflict(&plan.Conflicts[i]) }},
		{"unmatched", len(plan.Unmatched), func(e *jsonEnc, i int) { e.person(&plan.Unmatched[i]) }},
		{"skipped", len(plan.Skipped), func(e *jsonEnc, i int) { e.skip(&plan.Skipped[i]) }},
		{"departures", len(plan.Departures), func(e *jsonEnc, i int) { e.departure(&plan.Departures[i]) }},
		{"pinned_missing", len(plan.PinnedMissing), func(e *jsonEnc, i int) { e.pinned(&plan.PinnedMissing[i]) }},
	}
}

// departureReason is a departure's reason as the reports give it: "unknown"
// when the directory was not asked.
func departureReason(r upnsync.DepartureReason) string {
	if r == "" {
		return "unknown"
	}
	return string(r)
}

// byRule is the count by match rule without the rules that matched no one.
func byRule(m map[upnsync.MatchRule]int) map[upnsync.MatchRule]int {
	var out map[upnsync.MatchRule]int
	for k, n := range m {
		if n > 0 {
			if out == nil {
				out = map[upnsync.MatchRule]int{}
			}
			out[k] = n
		}
	}
	return out
}
