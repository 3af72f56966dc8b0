package main

import (
	"context"
	"io"

	"github.com/upnsync/upnsync/config"
	upnrun "github.com/upnsync/upnsync/internal/run"
)

// runApply is `upnsync apply FILE`: a saved plan, exactly as saved, to the
// store it names.
func runApply(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	return upnrun.ExitCode(upnrun.ApplyPlan(ctx, env(stdout, stderr), s, s.Args[0]))
}
