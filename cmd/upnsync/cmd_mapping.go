package main

import (
	"fmt"
	"io"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/mapping"
)

// runMapping: `mapping check FILE` and `mapping add-upn IN [OUT]`.
func runMapping(s *config.Settings, stdout, stderr io.Writer) int {
	if len(s.Args) == 0 {
		return fail(stderr, "mapping needs a subcommand: upnsync mapping check FILE, or upnsync mapping add-upn IN [OUT]")
	}
	switch sub, args := s.Args[0], s.Args[1:]; sub {
	case "check":
		if len(args) != 1 {
			return fail(stderr, "usage: upnsync mapping check FILE")
		}
		m, err := mapping.ParseFile(args[0])
		if err != nil {
			return fail(stderr, "%v", err)
		}
		if err := m.WriteListing(stdout); err != nil {
			return fail(stderr, "%v", err)
		}
		if err := m.Validate(); err != nil {
			return fail(stderr, "%v", err)
		}
		fmt.Fprintf(stdout, "%s is valid: UPN sync is on.\n", args[0])
		return exitOK
	case "add-upn":
		if len(args) < 1 || len(args) > 2 {
			return fail(stderr, "usage: upnsync mapping add-upn IN [OUT]")
		}
		out := ""
		if len(args) == 2 {
			out = args[1]
		}
		changed, err := mapping.AddUPNFile(args[0], out)
		if err != nil {
			return fail(stderr, "%v", err)
		}
		target := args[0]
		if out != "" {
			target = out
		}
		if target == "-" {
			// The file itself is on standard output: nothing else goes there.
			stdout = stderr
		}
		if changed {
			fmt.Fprintf(stdout, "Added <attribute LDAPAttribute=\"userPrincipalName\" OctopusAttribute=\"UPN\"/> to the user mapping; wrote %s.\n", target)
		} else {
			fmt.Fprintf(stdout, "%s already has the UPN entry; nothing changed.\n", args[0])
			if out != "" && target != args[0] {
				fmt.Fprintf(stdout, "%s holds the same content.\n", out)
			}
		}
		return exitOK
	default:
		return fail(stderr, "unknown mapping subcommand %q: use check or add-upn", sub)
	}
}
