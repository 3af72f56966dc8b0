package config

import (
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
