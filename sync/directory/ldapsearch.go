package directory

import (
	"fmt"
	"regexp"
	"strings"
)

// ldapsearchLine is the OpenLDAP ldapsearch command that performs the same
// search as a read of base, for the log: an administrator can paste it to
// see what upnsync saw, or hand it to whoever runs the directory. It never
// holds the password: -W makes ldapsearch prompt for it.
func (d *ldapDirectory) ldapsearchLine(base string) string {
	var args []string
	if d.opts.CAFile != "" {
		args = append(args, "LDAPTLS_CACERT="+shellQuote(d.opts.CAFile))
	}
	args = append(args, "ldapsearch", "-H", shellQuote(d.url))
	if d.opts.StartTLS {
		args = append(args, "-ZZ")
	}
	args = append(args, "-x")
	if !d.opts.Anonymous {
		args = append(args, "-D", shellQuote(d.opts.Login), "-W")
	}
	args = append(args, "-b", shellQuote(base), "-s", "sub")
	if d.domainScope {
		args = append(args, "-E", "domainScope")
	}
	if d.pageSize > 0 {
		args = append(args, "-E", fmt.Sprintf("pr=%d/noprompt", d.pageSize))
	}
	args = append(args, shellQuote(d.readFilter()))
	for _, a := range d.dec.attrs {
		args = append(args, shellQuote(a))
	}
	return strings.Join(args, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellQuote quotes s for a POSIX shell, in single quotes unless it is
// made only of characters no shell interprets.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
