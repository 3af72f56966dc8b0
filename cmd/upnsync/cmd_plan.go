package main

import (
	"context"
	"io"

	"github.com/upnsync/upnsync/config"
	upnrun "github.com/upnsync/upnsync/internal/run"
)

// runPlan is `upnsync plan --out FILE`: a dry run whose plan is saved for
// `upnsync apply`.
func runPlan(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	return upnrun.ExitCode(upnrun.Plan(ctx, env(stdout, stderr), s))
}
