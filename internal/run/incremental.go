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
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
	"github.com/upnsync/upnsync/sync/octopus"
)

// syncState is what the store keeps per directory for --incremental and
// --dirsync (octopus.SyncStater), as JSON: the DC's position read before
// the last advancing run's read, its DirSync cookie, and a fingerprint of
// the inputs that decide who is read and how.
type syncState struct {
	Version      int               `json:"version"`
	Mode         string            `json:"mode"`
	Host         string            `json:"dns_host_name"`
	InvocationID string            `json:"invocation_id"`
	USN          int64             `json:"highest_committed_usn"`
	Cookie       []byte            `json:"dirsync_cookie,omitempty"`
	Inputs       map[string]string `json:"inputs"`
	Time         time.Time         `json:"time"`
}

func (st *syncState) position() string {
	return directory.Position{Host: st.Host, InvocationID: st.InvocationID, USN: st.USN}.String()
}

// incremental is one run's part of --incremental or --dirsync: it decides
// between a delta and a full read and, after a successful apply, saves the
// new watermark.
type incremental struct {
	mode   string // upnsync.ReadIncremental or upnsync.ReadDirSync
	key    string
	states octopus.SyncStater
	saved  *syncState
	// base holds the inputs known before the directory is open; next is
	// the state this run saves if it advances.
	mapping string
	s       *config.Settings
	next    *syncState
	info    upnsync.ReadMode
}

// newIncremental loads the saved state of the directory from the store.
func newIncremental(ctx context.Context, s *config.Settings, store octopus.Store) (*incremental, error) {
	mode, opt := upnsync.ReadIncremental, "--incremental"
	if s.DirSync {
		mode, opt = upnsync.ReadDirSync, "--dirsync"
	}
	if directory.Kind(s.Directory) != "ldap" {
		return nil, fmt.Errorf("%s reads only what changed in Active Directory; %s is not an ldap:// or ldaps:// directory: leave %s out", opt, s.Directory, opt)
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
	inc := &incremental{mode: mode, states: states, s: s, mapping: hex.EncodeToString(sum[:]),
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

// inputs fingerprints what decides who a read selects and how a person is
// merged: when one changes, people a delta would not read may now be
// planned differently.
func (inc *incremental) inputs(tr directory.ChangeTracker) map[string]string {
	bases := tr.Bases()
	for i := range bases {
		bases[i] = strings.ToLower(bases[i])
	}
	slices.Sort(bases)
	s := inc.s
	return map[string]string{
		"mapping file": inc.mapping,
		"search bases": strings.Join(bases, "; "),
		"user filter":  tr.Filter(),
		"options": fmt.Sprintf("implicit-upn=%t skip-disabled=%t max-length=%d netbios-domain=%s",
			s.ImplicitUPN, s.SkipDisabled, s.MaxLength, s.NetBIOSDomain),
	}
}

// prepare reads the DC's position on the directory just opened and sets
// it up for a delta or a full read. It runs for every attempt: a retry may
// reach another DC.
func (inc *incremental) prepare(ctx context.Context, dir upnsync.Directory, log *slog.Logger) error {
	tr, ok := dir.(directory.ChangeTracker)
	if !ok {
		return fmt.Errorf("%s cannot tell what changed: leave --incremental and --dirsync out", dir.Describe())
	}
	pos, err := tr.Position(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	in := inc.inputs(tr)
	inc.next = &syncState{Version: 1, Mode: inc.mode, Host: pos.Host, InvocationID: pos.InvocationID, USN: pos.USN,
		Inputs: in, Time: now}
	reason := inc.info.FullReason
	if reason == "" {
		reason = inc.fullReason(pos, in, now)
	}
	inc.info = upnsync.ReadMode{Mode: inc.mode, To: pos.String()}
	if reason != "" {
		inc.info.Mode, inc.info.FullReason = upnsync.ReadFull, reason
		log.Warn("reading in full instead of only what changed: "+reason, "mode", inc.mode)
	} else {
		inc.info.From = inc.saved.position()
		log.Info("reading only what changed", "mode", inc.mode, "from", inc.info.From, "to", inc.info.To)
	}
	switch {
	case inc.mode == upnsync.ReadDirSync && reason == "":
		tr.DirSync(inc.saved.Cookie)
	case inc.mode == upnsync.ReadDirSync:
		tr.DirSync(nil)
	case reason == "":
		tr.ChangedSince(inc.saved.USN + 1)
	default:
		tr.ChangedSince(0)
	}
	return nil
}

// fullReason says why this run must read in full, or "".
func (inc *incremental) fullReason(pos directory.Position, in map[string]string, now time.Time) string {
	st := inc.saved
	switch {
	case st == nil:
		return "no watermark for " + inc.s.Directory + " in the store yet: the first run reads in full"
	case st.Mode != inc.mode:
		return fmt.Sprintf("the saved state is for %s, not %s", st.Mode, inc.mode)
	case !strings.EqualFold(st.Host, pos.Host):
		return fmt.Sprintf("the domain controller changed: the watermark is from %s, this run reached %s (USNs belong to one DC)", st.Host, pos.Host)
	case !strings.EqualFold(st.InvocationID, pos.InvocationID):
		return fmt.Sprintf("the invocationId of %s changed from %s to %s (its database was restored or reset), so its old USNs mean nothing", pos.Host, st.InvocationID, pos.InvocationID)
	case pos.USN < st.USN:
		return fmt.Sprintf("the highestCommittedUSN of %s went back from %d to %d", pos.Host, st.USN, pos.USN)
	case now.Sub(st.Time) > inc.s.FullEvery:
		return fmt.Sprintf("the watermark is from %s, older than --full-every %s: a periodic full read reconciles what deltas cannot see",
			st.Time.UTC().Format(time.RFC3339), inc.s.FullEvery)
	case inc.mode == upnsync.ReadDirSync && len(st.Cookie) == 0:
		return "no DirSync cookie was saved"
	}
	var changed []string
	for _, k := range []string{"mapping file", "search bases", "user filter", "options"} {
		if st.Inputs[k] != in[k] {
			if k == "mapping file" {
				changed = append(changed, "the mapping file changed")
				continue
			}
			changed = append(changed, fmt.Sprintf("the %s changed (was %q, now %q)", k, st.Inputs[k], in[k]))
		}
	}
	return strings.Join(changed, "; ")
}

// read takes what the read left behind (DirSync's cookie).
func (inc *incremental) read(dir upnsync.Directory) {
	if inc.next == nil {
		return
	}
	if tr, ok := dir.(directory.ChangeTracker); ok && inc.mode == upnsync.ReadDirSync {
		inc.next.Cookie = tr.DirSyncCookie()
	}
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
		inc.info.NotAdvanced = fmt.Sprintf("%d planned changes were not written (the users changed meanwhile): the next run reads these changes again", changed)
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
