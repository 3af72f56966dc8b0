package config

import (
	"strings"
	"testing"
	"unsafe"
)

// Parse says where each secret sits in the arguments, so that the command
// can scrub it, and keeps its own copy of the password.
func TestSecretArgs(t *testing.T) {
	base := []string{"--config-file-path", "m.xml", "--directory", "ldaps://dc1"}
	for _, tt := range []struct {
		args []string
		want []SecretArg
	}{
		{[]string{"--password", "pw1"}, []SecretArg{{Index: 5}}},
		{[]string{"--password=pw1"}, []SecretArg{{Index: 4, From: len("--password=")}}},
		{[]string{"--PASSWORD=pw1"}, []SecretArg{{Index: 4, From: len("--PASSWORD=")}}},
		{[]string{"/Password:pw1"}, []SecretArg{{Index: 4, From: len("/Password:")}}},
		{[]string{`/password:"pw 1"`}, []SecretArg{{Index: 4, From: len("/password:")}}},
		{[]string{"--password", "a", "/Password:b"}, []SecretArg{{Index: 5}, {Index: 6, From: len("/Password:")}}},
		{[]string{"--login", "--password"}, nil}, // the value of --login, not a password
		{nil, nil},
	} {
		args := append(append([]string(nil), base...), tt.args...)
		// The arguments live in memory of their own, as the process's
		// command line does.
		for i, a := range args {
			if a != "" {
				b := []byte(a)
				args[i] = unsafe.String(&b[0], len(b))
			}
		}
		s, err := Parse(args, noenv)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if len(s.SecretArgs) != len(tt.want) {
			t.Fatalf("%q: secrets at %+v, want %+v", tt.args, s.SecretArgs, tt.want)
		}
		for i, w := range tt.want {
			if s.SecretArgs[i] != w {
				t.Errorf("%q: secret %d at %+v, want %+v", tt.args, i, s.SecretArgs[i], w)
			}
		}
		if len(tt.want) == 0 {
			continue
		}
		// Overwrite the secrets as the command does: the password Parse
		// kept must not change.
		want := s.Password.Reveal()
		for _, sa := range s.SecretArgs {
			b := unsafe.Slice(unsafe.StringData(args[sa.Index]), len(args[sa.Index]))
			for i := sa.From; i < len(b); i++ {
				b[i] = '*'
			}
		}
		if got := s.Password.Reveal(); got != want || got == "" || got[0] == '*' {
			t.Errorf("%q: the password changed with the arguments: %q, was %q", tt.args, got, want)
		}
	}
}

// A password inside a --store URL on the command line is found in every
// spelling, in the user information and in password= parameters; only its
// bytes are scrubbed, and the store URL Parse kept still holds it.
func TestStoreURLSecretArgs(t *testing.T) {
	base := []string{"--config-file-path", "m.xml", "--directory", "ldaps://dc1"}
	for _, tt := range []struct {
		args     []string
		scrubbed string // the last argument once scrubbed
	}{
		{[]string{"--store", "postgres://octo:S3cr3t@db/octopus"}, "postgres://octo:******@db/octopus"},
		{[]string{"--store=postgresql://octo:S3cr3t@db:5432/octopus?sslmode=verify-full"}, "--store=postgresql://octo:******@db:5432/octopus?sslmode=verify-full"},
		{[]string{"/Store:postgres://octo:p%40ss@db/octopus"}, "/Store:postgres://octo:******@db/octopus"},
		{[]string{`/store:"POSTGRES://octo:S3cr3t@db/octopus"`}, `/store:"POSTGRES://octo:******@db/octopus"`},
		{[]string{"--store", "postgres://octo@db/octopus?sslmode=require&password=S3cr3t&sslpassword=k3y"}, "postgres://octo@db/octopus?sslmode=require&password=******&sslpassword=***"},
		{[]string{"--store", "postgres://a:b:c@d@db/x"}, "postgres://a:*****@db/x"},
		{[]string{"--store", "postgres://octo@db/octopus"}, "postgres://octo@db/octopus"},
		{[]string{"--store", "sqlite:pw:x@y.db"}, "sqlite:pw:x@y.db"},
	} {
		args := append(append([]string(nil), base...), tt.args...)
		for i, a := range args {
			b := []byte(a)
			args[i] = unsafe.String(&b[0], len(b))
		}
		s, err := Parse(args, noenv)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		store := s.Store
		last := args[len(args)-1]
		for _, sa := range s.SecretArgs {
			b := unsafe.Slice(unsafe.StringData(args[sa.Index]), len(args[sa.Index]))
			end := len(b)
			if sa.To > 0 {
				end = sa.To
			}
			for i := sa.From; i < end; i++ {
				b[i] = '*'
			}
		}
		if last != tt.scrubbed {
			t.Errorf("%q scrubbed to %q, want %q", tt.args, last, tt.scrubbed)
		}
		if s.Store != store || strings.Contains(s.Store, "***") {
			t.Errorf("%q: the store URL changed with the arguments: %q", tt.args, s.Store)
		}
	}
}
