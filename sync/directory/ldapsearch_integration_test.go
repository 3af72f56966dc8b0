package directory_test

// The ldapsearch command a read writes to its log, taken from the log as
// an administrator copies it (what stands between the quotes after
// ldapsearch=), run with the real ldapsearch against the test slapd and
// Samba: it returns the same entries upnsync read. Simple binds over
// ldaps:// and StartTLS (a DOMAIN\name login among them), Kerberos from a
// keytab (the line runs kinit first) and from a credential cache.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// loggedSearches are the ldapsearch values of a log, as they stand in it.
func loggedSearches(t *testing.T, log string, json bool) []string {
	t.Helper()
	key := `ldapsearch="`
	if json {
		key = `"ldapsearch":"`
	}
	var out []string
	for _, line := range strings.Split(log, "\n") {
		i := strings.Index(line, key)
		if i < 0 {
			continue
		}
		v := line[i+len(key):]
		end := -1
		for j := 0; j < len(v) && end < 0; j++ {
			switch v[j] {
			case '\\':
				j++
			case '"':
				end = j
			}
		}
		if end < 0 {
			t.Fatalf("unterminated ldapsearch value in %s", line)
		}
		out = append(out, v[:end])
	}
	if len(out) == 0 {
		t.Fatalf("no ldapsearch line in the log:\n%s", log)
	}
	return out
}

// ldapsearchDNs runs a pasted line in /bin/sh and returns the DNs of the
// entries it prints (LDIF, wrapped lines joined, base64 decoded).
func ldapsearchDNs(t *testing.T, line string, env ...string) []string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the pasted line failed: %v\n%s\nline: %s", err, stderr.String(), line)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, " ") && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	var dns []string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "dn:: "):
			b, err := base64.StdEncoding.DecodeString(l[5:])
			if err != nil {
				t.Fatal(err)
			}
			dns = append(dns, string(b))
		case strings.HasPrefix(l, "dn: "):
			dns = append(dns, l[4:])
		}
	}
	return dns
}

// readLogged reads with o, its log in the given handler's format, and
// returns the DNs read and the log.
func readLogged(t *testing.T, o directory.Options, json bool) ([]string, string) {
	t.Helper()
	var log bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&log, nil))
	if json {
		o.Logger = slog.New(slog.NewJSONHandler(&log, nil))
	}
	var dns []string
	d := open(t, o)
	res, err := d.Read(t.Context(), func(p upnsync.Person) error { dns = append(dns, p.DN); return nil })
	if err != nil || !res.Complete {
		t.Fatalf("read: %v", err)
	}
	return dns, log.String()
}

func sameDNs(t *testing.T, got, want []string) {
	t.Helper()
	norm := func(s []string) []string {
		out := make([]string, len(s))
		for i, v := range s {
			out[i] = strings.ToLower(v)
		}
		sort.Strings(out)
		return out
	}
	g, w := norm(got), norm(want)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("ldapsearch returned %d entries, upnsync read %d", len(g), len(w))
	}
	if len(w) == 0 {
		t.Error("nothing read: the comparison proves nothing")
	}
}

func TestLoggedLDAPSearchLineAgainstSlapd(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	e := testenv.LDAP(t)
	for _, tt := range []struct {
		name string
		edit func(*directory.Options)
		json bool
	}{
		{"ldaps", func(*directory.Options) {}, false},
		{"StartTLS, JSON log", func(o *directory.Options) { o.URL, o.StartTLS = e.URL, true }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := baseOptions(e)
			o.PasswordFile = e.PasswordFile
			tt.edit(&o)
			read, log := readLogged(t, o, tt.json)
			lines := loggedSearches(t, log, tt.json)
			if len(lines) != 1 || !strings.Contains(lines[0], "-y "+e.PasswordFile) || strings.Contains(lines[0], e.Password) {
				t.Fatalf("lines %q: want one, with -y and without the password", lines)
			}
			sameDNs(t, ldapsearchDNs(t, lines[0]), read)
		})
	}
}

func TestLoggedLDAPSearchLineAgainstSamba(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	e := testenv.Samba(t)
	name := strings.SplitN(e.BindDN, "@", 2)[0]
	berlin := "OU=Berlin,OU=People," + e.Base
	cache := filepath.Join(t.TempDir(), "krb5cc")
	kinit := exec.Command("kinit", "-k", "-t", e.Keytab, "-c", cache, e.Principal)
	kinit.Env = append(os.Environ(), "KRB5_CONFIG="+e.Krb5Conf)
	if out, err := kinit.CombinedOutput(); err != nil {
		t.Fatalf("kinit: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		name string
		edit func(*directory.Options)
		has  string
		env  []string
	}{
		{`ldaps, DOMAIN\name`, func(o *directory.Options) { o.Login = e.NetBIOS + `\` + name }, `-D 'CORP'`, nil},
		{"StartTLS, two bases", func(o *directory.Options) {
			o.URL, o.StartTLS = e.URL, true
			o.Bases = []string{berlin, "OU=Toronto Office,OU=People," + e.Base}
		}, "-ZZ", nil},
		{"Kerberos keytab", func(o *directory.Options) {
			o.Login, o.Password, o.PasswordFile = e.Principal, "", ""
			o.KerberosKeytab, o.Krb5Conf = e.Keytab, e.Krb5Conf
		}, "kinit -k -t " + e.Keytab + " " + e.Principal + " && ", []string{"KRB5CCNAME=FILE:" + filepath.Join(t.TempDir(), "cc")}},
		{"Kerberos credential cache, StartTLS", func(o *directory.Options) {
			o.Login, o.Password, o.PasswordFile = "", "", ""
			o.URL, o.StartTLS = e.URL, true
			o.KerberosCCache, o.Krb5Conf = cache, e.Krb5Conf
		}, "KRB5CCNAME=FILE:" + cache, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := sambaOptions(e)
			o.Bases = []string{berlin}
			o.PasswordFile = e.PasswordFile
			tt.edit(&o)
			read, log := readLogged(t, o, false)
			lines := loggedSearches(t, log, false)
			if len(lines) != len(o.Bases) {
				t.Fatalf("%d lines for %d bases", len(lines), len(o.Bases))
			}
			var got []string
			for _, line := range lines {
				if !strings.Contains(line, tt.has) || e.Password != "" && strings.Contains(line, e.Password) {
					t.Errorf("line lacks %q or holds the password: %s", tt.has, line)
				}
				got = append(got, ldapsearchDNs(t, line, tt.env...)...)
			}
			sameDNs(t, got, read)
		})
	}
}
