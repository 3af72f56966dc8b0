package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseArgs feeds argument lists (one argument per line) to Parse: it
// never panics, every refusal is a UsageError, and arguments it accepts
// give the same Settings when every option is spelled the other way
// (--name=value as /Name:"value", /Name:value as --name=value).
func FuzzParseArgs(f *testing.F) {
	for _, args := range [][]string{
		{"--config-file-path", "m.xml", "--directory", "ldaps://dc1.corp.example.com", "--apply"},
		{`/ConfigFilePath:"C:\Octopus config\map.xml"`, "/Directory:ldif:users.ldf", "/Apply", "/Report:json"},
		{"--config-file-path=m.xml", "--directory=ldap://dc1:389", "--start-tls", "--page-size", "0", "--domain", "a.example.com;OU=x,DC=y"},
		{"/configfilepath:m", "/DIRECTORY:x", "/PageSize:500", "/Timeout:30s", "/Retries:0", "/RetryDelay:10ms", "/MaxLength:50"},
		{"--config-file-path", "m", "--directory", "d", "--password", "pw", "--login", "--password"},
		{"store", "import", "--store", "sqlite:x.db", "users.csv"},
		{"mapping", "check", "/etc/upnsync/map.xml"},
		{"--", "/Apply", "--apply"},
		{"-h"}, {"/?"}, {"demo", "--report", "CSV"},
		{"--apply=false", "/Apply:no", "--quiet=1", "--config-file-path", "", "--directory", "\x00"},
		{`/Store:"sqlite:a b.db"`, `/Report:"json`, `/Login:svc"`, "--config-file-path", "m", "--directory", "d"},
	} {
		f.Add(strings.Join(args, "\n"))
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\n")
		for _, a := range args {
			// Settings and password files would make Parse read files
			// named by the fuzzer; their parsing has tests of its own.
			l := strings.ToLower(a)
			if strings.Contains(l, "settings") || strings.Contains(l, "passwordfile") || strings.Contains(l, "password-file") {
				return
			}
		}
		s, err := Parse(args, noenv)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("%q: %T %v is not a UsageError", args, err, err)
			}
			if err.Error() == "" {
				t.Fatalf("%q: empty error", args)
			}
			return
		}
		other := respell(args)
		s2, err := Parse(other, noenv)
		if err != nil {
			t.Fatalf("%q accepted, but spelled the other way %q refused: %v", args, other, err)
		}
		if !sameSettings(s, s2) {
			t.Fatalf("%q and %q give different settings:\n%+v\n%+v", args, other, s, s2)
		}
	})
}

// respell spells each option of accepted arguments the other way.
func respell(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(append(out, "--"), args[i+1:]...)
		case a == "-h" || a == "/?" || a == "-?":
			out = append(out, a)
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			o := lookupLong(strings.ToLower(name))
			if !hasValue && o.kind == kBool {
				out = append(out, "/"+o.win)
				continue
			}
			if !hasValue {
				i++
				value = args[i]
			}
			// Quoted, the Windows form carries any value: unquote takes
			// exactly one quote off each end.
			out = append(out, "/"+o.win+`:"`+value+`"`)
		case strings.HasPrefix(a, "/") && isWindowsOption(a):
			name, value, hasValue := strings.Cut(a[1:], ":")
			o := lookupWin(name)
			if !hasValue {
				out = append(out, "--"+o.long)
				continue
			}
			out = append(out, "--"+o.long+"="+unquote(value))
		default:
			out = append(out, a)
		}
	}
	return out
}

// sameSettings compares what a run would do: the warnings name the
// spelling used, and secrets sit at other places in the arguments.
func sameSettings(a, b *Settings) bool {
	x, y := *a, *b
	if len(x.Warnings) != len(y.Warnings) {
		return false
	}
	x.Warnings, y.Warnings = nil, nil
	x.SecretArgs, y.SecretArgs = nil, nil
	// from records how each option was spelled.
	x.from, y.from = nil, nil
	// source keeps the arguments as spelled, for a scheduler's reload.
	x.source, y.source = nil, nil
	return reflect.DeepEqual(x, y)
}
