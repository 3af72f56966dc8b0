package config

import (
	"fmt"
	"net/url"
	"strings"
)

// resolveStorePassword takes the database password from
// --store-password-file (refused when others can read it), else the
// UPNSYNC_STORE_PASSWORD environment variable. A password in the --store
// URL works but warns, as --password does: other users can see it.
func resolveStorePassword(s *Settings, getenv func(string) string) error {
	if s.StorePasswordFile != "" {
		pw, err := readPasswordFile(s.StorePasswordFile)
		if err != nil {
			return usagef("--store-password-file: %v", err)
		}
		s.StorePassword = NewSecret(pw)
	} else if pw := getenv("UPNSYNC_STORE_PASSWORD"); pw != "" {
		s.StorePassword = NewSecret(pw)
	}
	if RedactStoreURL(s.Store) != s.Store {
		s.Warnings = append(s.Warnings,
			"the --store URL holds a password, which other users of this machine can see on the command line; use --store-password-file FILE, UPNSYNC_STORE_PASSWORD or a PGPASSFILE")
	}
	return nil
}

// RedactStoreURL hides a password in a postgres:// store URL (in the user
// information or a password= parameter), for logs and messages.
func RedactStoreURL(raw string) string {
	lower := strings.ToLower(raw)
	if !strings.HasPrefix(lower, "postgres://") && !strings.HasPrefix(lower, "postgresql://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Sprintf("%s (unparsable URL hidden)", raw[:strings.Index(raw, ":")])
	}
	changed := false
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
		changed = true
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if !changed {
		return raw
	}
	u.RawQuery = q.Encode()
	return u.String()
}
