package main

import (
	"fmt"
	"io"

	"github.com/upnsync/upnsync/config"
	upnrun "github.com/upnsync/upnsync/internal/run"
)

// runReport is `upnsync report html IN OUT.html`: a saved JSON report or
// a saved plan rendered as the HTML report.
func runReport(s *config.Settings, stdout, stderr io.Writer) int {
	// config checked the subcommand (html, the only one) and its two
	// arguments.
	in, out := s.Args[1], s.Args[2]
	if err := upnrun.RenderHTML(in, out); err != nil {
		return fail(stderr, "%v", err)
	}
	if out != "-" { // "-": the page itself is on standard output
		fmt.Fprintf(stdout, "Wrote the HTML report of %s to %s: open it in a browser.\n", in, out)
	}
	return exitOK
}
