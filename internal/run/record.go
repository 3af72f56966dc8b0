package run

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/atomicfile"
	"github.com/upnsync/upnsync/internal/memory"
	upnsync "github.com/upnsync/upnsync/sync"
)

// runRecord is what one run did, as the final log line, --summary-file and
// --metrics-file tell it. syncOnce fills it as it goes, so that a run that
// stops half way still says how far it got.
type runRecord struct {
	Build     Build
	Started   time.Time
	Finished  time.Time
	Mode      string
	Directory string
	Store     string
	LogFile   string
	ExitCode  int
	// Planned is set once the directory was read (even partly).
	Planned bool
	Stats   upnsync.Stats
	Read    upnsync.ReadResult
	// Applied is set after an apply was attempted.
	Applied *upnsync.Applied
	// Err is the error that ended the run with exit code 1.
	Err string
	// OutputErr is the report that could not be written after an apply
	// (Outcome.OutputErr).
	OutputErr string
	// PeakMemory is the process's peak resident memory in bytes.
	PeakMemory uint64
	// ReadMode is set with --incremental or --dirsync.
	ReadMode *upnsync.ReadMode
}

func (r *runRecord) plan(p *upnsync.Plan) {
	r.Planned = true
	r.Stats = p.Stats
	r.Read = p.Read
}

// save writes --summary-file and --metrics-file. Failing to write them is
// logged as an error but changes nothing else: the run's outcome tells
// what happened to the users.
func (r *runRecord) save(env Env, s *config.Settings, log *slog.Logger) {
	if s.SummaryFile != "" {
		if err := writeSummary(env, s.SummaryFile, r); err != nil {
			log.Error(fmt.Sprintf("cannot write the run summary to %s: %v; check that its folder exists and this account may write there", s.SummaryFile, err))
		}
	}
	if s.MetricsFile != "" {
		if err := writeMetrics(env, s.MetricsFile, r); err != nil {
			log.Error(fmt.Sprintf("cannot write the metrics to %s: %v; check that its folder exists and this account may write there", s.MetricsFile, err))
		}
	}
}

// logSummary is the run's last log line: what support reads first.
func logSummary(log *slog.Logger, rec *runRecord) {
	attrs := []any{"exit_code", rec.ExitCode, "result", Result(rec.ExitCode), "mode", rec.Mode,
		"elapsed", rec.Finished.Sub(rec.Started).Round(time.Millisecond).String(),
		"read", rec.Read.Entries, "pages", rec.Read.Pages, "complete", rec.Read.Complete}
	if rec.Planned {
		st := rec.Stats
		attrs = append(attrs, "changes", st.Changes, "conflicts", st.Conflicts, "unmatched", st.Unmatched, "skipped", st.Skipped,
			"departed", st.Departed, "removals", st.Removals)
	}
	if rec.Applied != nil {
		attrs = append(attrs, "written", len(rec.Applied.Written), "stale", len(rec.Applied.Stale))
	}
	if m := rec.ReadMode; m != nil {
		attrs = append(attrs, "read_mode", m.Mode, "watermark_advanced", m.Advanced)
		if m.FullReason != "" {
			attrs = append(attrs, "full_read_reason", m.FullReason)
		}
		if m.From != "" {
			attrs = append(attrs, "from", m.From)
		}
		attrs = append(attrs, "to", m.To)
	}
	attrs = append(attrs, "peak_memory", memory.HumanBytes(rec.PeakMemory))
	log.Info("upnsync finished", attrs...)
}

// summaryJSON is --summary-file (version 1; programs depend on these names,
// which follow the JSON report's: add fields, never rename).
type summaryJSON struct {
	Version          int            `json:"version"`
	UpnsyncVersion   string         `json:"upnsync_version"`
	Mode             string         `json:"mode"`
	Started          string         `json:"started"`
	Finished         string         `json:"finished"`
	ElapsedSeconds   float64        `json:"elapsed_seconds"`
	ExitCode         int            `json:"exit_code"`
	Result           string         `json:"result"`
	Success          bool           `json:"success"`
	Complete         bool           `json:"complete"`
	IncompleteReason string         `json:"incomplete_reason,omitempty"`
	Error            string         `json:"error,omitempty"`
	OutputError      string         `json:"output_error,omitempty"`
	Directory        string         `json:"directory,omitempty"`
	Store            string         `json:"store,omitempty"`
	Summary          summaryCounts  `json:"summary"`
	Read             summaryRead    `json:"read"`
	Applied          *summaryApply  `json:"applied,omitempty"`
	PeakMemoryBytes  uint64         `json:"peak_memory_bytes"`
	LogFile          string         `json:"log_file,omitempty"`
	Bases            []summaryBases `json:"bases,omitempty"`
	// ReadMode: --incremental and --dirsync runs only.
	ReadMode *upnsync.ReadMode `json:"read_mode,omitempty"`
}

type summaryCounts struct {
	Read      int `json:"read"`
	Matched   int `json:"matched"`
	Unchanged int `json:"unchanged"`
	Changes   int `json:"changes"`
	Conflicts int `json:"conflicts"`
	Unmatched int `json:"unmatched"`
	Skipped   int `json:"skipped"`
}

type summaryRead struct {
	Pages      int `json:"pages"`
	Entries    int `json:"entries"`
	Referrals  int `json:"referrals"`
	StoreUsers int `json:"store_users"`
}

type summaryApply struct {
	RunID   string `json:"run_id,omitempty"`
	Written int    `json:"written"`
	Stale   int    `json:"stale"`
}

type summaryBases struct {
	Base      string `json:"base"`
	Entries   int    `json:"entries"`
	Pages     int    `json:"pages"`
	Referrals int    `json:"referrals"`
}

func summaryOf(rec *runRecord) summaryJSON {
	st := rec.Stats
	out := summaryJSON{
		Version: 1, UpnsyncVersion: rec.Build.Version, Mode: rec.Mode,
		Started: rec.Started.Format(time.RFC3339), Finished: rec.Finished.Format(time.RFC3339),
		ElapsedSeconds: roundSeconds(rec.Finished.Sub(rec.Started)),
		ExitCode:       rec.ExitCode, Result: Result(rec.ExitCode), Success: Succeeded(rec.ExitCode),
		Complete: rec.Read.Complete, Error: rec.Err, OutputError: rec.OutputErr, Directory: rec.Directory, Store: rec.Store,
		Summary: summaryCounts{Read: st.Read, Matched: st.Matched, Unchanged: st.Unchanged, Changes: st.Changes,
			Conflicts: st.Conflicts, Unmatched: st.Unmatched, Skipped: st.Skipped},
		Read:            summaryRead{Pages: rec.Read.Pages, Entries: rec.Read.Entries, Referrals: rec.Read.Referrals, StoreUsers: st.StoreUsers},
		PeakMemoryBytes: rec.PeakMemory,
		LogFile:         rec.LogFile,
	}
	out.ReadMode = rec.ReadMode
	if !rec.Read.Complete {
		out.IncompleteReason = rec.Read.Why
		if out.IncompleteReason == "" && rec.Err != "" {
			out.IncompleteReason = "the run stopped before the directory was read: " + rec.Err
		}
	}
	if rec.Applied != nil {
		out.Applied = &summaryApply{RunID: rec.Applied.RunID, Written: len(rec.Applied.Written), Stale: len(rec.Applied.Stale)}
	}
	for _, b := range rec.Read.Bases {
		out.Bases = append(out.Bases, summaryBases{Base: b.Base, Entries: b.Entries, Pages: b.Pages, Referrals: b.Referrals})
	}
	return out
}

func roundSeconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

func writeSummary(env Env, path string, rec *runRecord) error {
	data, err := json.MarshalIndent(summaryOf(rec), "", "  ")
	if err != nil {
		return err
	}
	return writeOutput(env, path, atomicfile.Shared, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}
