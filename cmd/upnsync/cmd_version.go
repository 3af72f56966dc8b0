package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	upnrun "github.com/upnsync/upnsync/internal/run"
)

// Set at release build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func versionLine() string {
	return fmt.Sprintf("upnsync %s (commit %s, %s, %s/%s)", version, commitOf(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// commitOf is the commit the binary was built from: set by the release
// build, else Go's VCS stamp.
func commitOf() string {
	if commit != "" {
		return commit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// env is what a run gets from the command line besides its settings.
func env(stdout, stderr io.Writer) upnrun.Env {
	return upnrun.Env{Stdout: stdout, Stderr: stderr,
		Build: upnrun.Build{Version: version, Commit: commitOf(), Line: versionLine()}}
}
