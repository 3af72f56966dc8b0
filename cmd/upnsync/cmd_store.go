package main

import (
	"context"
	"fmt"
	"io"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/plural"
	upnrun "github.com/upnsync/upnsync/internal/run"
)

// runStore: `store import FILE.csv` and `store export [FILE.csv]`.
func runStore(ctx context.Context, s *config.Settings, stdout, stderr io.Writer) int {
	if len(s.Args) == 0 {
		return fail(stderr, "store needs a subcommand: upnsync store import --store URL FILE.csv, or upnsync store export --store URL [FILE.csv]")
	}
	switch sub, args := s.Args[0], s.Args[1:]; sub {
	case "import":
		if len(args) != 1 {
			return fail(stderr, "usage: upnsync store import --store URL FILE.csv")
		}
		res, store, err := upnrun.ImportUsers(ctx, env(stdout, stderr), s, args[0])
		if err != nil {
			return fail(stderr, "%v", err)
		}
		fmt.Fprintf(stdout, "Imported %s into %s: %s read, %d created, %d updated, %d unchanged.\n",
			args[0], store, plural.Count(res.Read, "user"), res.Created, res.Updated, res.Unchanged)
		return exitOK
	case "export":
		if len(args) > 1 {
			return fail(stderr, "usage: upnsync store export --store URL [FILE.csv]")
		}
		file := ""
		if len(args) == 1 {
			file = args[0]
		}
		warn(stderr, s)
		n, store, err := upnrun.ExportUsers(ctx, s, stdout, file)
		if err != nil {
			return fail(stderr, "%v", err)
		}
		if file != "" && file != "-" {
			fmt.Fprintf(stdout, "Exported %s from %s to %s.\n", plural.Count(n, "user"), store, file)
		}
		return exitOK
	default:
		return fail(stderr, "unknown store subcommand %q: use import or export", sub)
	}
}
