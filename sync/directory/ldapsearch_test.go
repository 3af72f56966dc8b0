package directory

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// shellArgs runs line in /bin/sh with ldapsearch and kinit replaced by
// functions that print their environment variables and arguments, and
// returns what each command got, as "VAR=value ... command arg ...".
func shellArgs(t *testing.T, line string) []string {
	t.Helper()
	script := `show() { for a; do printf '%s\0' "$a"; done; printf '\n\0'; }
ldapsearch() { show "LDAPTLS_CACERT=$LDAPTLS_CACERT" "KRB5CCNAME=$KRB5CCNAME" "KRB5_CONFIG=$KRB5_CONFIG" ldapsearch "$@"; }
kinit() { show "KRB5_CONFIG=$KRB5_CONFIG" kinit "$@"; }
` + line
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v: %s\nline: %s", err, out, line)
	}
	var cmds []string
	var words []string
	for _, w := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if w == "\n" {
			cmds = append(cmds, strings.Join(words, " | "))
			words = nil
			continue
		}
		words = append(words, w)
	}
	return cmds
}

// wantArgs is what the commands should get: searchCommands's words, with
// the environment variables the shell functions print. In the log's form a
// ' of a DN or a filter is \27.
func wantArgs(d *ldapDirectory, base string, forLog bool) []string {
	var out []string
	for _, cmd := range d.searchCommands(base) {
		env := map[string]string{}
		var words []string
		for _, a := range cmd {
			if a.env != "" {
				env[a.env] = a.text
				continue
			}
			w := a.text
			if forLog && a.escapable {
				w = strings.ReplaceAll(w, "'", `\27`)
			}
			words = append(words, w)
		}
		var w []string
		if words[0] == "ldapsearch" {
			w = append(w, "LDAPTLS_CACERT="+env["LDAPTLS_CACERT"], "KRB5CCNAME="+env["KRB5CCNAME"])
		}
		w = append(w, "KRB5_CONFIG="+env["KRB5_CONFIG"])
		out = append(out, strings.Join(append(w, words...), " | "))
	}
	return out
}

// logValue logs the line as a run does, with slog's text or JSON handler,
// and returns what stands between the quotes after ldapsearch=, as it is:
// what an administrator copies from the log.
func logValue(t *testing.T, line string, json bool) string {
	t.Helper()
	var buf bytes.Buffer
	var h slog.Handler = slog.NewTextHandler(&buf, nil)
	key := `ldapsearch="`
	if json {
		h, key = slog.NewJSONHandler(&buf, nil), `"ldapsearch":"`
	}
	slog.New(h).Info("search", "base", "x", "ldapsearch", line)
	s := buf.String()
	i := strings.Index(s, key)
	if i < 0 {
		t.Fatalf("no %s in %s", key, s)
	}
	s = s[i+len(key):]
	// The value ends at the first " the log did not escape.
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return s[:j]
		}
	}
	t.Fatalf("unterminated value in %s", buf.String())
	return ""
}

// The printed command gives ldapsearch exactly the arguments of upnsync's
// search, pasted as doctor prints it and as the log holds it (text and
// JSON), whatever the login, base and filter hold: a DOMAIN\name login,
// quotes, spaces, escapes.
func TestLDAPSearchLinePastes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pass word")
	if err := os.WriteFile(pwFile, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A CA file whose name needs quoting.
	ca, err := os.ReadFile(filepath.Join("..", "..", "testdata", "bad", "certs", "other-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "corp ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	nlFile := filepath.Join(dir, "newline")
	if err := os.WriteFile(nlFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		opts Options
		base string
		want []string // words the line must hold (plain form)
		not  []string
	}{
		{"DOMAIN\\name, password file", Options{URL: "ldaps://dc1.corp.example.com", Login: `CORP\Administrator`, Password: "s3cret", PasswordFile: pwFile,
			CAFile: caFile, Filter: `(memberOf=CN=Octopus \28all\29,OU=Groups,DC=corp,DC=example,DC=com)`},
			"OU=O'Brien \"Team\",DC=corp,DC=example,DC=com", []string{`-D 'CORP\Administrator'`, "-y '" + pwFile + "'", "-x"}, []string{"-W", "s3cret"}},
		{"a password file ldapsearch would read differently", Options{URL: "ldap://dc1.corp.example.com", StartTLS: true, Login: "cn=svc,ou=service,dc=corp",
			Password: "s3cret", PasswordFile: nlFile}, "dc=corp", []string{"-ZZ", "-W"}, []string{"-y"}},
		{"Kerberos keytab", Options{URL: "ldaps://dc1.corp.example.com", KerberosKeytab: "/etc/upnsync/svc.keytab", Login: "svc@CORP.EXAMPLE.COM",
			Krb5Conf: "/etc/upnsync/krb5.conf"}, "DC=corp,DC=example,DC=com",
			[]string{"KRB5_CONFIG=/etc/upnsync/krb5.conf kinit -k -t /etc/upnsync/svc.keytab svc@CORP.EXAMPLE.COM && ", "-Y GSSAPI -N -O maxssf=0"}, []string{"-x", "-D", "-W"}},
		{"Kerberos ccache", Options{URL: "ldap://dc1.corp.example.com", StartTLS: true, KerberosCCache: "/tmp/krb5cc_upnsync", Krb5Conf: "/etc/upnsync/krb5.conf"},
			"DC=corp,DC=example,DC=com", []string{"KRB5CCNAME=FILE:/tmp/krb5cc_upnsync", "-ZZ -Y GSSAPI"}, []string{"kinit", "-D"}},
		{"anonymous, the whole forest", Options{URL: "ldap://gc1:3268", Anonymous: true}, "", []string{"-x -b '' -s sub"}, []string{"-D"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.PageSize = 500
			d, err := newLDAP(o)
			if err != nil {
				t.Fatal(err)
			}
			d.domainScope = true
			plain := d.ldapsearchLine(tt.base)
			for _, w := range tt.want {
				if !strings.Contains(plain, w) {
					t.Errorf("%s\nlacks %q", plain, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(plain, w) {
					t.Errorf("%s\nholds %q", plain, w)
				}
			}
			want := wantArgs(d, tt.base, false)
			forms := map[string]string{"plain": plain,
				"text log": logValue(t, d.ldapsearchLogLine(tt.base), false),
				"JSON log": logValue(t, d.ldapsearchLogLine(tt.base), true)}
			for form, line := range forms {
				want := want
				if form != "plain" {
					want = wantArgs(d, tt.base, true)
				}
				t.Logf("%s: %s", form, line)
				got := shellArgs(t, line)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s form:\n%s\ngives\n%q\nwant\n%q", form, line, got, want)
				}
			}
			// The search's own words are there, in order.
			if !strings.Contains(want[len(want)-1], "-E | pr=500/noprompt | "+d.readFilter()+" | "+strings.Join(d.dec.attrs, " | ")) ||
				!strings.Contains(want[len(want)-1], "-E | domainScope") {
				t.Errorf("the command lacks the search: %s", want[len(want)-1])
			}
		})
	}
}
