package config

import (
	"bufio"
	"errors"
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
	overridden := map[string]bool{}
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
		if b := byLong(name); o == nil && b != nil && b.secret {
			o = b // an environment-only password: refused below
		}
		switch {
		case o == nil:
			return usagef("%s:%d: unknown setting %q; the names are the long option names of upnsync --help", path, n, name)
		case o.secret:
			return usagef("%s:%d: a password does not belong in a settings file; use %s-file = FILE", path, n, o.long)
		case o.long == "store" && RedactStoreURL(value) != value:
			return usagef("%s:%d: a password does not belong in a settings file; use store-password-file = FILE (or a PGPASSFILE) and a store URL without one", path, n)
		case o.cliOnly:
			return usagef("%s:%d: %s can only be given on the command line", path, n, name)
		}
		prev, dup := seen[name]
		if dup && o.kind != kList {
			return usagef("%s:%d: %s is already set on line %d", path, n, name, prev)
		}
		if !dup {
			seen[name] = n
			// The command line or the environment gave it: they win.
			overridden[name] = s.given(o.long)
		}
		if overridden[name] {
			continue
		}
		if err := s.give(o, value, origin{src: fromSettingsFile, spelled: name, file: path, line: n}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return usagef("%s:%d: line longer than 64 KiB: this is not a settings file of name = value lines", path, lineNo+1)
		}
		return usagef("settings file %s: %v", path, err)
	}
	return nil
}
