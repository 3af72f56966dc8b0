package main

import (
	"context"
	"io"

	"github.com/upnsync/upnsync/config"
	upnrun "github.com/upnsync/upnsync/internal/run"
)

// runUndo is `upnsync undo RUN_ID [--apply]`: restore what a run wrote.
func runUndo(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	return upnrun.ExitCode(upnrun.Undo(ctx, env(stdout, stderr), s, s.Args[0]))
}
