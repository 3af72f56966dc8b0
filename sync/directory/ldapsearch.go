package directory

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// The OpenLDAP ldapsearch command that performs the same search as a read
// of one base: an administrator pastes it into a POSIX shell (Linux,
// macOS, WSL or Git Bash on Windows) to see what upnsync saw, or hands it
// to whoever runs the directory. It binds as upnsync does: -x -D LOGIN
// for a simple bind (NTLM's login too, which AD accepts in a simple bind),
// -Y GSSAPI for Kerberos (after kinit from the keytab, or with the
// credential cache), nothing for --anonymous; -ZZ for StartTLS, the CA in
// LDAPTLS_CACERT, the real filter, attributes and page size. It never
// holds the password: -y FILE names the password file when ldapsearch can
// read it as upnsync does (ldapsearch takes a file's last newline as part
// of the password), else -W asks for it.
//
// It comes in two forms. Doctor prints the plain one. The log's values are
// quoted by the log itself (slog's text and JSON handlers write a \ as \\
// and a " as \"), so the log's form is written so that what stands
// between the quotes after ldapsearch= is the command to paste, as it
// is: a \ or a " of a value is written outside the single quotes, where
// the log's \\ and \" are the shell's own escapes of them; and a ' in a
// base or a filter as the escape \27, which the directory decodes.

// searchArg is one word of the command and what it holds.
type searchArg struct {
	// env names the environment variable the word assigns text to.
	env  string
	text string
	// dn or filter: a ' may be written \27 (RFC 4514 and RFC 4515 both
	// decode it).
	escapable bool
}

// ldapsearchLine is the command in its plain form, for doctor.
func (d *ldapDirectory) ldapsearchLine(base string) string { return d.renderSearch(base, false) }

// ldapsearchLogLine is the command in the form for the log (see above).
func (d *ldapDirectory) ldapsearchLogLine(base string) string { return d.renderSearch(base, true) }

func (d *ldapDirectory) renderSearch(base string, forLog bool) string {
	var words []string
	for _, cmd := range d.searchCommands(base) {
		var line []string
		for _, a := range cmd {
			w := shellWord(a, forLog)
			if a.env != "" {
				w = a.env + "=" + w
			}
			line = append(line, w)
		}
		words = append(words, strings.Join(line, " "))
	}
	return strings.Join(words, " && ")
}

// searchCommands are the commands of the line: a kinit first for a keytab,
// then ldapsearch; each begins with its environment variables.
func (d *ldapDirectory) searchCommands(base string) [][]searchArg {
	o := d.opts
	plain := func(s ...string) []searchArg {
		out := make([]searchArg, len(s))
		for i, v := range s {
			out[i] = searchArg{text: v}
		}
		return out
	}
	var env []searchArg
	if o.kerberos() && !o.IntegratedAuth && o.krb5Conf() != "/etc/krb5.conf" {
		env = append(env, searchArg{env: "KRB5_CONFIG", text: o.krb5Conf()})
	}
	var cmds [][]searchArg
	if o.KerberosKeytab != "" {
		kinit := append(append([]searchArg{}, env...), plain("kinit", "-k", "-t", o.KerberosKeytab)...)
		if d.principalName != "" {
			kinit = append(kinit, plain(d.principalName)...)
		} else if o.Login != "" {
			kinit = append(kinit, plain(o.Login)...)
		}
		cmds = append(cmds, kinit)
	}
	if o.KerberosCCache != "" {
		cc := o.KerberosCCache
		if !strings.Contains(cc, ":") || len(cc) > 1 && cc[1] == ':' { // not TYPE:..., a Windows drive is a path
			cc = "FILE:" + cc
		}
		env = append(env, searchArg{env: "KRB5CCNAME", text: cc})
	}
	if o.CAFile != "" {
		env = append(env, searchArg{env: "LDAPTLS_CACERT", text: o.CAFile})
	}
	args := append(env, plain("ldapsearch", "-H", d.url)...)
	if o.StartTLS {
		args = append(args, plain("-ZZ")...)
	}
	switch {
	case o.kerberos():
		// -N: the service principal is ldap/ the host as written, as
		// upnsync's; maxssf=0: TLS protects the connection, and AD and
		// Samba refuse a GSSAPI security layer over TLS.
		args = append(args, plain("-Y", "GSSAPI", "-N", "-O", "maxssf=0", "-Q")...)
	case o.Anonymous:
		args = append(args, plain("-x")...)
	default:
		args = append(args, plain("-x", "-D")...)
		args = append(args, searchArg{text: o.Login, escapable: strings.Contains(o.Login, "=")})
		if d.passwordFile != "" {
			args = append(args, plain("-y", d.passwordFile)...)
		} else {
			args = append(args, plain("-W")...)
		}
	}
	args = append(args, plain("-b")...)
	args = append(args, searchArg{text: base, escapable: true})
	args = append(args, plain("-s", "sub")...)
	if d.domainScope {
		args = append(args, plain("-E", "domainScope")...)
	}
	if d.pageSize > 0 {
		args = append(args, plain("-E", fmt.Sprintf("pr=%d/noprompt", d.pageSize))...)
	}
	args = append(args, searchArg{text: d.readFilter(), escapable: true})
	args = append(args, plain(d.dec.attrs...)...)
	return append(cmds, args)
}

// passwordFileFits reports whether ldapsearch -y reads the file as the
// password upnsync uses: the file holds it and nothing else.
func passwordFileFits(path, password string) bool {
	if path == "" || password == "" {
		return false
	}
	b, err := os.ReadFile(path)
	return err == nil && string(b) == password
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9@%+=:,./_-]+$`)

// shellWord quotes a word for a POSIX shell: as it is when no shell
// interprets any of its characters, else in single quotes. For the log
// (forLog), each \ and " goes outside the quotes, where the log writes
// them \\ and \"; and a ' of a DN or a filter becomes \27.
func shellWord(a searchArg, forLog bool) string {
	s := a.text
	switch {
	case s == "":
		return "''"
	case shellSafe.MatchString(s):
		return s
	}
	if !forLog {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	if a.escapable {
		s = strings.ReplaceAll(s, "'", `\27`)
	}
	var b strings.Builder
	open := false
	for _, r := range s {
		switch r {
		case '\\', '"':
			if open {
				b.WriteByte('\'')
				open = false
			}
			b.WriteRune(r)
		case '\'':
			// No form of it survives the log's quoting outside a DN or a
			// filter: written as the plain form does.
			if open {
				b.WriteByte('\'')
				open = false
			}
			b.WriteString(`\'`)
		default:
			if !open {
				b.WriteByte('\'')
				open = true
			}
			b.WriteRune(r)
		}
	}
	if open {
		b.WriteByte('\'')
	}
	return b.String()
}
