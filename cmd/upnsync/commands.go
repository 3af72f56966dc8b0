package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/atomicfile"
	"github.com/upnsync/upnsync/mapping"
	"github.com/upnsync/upnsync/sync/octopus"
)

// Set at release build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func versionLine() string {
	return fmt.Sprintf("upnsync %s (commit %s, %s, %s/%s)", version, commitOf(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

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
		f, err := os.Open(args[0])
		if err != nil {
			return fail(stderr, "cannot read %s: %v", args[0], unwrapPathErr(err))
		}
		defer f.Close()
		log, closeLog, err := newLogger(s, stderr)
		if err != nil {
			return fail(stderr, "%v", err)
		}
		defer closeLog()
		// An import writes the store too: not while a sync writes it.
		lock, err := lockStore(ctx, s.Store, storeOptions(s, octopus.Options{State: s.State}), s.WaitLock, "upnsync store import", log)
		if err != nil {
			return fail(stderr, "%v", err)
		}
		defer releaseLock(lock, log)
		store, err := octopus.Open(ctx, s.Store, storeOptions(s, octopus.Options{Create: true, State: s.State}))
		if err != nil {
			return fail(stderr, "%v", err)
		}
		defer store.Close()
		res, err := store.ImportCSV(ctx, f, args[0])
		if err != nil {
			return fail(stderr, "%v", err)
		}
		fmt.Fprintf(stdout, "Imported %s into %s: %d users read, %d created, %d updated, %d unchanged.\n",
			args[0], store.Describe(), res.Read, res.Created, res.Updated, res.Unchanged)
		return exitOK
	case "export":
		if len(args) > 1 {
			return fail(stderr, "usage: upnsync store export --store URL [FILE.csv]")
		}
		store, err := octopus.Open(ctx, s.Store, storeOptions(s, octopus.Options{ReadOnly: true, State: s.State}))
		if err != nil {
			return fail(stderr, "%v", err)
		}
		defer store.Close()
		if len(args) == 0 {
			if _, err := store.ExportCSV(ctx, stdout); err != nil {
				return fail(stderr, "%v", err)
			}
			return exitOK
		}
		var n int
		err = atomicfile.Write(args[0], 0o644, func(w io.Writer) error {
			var err error
			n, err = store.ExportCSV(ctx, w)
			return err
		})
		if err != nil {
			return fail(stderr, "exporting to %s: %v", args[0], err)
		}
		fmt.Fprintf(stdout, "Exported %d users from %s to %s.\n", n, store.Describe(), args[0])
		return exitOK
	default:
		return fail(stderr, "unknown store subcommand %q: use import or export", sub)
	}
}
