package config

import (
	"bufio"
	"errors"
	"log/slog"
	"os"
	"strings"
	"unicode/utf8"
)

// applySettingsFile reads lines of "name = value" (long option names, #
// comments) for the options not given on the command line or in the
// environment.
func applySettingsFile(s *Settings, path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return usagef("settings file %s does not exist", path)
		}
		return usagef("settings file %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	seen := map[string]int{}
	lineNo := 0
	for n := 1; sc.Scan(); n++ {
		lineNo = n
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
			if strings.HasPrefix(line, "\xff\xfe") || strings.HasPrefix(line, "\xfe\xff") {
				return usagef("%s:1: the file is UTF-16 (Notepad's \"Unicode\"); save it as UTF-8", path)
			}
		}
		if !utf8.ValidString(line) || strings.ContainsRune(line, 0) {
			return usagef("%s:%d: not UTF-8 text", path, n)
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return usagef("%s:%d: expected name = value, got %q", path, n, line)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		o := lookupLong(name)
		switch {
		case o == nil:
			return usagef("%s:%d: unknown setting %q; the names are the long option names of upnsync --help", path, n, name)
		case o.secret:
			return usagef("%s:%d: a password does not belong in a settings file; use password-file = FILE", path, n)
		case o.long == "store" && RedactStoreURL(value) != value:
			return usagef("%s:%d: a password does not belong in a settings file; use store-password-file = FILE (or a PGPASSFILE) and a store URL without one", path, n)
		case o.cliOnly:
			return usagef("%s:%d: %s can only be given on the command line", path, n, name)
		}
		if prev, dup := seen[name]; dup && o.kind != kList {
			return usagef("%s:%d: %s is already set on line %d", path, n, name, prev)
		}
		seen[name] = n
		if s.explicit[o.long] {
			continue
		}
		if err := o.set(s, value); err != nil {
			return usagef("%s:%d: %s: %v", path, n, name, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return usagef("%s:%d: line longer than 64 KiB: this is not a settings file of name = value lines", path, lineNo+1)
		}
		return usagef("settings file %s: %v", path, err)
	}
	for name := range seen {
		s.explicit[name] = true
	}
	return nil
}

// LogAttrs lists the effective settings for the log, secrets masked: the
// password appears only as where it came from.
func (s *Settings) LogAttrs() []slog.Attr {
	return []slog.Attr{
		slog.String("config-file-path", s.ConfigFile),
		slog.String("directory", s.Directory),
		slog.String("domain", strings.Join(s.Domains, ";")),
		slog.String("login", s.Login),
		slog.String("password", s.PasswordSource()),
		slog.String("store", RedactStoreURL(s.Store)),
		slog.String("store-password", s.StorePasswordSource()),
		slog.Bool("apply", s.Apply),
		slog.Int("page-size", s.PageSize),
		slog.String("user-filter", s.UserFilter),
		slog.String("filter", s.Filter),
		slog.Bool("global-catalog", s.GlobalCatalog),
		slog.Bool("start-tls", s.StartTLS),
		slog.String("ca-file", s.CAFile),
		slog.Bool("implicit-upn", s.ImplicitUPN),
		slog.Bool("skip-disabled", s.SkipDisabled),
		slog.Int("max-length", s.MaxLength),
		slog.Bool("remove-departed", s.RemoveDeparted),
		slog.Int("max-changes", s.MaxChanges),
		slog.Float64("max-change-percent", s.MaxChangePercent),
		slog.Int("max-removals", s.MaxRemovals),
		slog.Float64("max-removal-percent", s.MaxRemovalPercent),
		slog.Bool("force", s.Force),
		slog.String("state", s.State),
		slog.Duration("timeout", s.Timeout),
		slog.String("log-format", s.LogFormat),
		slog.Int("log-keep", s.LogKeep),
		slog.String("summary-file", s.SummaryFile),
		slog.String("metrics-file", s.MetricsFile),
		slog.String("schedule", s.Schedule),
		slog.Int("retries", s.Retries),
		slog.Duration("retry-delay", s.RetryDelay),
	}
}
