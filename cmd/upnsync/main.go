// Command upnsync merges each Active Directory user's UPN into the Windows
// usernames of the matching Octopus user. This package is the command line
// and the wiring; the work happens in the packages it imports.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/internal/memory"
	upnrun "github.com/upnsync/upnsync/internal/run"
)

// The exit codes main returns by itself; run.ExitCode decides the others.
const (
	exitOK    = upnrun.ExitOK
	exitError = upnrun.ExitError
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Only the process's own arguments are scrubbed: tests call run with
	// strings of their own, which may be read-only.
	scrub = scrubArgs
	if term.IsTerminal(int(os.Stdin.Fd())) {
		promptPassword = func(prompt string) (string, error) {
			fmt.Fprint(os.Stderr, prompt)
			pw, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(os.Stderr)
			return string(pw), err
		}
	}
	memory.TuneGC(os.Getenv)
	stopProfiling := startProfiling(os.Getenv, os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stopProfiling()
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	s, err := config.Parse(args, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "upnsync: %v\n", err)
		var ue *config.UsageError
		if errors.As(err, &ue) && !hasHint(err.Error()) {
			fmt.Fprintln(stderr, "Run upnsync --help for the options.")
		}
		return exitError
	}
	if scrub != nil {
		scrub(args, s.SecretArgs)
	}
	if promptPassword != nil && s.NeedsPassword() && bindsToDirectory(s.Command) {
		pw, err := promptPassword(fmt.Sprintf("Password for %s: ", s.Login))
		if err != nil {
			return fail(stderr, "reading the password from the terminal: %v", err)
		}
		if pw == "" {
			return fail(stderr, "no password typed for %s: give one, or use --password-file FILE or UPNSYNC_PASSWORD", s.Login)
		}
		s.SetPromptedPassword(pw)
	}
	switch s.Command {
	case "help":
		s.WriteHelp(stdout)
		return exitOK
	case "version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	case "demo":
		return runDemo(ctx, s, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, s, stdout, stderr)
	case "mapping":
		return runMapping(s, stdout, stderr)
	case "store":
		return runStore(ctx, s, stdout, stderr)
	case "plan":
		return runPlan(ctx, s, stdout, stderr)
	case "apply":
		return runApply(ctx, s, stdout, stderr)
	case "runs":
		return runRuns(ctx, s, stdout, stderr)
	case "undo":
		return runUndo(ctx, s, stdout, stderr)
	case "report":
		return runReport(s, stdout, stderr)
	}
	return runSync(ctx, s, stdout, stderr)
}

// promptPassword, when set (standard input is a terminal), asks for the
// bind password without echo.
var promptPassword func(prompt string) (string, error)

// bindsToDirectory tells the commands that read the directory.
func bindsToDirectory(command string) bool {
	switch command {
	case "help", "version", "demo", "mapping", "store", "apply", "runs", "undo", "report":
		return false
	}
	return true
}

// scrub, when set, overwrites the secrets in the arguments once parsed.
var scrub func(args []string, secrets []config.SecretArg)

func hasHint(msg string) bool {
	return strings.Contains(msg, "--help") || strings.Contains(msg, "/ConfigFilePath") || strings.Contains(msg, "/Directory")
}

// fail prints one error line and returns exit code 1.
func fail(stderr io.Writer, format string, a ...any) int {
	err := fmt.Errorf(format, a...)
	fmt.Fprintf(stderr, "upnsync: %v\n", err)
	return upnrun.ExitCode(upnrun.Failed(err))
}

// warn prints the settings' warnings (options not used by this command or
// kind of directory or store) for the commands that keep no log.
func warn(stderr io.Writer, s *config.Settings) {
	for _, w := range s.Warnings {
		fmt.Fprintf(stderr, "upnsync: warning: %s\n", w)
	}
}
