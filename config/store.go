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
	if err := s.fileOrEnvSecret("store-password-file", "store password file", "store-password", getenv,
		&s.StorePassword, &s.storePasswordFrom); err != nil {
		return err
	}
	if RedactStoreURL(s.Store) != s.Store {
		s.storePasswordFrom = "the --store URL"
		s.Warnings = append(s.Warnings,
			"the --store URL holds a password, which other users of this machine can see on the command line; use --store-password-file FILE, UPNSYNC_STORE_PASSWORD or a PGPASSFILE")
	}
	return nil
}

// StorePasswordSource says where the store's password came from (never
// the password): a file, the environment, the URL, or "none" (PostgreSQL's
// own PGPASSFILE, or no password).
func (s *Settings) StorePasswordSource() string {
	if s.storePasswordFrom == "" {
		return "none"
	}
	return s.storePasswordFrom
}

// storeSecrets records where a password sits in a --store URL given on
// the command line (args[index][at:] is the URL), so that the command can
// scrub it like --password's. Only the password's bytes go: the rest of the
// URL stays readable in ps.
func (s *Settings) storeSecrets(o *option, index, at int, value string) {
	if o.long != "store" {
		return
	}
	if strings.HasPrefix(value, `"`) { // /Store:"postgres://..."
		at++
		value = strings.Trim(value, `"`)
	}
	for _, r := range storePasswordRanges(value) {
		s.SecretArgs = append(s.SecretArgs, SecretArg{Index: index, From: at + r[0], To: at + r[1]})
	}
}

// storePasswordRanges finds the bytes of the passwords in a postgres://
// URL as written: in the user information (postgres://user:PASS@host) and
// in password= or sslpassword= parameters.
func storePasswordRanges(raw string) [][2]int {
	lower := strings.ToLower(raw)
	var scheme int
	switch {
	case strings.HasPrefix(lower, "postgres://"):
		scheme = len("postgres://")
	case strings.HasPrefix(lower, "postgresql://"):
		scheme = len("postgresql://")
	default:
		return nil
	}
	var out [][2]int
	rest := raw[scheme:]
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if colon := strings.IndexByte(authority[:at], ':'); colon >= 0 && colon+1 < at {
			out = append(out, [2]int{scheme + colon + 1, scheme + at})
		}
	}
	if q := strings.IndexByte(raw, '?'); q >= 0 {
		end := len(raw)
		if h := strings.IndexByte(raw[q:], '#'); h >= 0 {
			end = q + h
		}
		pos := q + 1
		for _, kv := range strings.Split(raw[q+1:end], "&") {
			k, v, ok := strings.Cut(kv, "=")
			if ok && v != "" && (strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword")) {
				out = append(out, [2]int{pos + len(k) + 1, pos + len(kv)})
			}
			pos += len(kv) + 1
		}
	}
	return out
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
