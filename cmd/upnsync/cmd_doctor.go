package main

import (
	"context"
	"io"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/doctor"
	upnrun "github.com/upnsync/upnsync/internal/run"
)

// runDoctor is `upnsync doctor`: it checks what a run with the same
// options needs, and exits 0 only when no check failed.
func runDoctor(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	if len(s.Args) > 0 {
		return fail(stderr, "doctor takes no arguments, only the options of a run; see upnsync --help")
	}
	if err := doctor.Run(ctx, s, stdout, version); err != nil {
		return upnrun.ExitCode(upnrun.Failed(err)) // its lines on stdout say what failed
	}
	return exitOK
}
