package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/fileerr"
	"github.com/upnsync/upnsync/internal/plural"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/octopus"
)

// syncState is what the store keeps per directory for --incremental and
// --dirsync (octopus.SyncStater), as JSON: the watermark of the last
// advancing run (an LDAP DC's position read before its read and its
// DirSync cookie, or Microsoft Graph's delta link), and a fingerprint of
// the inputs that decide who is read and how.
type syncState struct {
	Version      int               `json:"version"`
	Mode         string            `json:"mode"`
	Host         string            `json:"dns_host_name"`
	InvocationID string            `json:"invocation_id"`
	USN          int64             `json:"highest_committed_usn"`
	Cookie       []byte            `json:"dirsync_cookie,omitempty"`
	DeltaLink    string            `json:"delta_link,omitempty"`
	Inputs       map[string]string `json:"inputs"`
	Time         time.Time         `json:"time"`
	// Conflicts are those left open by the run that saved this state: a
	// delta does not read their people again unless they change, so the
	// next runs carry them (carry) and end with exit 4 as long as they
	// stay open.
	Conflicts []openConflict `json:"conflicts,omitempty"`
}

// openConflict is a conflict a delta read carries over, and since when.
type openConflict struct {
	Reason string    `json:"reason"`
	UPN    string    `json:"upn"`
	Detail string    `json:"detail"`
	Users  []string  `json:"users,omitempty"`
	People []string  `json:"people,omitempty"`
	Since  time.Time `json:"since"`
}

// changeFeed is what reading only what changed means for one kind of
// directory: ldapFeed (a DC's USNs, DirSync cookies;
// incremental_ldap.go) or entraFeed (Microsoft Graph's delta links;
// incremental_entra.go). What every kind shares (the saved state, its
// age, the inputs' fingerprint, when to advance) is incremental's.
type changeFeed interface {
	// start fills next, the state this run saves if it advances, from
	// the directory just opened: the inputs that decide who it reads
	// (besides the mapping file and the merge options) and its position
	// when it tells one now.
	start(ctx context.Context, dir upnsync.Directory, next *syncState) error
	// stale says why the saved state cannot be read from for reasons of
	// this kind (another DC, an empty delta link), or "".
	stale(saved, next *syncState) string
	// from sets the directory up to read what changed since saved, or
	// (nil) everything, ending at a new watermark.
	from(dir upnsync.Directory, saved *syncState)
	// finish takes what the read left behind into next (a DirSync
	// cookie, a delta link) and says why a read asked to start from the
	// saved state was done in full after all (an expired delta link).
	finish(dir upnsync.Directory, next *syncState) (fullReason string)
	// position names a state's watermark in the report and the log.
	position(st *syncState) string
}

// incremental is one run's part of --incremental or --dirsync: it decides
// between a delta and a full read and, after a successful apply, saves the
// new watermark.
type incremental struct {
	mode   string // upnsync.ReadIncremental or upnsync.ReadDirSync
	feed   changeFeed
	key    string
	states octopus.SyncStater
	saved  *syncState
	// mapping is the mapping file's digest; next is the state this run
	// saves if it advances.
	mapping string
	s       *config.Settings
	next    *syncState
	info    upnsync.ReadMode
	// seen are the people (labels, lower case) a delta read returned,
	// which may have settled a conflict carried over; nil for a full read.
	seen map[string]bool
}

// newIncremental picks the directory's change feed and loads its saved
// state from the store.
func newIncremental(ctx context.Context, s *config.Settings, store octopus.Store) (*incremental, error) {
	mode, opt := upnsync.ReadIncremental, "--incremental"
	if s.DirSync {
		mode, opt = upnsync.ReadDirSync, "--dirsync"
	}
	var feed changeFeed
	switch kind := directory.Kind(s.Directory); {
	case kind == "ldap":
		feed = ldapFeed{dirSync: s.DirSync}
	case kind == "entra" && !s.DirSync:
		feed = entraFeed{includeGuests: s.IncludeGuests}
	case kind == "entra":
		return nil, fmt.Errorf("--dirsync is Active Directory's; with Entra ID use --incremental (Microsoft Graph's delta query)")
	default:
		return nil, fmt.Errorf("%s reads only what changed in Active Directory or Entra ID; %s is not an ldap://, ldaps:// or entra: directory: leave %s out", opt, s.Directory, opt)
	}
	states, ok := store.(octopus.SyncStater)
	if !ok {
		return nil, fmt.Errorf("%s needs a store that keeps upnsync's state; %s does not: leave %s out", opt, store.Describe(), opt)
	}
	data, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", s.ConfigFile, fileerr.Reason(err))
	}
	sum := sha256.Sum256(data)
	inc := &incremental{mode: mode, feed: feed, states: states, s: s, mapping: hex.EncodeToString(sum[:]),
		key: mode + ":" + strings.ToLower(strings.TrimRight(strings.TrimSpace(s.Directory), "/"))}
	raw, err := states.SyncState(ctx, inc.key)
	if err != nil {
		return nil, err
	}
	if raw != "" {
		var st syncState
		if err := json.Unmarshal([]byte(raw), &st); err != nil || st.Version != 1 {
			// Not fatal: a full read replaces it.
			inc.info.FullReason = fmt.Sprintf("the saved watermark of %s cannot be read (%s), so it is replaced", s.Directory, brokenWhy(err, st.Version))
		} else {
			inc.saved = &st
		}
	}
	return inc, nil
}

func brokenWhy(err error, v int) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("version %d", v)
}

// Inputs every kind of directory shares: when one changes, people a delta
// would not read may now be planned differently.
const (
	inputMapping = "mapping file"
	inputOptions = "options"
)

// prepare sets the directory just opened up for a delta or a full read.
// It runs for every attempt: a retry may reach another DC.
func (inc *incremental) prepare(ctx context.Context, dir upnsync.Directory, log *slog.Logger) error {
	s := inc.s
	now := time.Now()
	inc.next = &syncState{Version: 1, Mode: inc.mode, Time: now, Inputs: map[string]string{
		inputMapping: inc.mapping,
		inputOptions: fmt.Sprintf("implicit-upn=%t skip-disabled=%t max-length=%d netbios-domain=%s",
			s.ImplicitUPN, s.SkipDisabled, s.MaxLength, s.NetBIOSDomain),
	}}
	if err := inc.feed.start(ctx, dir, inc.next); err != nil {
		return err
	}
	reason := inc.info.FullReason
	if reason == "" {
		reason = inc.fullReason(now)
	}
	inc.info = upnsync.ReadMode{Mode: inc.mode, To: inc.feed.position(inc.next)}
	if reason != "" {
		inc.info.Mode, inc.info.FullReason = upnsync.ReadFull, reason
		log.Warn("reading in full instead of only what changed: "+reason, "mode", inc.mode)
		inc.feed.from(dir, nil)
		return nil
	}
	inc.info.From = inc.feed.position(inc.saved)
	log.Info("reading only what changed", "mode", inc.mode, "from", inc.info.From, "to", inc.info.To)
	inc.feed.from(dir, inc.saved)
	inc.seen = map[string]bool{}
	return nil
}

// directory notes the people a delta read returns (a full read needs no
// note: it plans every conflict anew).
func (inc *incremental) directory(d upnsync.Directory) upnsync.Directory {
	if inc == nil || inc.seen == nil {
		return d
	}
	return deltaDir{d, inc}
}

type deltaDir struct {
	upnsync.Directory
	inc *incremental
}

func (d deltaDir) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	clear(d.inc.seen) // a retry reads again
	return d.Directory.Read(ctx, func(p upnsync.Person) error {
		d.inc.seen[strings.ToLower(p.Label())] = true
		return fn(p)
	})
}

func (d deltaDir) LocateGUID(ctx context.Context, guid string) (upnsync.Whereabouts, error) {
	loc, ok := d.Directory.(upnsync.GUIDLocator)
	if !ok {
		return upnsync.Whereabouts{}, nil
	}
	return loc.LocateGUID(ctx, guid)
}

// carry adds to a delta's plan the conflicts the saved state left open
// whose people this delta did not read (an unchanged person is not read
// again, so the conflict stands), and keeps every conflict of the plan
// for the state this run saves: the exit code then says that conflicts
// remain (docs/design.md, exit codes), delta or not.
func (inc *incremental) carry(plan *upnsync.Plan) {
	now := time.Now().UTC()
	carried := map[int]openConflict{} // by index in plan.Conflicts
	if plan.Read.Partial && inc.saved != nil {
		for _, c := range inc.saved.Conflicts {
			if slices.ContainsFunc(c.People, func(p string) bool { return inc.seen[strings.ToLower(p)] }) {
				continue // read again: this plan has the conflict anew, or not
			}
			carried[len(plan.Conflicts)] = c
			plan.Conflicts = append(plan.Conflicts, upnsync.Conflict{Reason: c.Reason, UPN: c.UPN, Users: c.Users, People: c.People,
				Detail: c.Detail + fmt.Sprintf(" (open since %s; the people involved did not change, so this delta did not read them again)",
					c.Since.UTC().Format("2006-01-02 15:04 UTC"))})
		}
		plan.Stats.Conflicts = len(plan.Conflicts)
	}
	if inc.next == nil {
		return
	}
	inc.next.Conflicts = nil
	for i, c := range plan.Conflicts {
		oc, ok := carried[i]
		if !ok {
			oc = openConflict{Reason: c.Reason, UPN: c.UPN, Detail: c.Detail, Users: c.Users, People: c.People, Since: now}
		}
		inc.next.Conflicts = append(inc.next.Conflicts, oc)
	}
}

// fullReason says why this run must read in full, or "".
func (inc *incremental) fullReason(now time.Time) string {
	st, next := inc.saved, inc.next
	switch {
	case st == nil:
		return "no watermark for " + inc.s.Directory + " in the store yet: the first run reads in full"
	case st.Mode != inc.mode:
		return fmt.Sprintf("the saved state is for %s, not %s", st.Mode, inc.mode)
	}
	if why := inc.feed.stale(st, next); why != "" {
		return why
	}
	if now.Sub(st.Time) > inc.s.FullEvery {
		return fmt.Sprintf("the watermark is from %s, older than --full-every %s: a periodic full read reconciles what deltas cannot see",
			st.Time.UTC().Format(time.RFC3339), inc.s.FullEvery)
	}
	var changed []string
	for _, k := range inputOrder(st.Inputs, next.Inputs) {
		if st.Inputs[k] == next.Inputs[k] {
			continue
		}
		if k == inputMapping {
			changed = append(changed, "the mapping file changed")
			continue
		}
		changed = append(changed, fmt.Sprintf("the %s changed (was %q, now %q)", k, st.Inputs[k], next.Inputs[k]))
	}
	return strings.Join(changed, "; ")
}

// inputOrder lists the inputs of two fingerprints: the mapping file
// first, the directory's own in name order, the options last.
func inputOrder(a, b map[string]string) []string {
	var keys []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if k != inputMapping && k != inputOptions && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return append(append([]string{inputMapping}, keys...), inputOptions)
}

// read takes what the read left behind (DirSync's cookie, a delta link),
// and notes a delta read the directory did in full after all (which the
// directory logged).
func (inc *incremental) read(dir upnsync.Directory) {
	if inc.next == nil {
		return
	}
	if why := inc.feed.finish(dir, inc.next); why != "" && inc.info.Mode != upnsync.ReadFull {
		inc.info.Mode, inc.info.FullReason, inc.info.From = upnsync.ReadFull, why, ""
	}
	inc.info.To = inc.feed.position(inc.next)
}

// advance saves the new watermark after a run that read everything it
// asked for and left the store as planned (changed counts the users left
// alone because they changed meanwhile; users that already held the
// planned value do not hold it back); otherwise it says why not.
func (inc *incremental) advance(ctx context.Context, s *config.Settings, read upnsync.ReadResult, changed int) error {
	switch {
	case !s.Apply:
		inc.info.NotAdvanced = "dry run: only an --apply run advances the watermark, so the next run reads these changes again"
	case !read.Complete || inc.next == nil:
		inc.info.NotAdvanced = "the read was not complete"
	case changed > 0:
		inc.info.NotAdvanced = fmt.Sprintf("%s not written (the %s meanwhile): the next run reads %s again",
			plural.Count(changed, "planned change"), map[bool]string{true: "user changed", false: "users changed"}[changed == 1],
			map[bool]string{true: "this change", false: "these changes"}[changed == 1])
	}
	if inc.info.NotAdvanced != "" {
		return nil
	}
	data, err := json.Marshal(inc.next)
	if err != nil {
		return err
	}
	if err := inc.states.SaveSyncState(ctx, inc.key, string(data)); err != nil {
		inc.info.NotAdvanced = err.Error()
		return fmt.Errorf("the changes were written, but the new watermark could not be saved: %w; the next run reads the same changes again (harmless); fix the store's state and run again", err)
	}
	inc.info.Advanced = true
	return nil
}
