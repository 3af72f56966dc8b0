package run

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/octopus"
)

// readHistory is what the store keeps of the last complete full read of
// a directory (docs/design.md, rules G7 and D3): the people each base
// gave, and the scope the read had. It is saved, in the store's meta
// table beside the incremental watermarks (octopus.SyncStater), only by a
// run that wrote (--apply) after a complete full read; a dry run reads it.
type readHistory struct {
	Version int            `json:"version"`
	Time    time.Time      `json:"time"`
	Scope   readScope      `json:"scope"`
	Bases   []historyCount `json:"bases"`
}

type historyCount struct {
	Base   string `json:"base"`
	People int    `json:"people"`
}

// readScope is what decides who a read selects: the bases (sorted; they
// compare in any letter case) and the filter (for LDAP the whole filter
// the reader sends; for an export --user-filter and --filter as given).
type readScope struct {
	Bases  []string `json:"bases"`
	Filter string   `json:"filter"`
}

func (sc readScope) equal(o readScope) bool {
	return slices.EqualFunc(sc.Bases, o.Bases, strings.EqualFold) && sc.Filter == o.Filter
}

// String names the scope in messages.
func (sc readScope) String() string {
	var parts []string
	switch len(sc.Bases) {
	case 0:
	case 1:
		parts = append(parts, "base "+orWhole(sc.Bases[0]))
	default:
		parts = append(parts, "bases "+strings.Join(sc.Bases, "; "))
	}
	if sc.Filter != "" {
		parts = append(parts, "filter "+sc.Filter)
	}
	if len(parts) == 0 {
		return "everyone the directory gives"
	}
	return strings.Join(parts, ", ")
}

func orWhole(base string) string {
	if base == "" {
		return "the whole forest"
	}
	return base
}

// history is one run's part of the read history: the last complete read
// loaded before the read, and this read's scope once the directory is
// open.
type history struct {
	states octopus.SyncStater // nil: the store keeps no state
	key    string
	last   *readHistory
	scope  readScope
}

// loadHistory reads the last complete read of the settings' directory
// from the store. A store that keeps no state, or a record that cannot be
// read, leaves nothing to compare with (the log says so).
func loadHistory(ctx context.Context, s *config.Settings, store octopus.Store, log *slog.Logger) (*history, error) {
	h := &history{key: "read-history:" + strings.ToLower(strings.TrimRight(strings.TrimSpace(s.Directory), "/"))}
	states, ok := store.(octopus.SyncStater)
	if !ok {
		return h, nil
	}
	h.states = states
	raw, err := states.SyncState(ctx, h.key)
	if err != nil {
		return nil, err
	}
	if raw == "" {
		return h, nil
	}
	var last readHistory
	if err := json.Unmarshal([]byte(raw), &last); err != nil || last.Version != 1 {
		log.Warn("the store's record of the last complete read cannot be read; the next run that writes replaces it", "why", brokenWhy(err, last.Version))
		return h, nil
	}
	h.last = &last
	return h, nil
}

// scopeOf is the scope a read of dir has: an LDAP directory says its bases
// (after discovery) and filter; an export has the options.
func scopeOf(s *config.Settings, dir upnsync.Directory) readScope {
	var sc readScope
	if tr, ok := dir.(directory.ChangeTracker); ok {
		sc.Bases, sc.Filter = tr.Bases(), tr.Filter()
	} else {
		sc.Bases = slices.Clone(s.Domains)
		var f []string
		for _, v := range []string{s.UserFilter, s.Filter} {
			if v = strings.TrimSpace(v); v != "" {
				f = append(f, v)
			}
		}
		sc.Filter = strings.Join(f, " and ")
	}
	for i := range sc.Bases {
		sc.Bases[i] = strings.TrimSpace(sc.Bases[i])
	}
	slices.SortFunc(sc.Bases, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return sc
}

// hold says why no removal may be planned (rule D3): with
// --remove-departed, a scope other than the last complete run's, until
// --force confirms it once. "" when removals may be planned.
func (h *history) hold(s *config.Settings) string {
	if !s.RemoveDeparted || h.last == nil || h.last.Scope.equal(h.scope) || s.Force {
		return ""
	}
	return fmt.Sprintf("the scope changed since the last complete run of %s (%s; now %s), so people outside the new scope are not removed until a run with --force confirms it (a run with --apply --force records the new scope)",
		h.last.Time.UTC().Format("2006-01-02 15:04 UTC"), h.last.Scope, h.scope)
}

// confirmed says, for the log and the report, that the scope changed and
// --force confirms it in this run; "" otherwise.
func (h *history) confirmed(s *config.Settings) string {
	if !s.RemoveDeparted || h.last == nil || h.last.Scope.equal(h.scope) || !s.Force {
		return ""
	}
	return fmt.Sprintf("--force confirms the new scope (%s; the last complete run of %s had %s): departures are classified and removed against it",
		h.scope, h.last.Time.UTC().Format("2006-01-02 15:04 UTC"), h.last.Scope)
}

// lastRead is the last complete read for G7 (nil: none).
func (h *history) lastRead() *upnsync.LastRead {
	if h == nil || h.last == nil {
		return nil
	}
	lr := &upnsync.LastRead{Time: h.last.Time}
	for _, b := range h.last.Bases {
		lr.Bases = append(lr.Bases, upnsync.BaseCount{Base: b.Base, Entries: b.People})
	}
	return lr
}

// baseCounts are the people a read gave per base: each searched base, or
// the directory as a whole for a source without bases (an export, Entra
// ID).
func baseCounts(s *config.Settings, read upnsync.ReadResult) []upnsync.BaseCount {
	if len(read.Bases) > 0 {
		return read.Bases
	}
	return []upnsync.BaseCount{{Base: s.Directory, Entries: read.Entries}}
}

// save records this read as the last complete one, after a run that
// wrote: only a complete full read counts (a delta reads only what
// changed), and not while a changed scope holds removals back: the scope
// stays the last confirmed one until --force confirms the new one.
func (h *history) save(ctx context.Context, s *config.Settings, read upnsync.ReadResult, log *slog.Logger) {
	if h == nil || h.states == nil || !read.Complete || read.Partial {
		return
	}
	if h.hold(s) != "" {
		log.Info("the scope changed and --force did not confirm it: the counts and scope of the last complete run are kept for the next")
		return
	}
	rec := readHistory{Version: 1, Time: time.Now().UTC(), Scope: h.scope}
	for _, b := range baseCounts(s, read) {
		rec.Bases = append(rec.Bases, historyCount{Base: b.Base, People: b.Entries})
	}
	data, err := json.Marshal(rec)
	if err == nil {
		err = h.states.SaveSyncState(ctx, h.key, string(data))
	}
	if err != nil {
		// The users are written; only the next run's comparison suffers.
		log.Warn("the counts of this read could not be kept for the next run's --max-read-drop and scope checks", "error", err.Error())
		return
	}
	log.Info("read counts kept for the next run", "scope", h.scope.String(), "bases", len(rec.Bases))
}
