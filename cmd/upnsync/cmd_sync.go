package main

import (
	"context"
	"io"

	"github.com/upnsync/upnsync/config"
	upnrun "github.com/upnsync/upnsync/internal/run"
	"github.com/upnsync/upnsync/internal/schedule"
)

// runSync is `upnsync [sync]`: one run, or with --schedule the scheduler,
// which does the same run at each scheduled time.
func runSync(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	if s.Schedule != "" {
		return upnrun.ExitCode(schedule.Run(ctx, env(stdout, stderr), s))
	}
	return upnrun.ExitCode(upnrun.Sync(ctx, env(stdout, stderr), s))
}
