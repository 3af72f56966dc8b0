package config

import (
	"errors"
	"os"
	"runtime"
	"strings"
)

// resolvePassword takes the password from the password file, else the
// environment; a password file readable by others is refused, as ldap2pg
// does, because anyone on the machine could bind as the service account.
func resolvePassword(s *Settings, getenv func(string) string) error {
	if s.PasswordFile != "" {
		if !s.Password.IsZero() {
			return usagef("give the password either with --password-file or with --password, not both")
		}
		pw, err := readPasswordFile(s.PasswordFile)
		if err != nil {
			return err
		}
		s.Password = NewSecret(pw)
		s.passwordFrom = "password file " + s.PasswordFile
		return nil
	}
	if s.Password.IsZero() {
		if pw := getenv("UPNSYNC_PASSWORD"); pw != "" {
			if why := s.notUsed(byLong("password")); why != "" {
				s.Warnings = append(s.Warnings, "UPNSYNC_PASSWORD is not used: "+why)
				return nil
			}
			s.Password = NewSecret(pw)
			s.passwordFrom = "environment variable UPNSYNC_PASSWORD"
		}
	}
	return nil
}

func readPasswordFile(path string) (string, error) {
	if err := checkPrivateFile(path, "password file", true); err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("password file %s: %v", path, unwrapPath(err))
	}
	pw := strings.TrimRight(strings.TrimPrefix(string(data), "\ufeff"), "\r\n")
	if pw == "" {
		return "", usagef("password file %s is empty", path)
	}
	return pw, nil
}

// checkPrivateFile is the rule for every file that holds a secret (a
// password file, a keytab, a Kerberos credential cache; what names it): it
// must exist, be a file, and not be readable by other users, as ldap2pg
// and libpq require, because anyone on the machine could bind as the
// service account with it. Root-owned files readable by their group only
// are accepted (groupReadableByRoot). Windows has no such modes. A file
// that does not exist passes unless mustExist: its reader then says what
// to do (a keytab to export, kinit to run).
func checkPrivateFile(path, what string, mustExist bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if !mustExist {
				return nil
			}
			return usagef("%s %s does not exist", what, path)
		}
		return usagef("%s %s: %v", what, path, unwrapPath(err))
	}
	if fi.IsDir() {
		return usagef("%s %s is a folder, not a file", what, path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 && !groupReadableByRoot(fi) {
		return usagef("%s %s can be read by other users (mode %04o): run chmod 600 %s", what, path, fi.Mode().Perm(), path)
	}
	return nil
}

// checkKerberosFiles holds a keytab and a credential cache to the rule of
// secret files: either lets anyone who can read it bind as its account.
func checkKerberosFiles(s *Settings) error {
	if s.KerberosKeytab != "" {
		if err := checkPrivateFile(s.KerberosKeytab, "keytab", false); err != nil {
			return err
		}
	}
	if s.KerberosCCache != "" {
		if err := checkPrivateFile(strings.TrimPrefix(s.KerberosCCache, "FILE:"), "Kerberos credential cache", false); err != nil {
			return err
		}
	}
	return nil
}

// unwrapPath drops the "open PATH:" prefix of an *os.PathError, since the
// message names the path already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// promptSource is where a password typed at the interactive prompt is
// said to come from.
const promptSource = "interactive prompt"

// NeedsPassword reports whether binding to the directory needs a password
// that no option, password file or environment variable gave: then, on a
// terminal, the command asks for it (without echo), so that an
// administrator trying upnsync by hand stores it nowhere.
func (s *Settings) NeedsPassword() bool {
	if !s.Password.IsZero() || s.Anonymous || s.Login == "" ||
		s.KerberosKeytab != "" || s.KerberosCCache != "" || s.IntegratedAuth {
		return false
	}
	d := strings.ToLower(s.Directory)
	return strings.HasPrefix(d, "ldap://") || strings.HasPrefix(d, "ldaps://") || d == "" && len(s.Domains) > 0
}

// SetPromptedPassword records the password typed at the prompt.
func (s *Settings) SetPromptedPassword(pw string) {
	s.Password = NewSecret(pw)
	s.passwordFrom = promptSource
}

// PasswordSource says where the password came from (never the password).
func (s *Settings) PasswordSource() string {
	if s.Password.IsZero() {
		return "none"
	}
	return s.passwordFrom
}

// fileOrEnvSecret resolves a secret that comes from a file option
// (fileOpt, with readPasswordFile's permission rules; what names the file
// in messages) or else from the environment variable of the
// environment-only option envOpt, which the file wins over. A variable
// set where envOpt does not apply is not used, with a warning. The
// secret and where it came from are set.
func (s *Settings) fileOrEnvSecret(fileOpt, what, envOpt string, getenv func(string) string, secret *Secret, from *string) error {
	file := byLong(fileOpt).val.text(s)
	if file != "" {
		v, err := readPasswordFile(file)
		if err != nil {
			return usagef("--%s: %v", fileOpt, err)
		}
		*secret, *from = NewSecret(v), what+" "+file
		return nil
	}
	o := byLong(envOpt)
	v := getenv(o.env())
	if v == "" {
		return nil
	}
	if why := s.notUsed(o); why != "" {
		s.Warnings = append(s.Warnings, o.env()+" is not used: "+why)
		return nil
	}
	*secret, *from = NewSecret(v), "environment variable "+o.env()
	return nil
}
