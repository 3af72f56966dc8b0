package config

import "strings"

// Secret holds a password. Its String, GoString and MarshalText forms are
// masked, so passing it to a logger, fmt or encoding/json by mistake prints
// no secret; only Reveal gives the value, at the one place that needs it.
type Secret struct{ value string }

// NewSecret wraps a copy of v. A copy, because v may be a piece of the
// process's own command line, which the command overwrites once parsed so
// that other users cannot read the password with ps; the secret must not
// be overwritten with it.
func NewSecret(v string) Secret { return Secret{value: strings.Clone(v)} }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether no secret was given.
func (s Secret) IsZero() bool { return s.value == "" }

const masked = "[redacted]"

func (s Secret) String() string   { return s.mask() }
func (s Secret) GoString() string { return s.mask() }

// MarshalText keeps the secret out of JSON and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

func (s Secret) mask() string {
	if s.value == "" {
		return ""
	}
	return masked
}
