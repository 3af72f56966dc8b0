package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/upnsync/upnsync/config"
	upnrun "github.com/upnsync/upnsync/internal/run"
	upnsync "github.com/upnsync/upnsync/sync"
)

type jsonRun struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Started    string   `json:"started"`
	Finished   string   `json:"finished"`
	Written    int      `json:"written"`
	Stale      int      `json:"stale"`
	Directory  string   `json:"directory"`
	Undoes     string   `json:"undoes,omitempty"`
	UndoneBy   []string `json:"undone_by"`
	PlanSHA256 string   `json:"plan_sha256,omitempty"`
	Forced     []string `json:"forced"`
	Host       string   `json:"host"`
	User       string   `json:"user"`
	Command    string   `json:"command"`
}

func timeOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// runRuns is `upnsync runs`: the runs that wrote, newest first, one per
// line beginning with its id and no header, so that `head -1 | cut -d' '
// -f1` is the last run; --report json for programs.
func runRuns(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	warn(stderr, s)
	runs, store, err := upnrun.Runs(ctx, env(stdout, stderr), s)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	switch s.Report {
	case "json":
		out := struct {
			Version int       `json:"version"`
			Store   string    `json:"store"`
			Runs    []jsonRun `json:"runs"`
		}{Version: 1, Store: store, Runs: []jsonRun{}}
		for _, r := range runs {
			out.Runs = append(out.Runs, jsonRun{ID: r.ID, Kind: kindOf(r), Started: timeOrEmpty(r.Started),
				Finished: timeOrEmpty(r.Finished), Written: r.Written, Stale: r.Stale, Directory: r.Directory,
				Undoes: r.Undoes, UndoneBy: nonNilStrings(r.UndoneBy), PlanSHA256: r.PlanSHA256,
				Forced: nonNilStrings(r.Forced), Host: r.Host, User: r.User, Command: r.Command})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return fail(stderr, "writing the list of runs: %v", err)
		}
	case "text":
		for _, r := range runs {
			fmt.Fprintln(stdout, runLine(r))
		}
		if len(runs) == 0 {
			fmt.Fprintf(stderr, "upnsync: no runs are recorded in %s yet\n", store)
		}
	default:
		return fail(stderr, "upnsync runs writes text or json (--report json), not %s", s.Report)
	}
	return exitOK
}

func kindOf(r upnsync.RunInfo) string {
	if r.Kind == "" {
		return upnsync.RunSync
	}
	return r.Kind
}

func runLine(r upnsync.RunInfo) string {
	parts := []string{r.ID, r.Started.UTC().Format("2006-01-02 15:04:05Z"), kindOf(r),
		fmt.Sprintf("written %d", r.Written), fmt.Sprintf("stale %d", r.Stale)}
	if r.Finished.IsZero() {
		parts = append(parts, "unfinished")
	}
	if r.Undoes != "" {
		parts = append(parts, "undoes "+r.Undoes)
	}
	if len(r.UndoneBy) > 0 {
		parts = append(parts, "undone by "+strings.Join(r.UndoneBy, ","))
	}
	if len(r.Forced) > 0 {
		parts = append(parts, "forced")
	}
	if r.User != "" || r.Host != "" {
		parts = append(parts, "by "+r.User+"@"+r.Host)
	}
	if r.Directory != "" {
		parts = append(parts, r.Directory)
	}
	return strings.Join(parts, "  ")
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
