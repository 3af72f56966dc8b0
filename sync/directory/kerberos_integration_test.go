package directory_test

// Kerberos against the Samba DC's KDC: the forms an administrator writes
// --login in, and the failures each explained in one line, without
// gokrb5's "[Root cause: ...]" chain, and retried only when the KDC could
// not be reached.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/upnsync/upnsync/internal/testenv"
	"github.com/upnsync/upnsync/sync/directory"
)

func kerberosOptions(e testenv.SambaEnv) directory.Options {
	o := sambaOptions(e)
	o.Login, o.Password, o.Krb5Conf, o.KerberosKeytab = "", "", e.Krb5Conf, e.Keytab
	return o
}

// DOMAIN\name and a bare name are bound as name@ krb5.conf's default realm;
// a realm in lower case is upper-cased.
func TestSambaKerberosLoginForms(t *testing.T) {
	e := testenv.Samba(t)
	name := strings.SplitN(e.Principal, "@", 2)[0]
	for _, login := range []string{e.NetBIOS + `\` + name, name, name + "@" + strings.ToLower(e.Realm)} {
		t.Run(login, func(t *testing.T) {
			o := kerberosOptions(e)
			o.Login = login
			people, res, err := readAll(t, open(t, o))
			if err != nil || !res.Complete || len(people) < e.Users {
				t.Fatalf("read as %q: %v (complete %v, %d people)", login, err, res.Complete, len(people))
			}
		})
	}
}

func TestSambaKerberosFailures(t *testing.T) {
	e := testenv.Samba(t)
	dir := t.TempDir()
	name := strings.SplitN(e.Principal, "@", 2)[0]
	conf, err := os.ReadFile(e.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	writeConf := func(file, text string) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// No default_realm; a KDC where nothing listens.
	var noRealm []string
	for _, l := range strings.Split(string(conf), "\n") {
		if !strings.Contains(l, "default_realm") {
			noRealm = append(noRealm, l)
		}
	}
	noRealmConf := writeConf("norealm.conf", strings.Join(noRealm, "\n"))
	kdcDown := writeConf("kdcdown.conf", strings.Replace(string(conf), "127.0.0.1:88", "127.0.0.1:9", 1))
	// A keytab with a key that is not the account's: its password changed
	// after the keytab was made.
	kt := keytab.New()
	if err := kt.AddEntry(e.Principal, e.Realm, "not-the-password", time.Now(), 2, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	staleKeytab := writeConf("stale.keytab", string(b))

	for _, tt := range []struct {
		name      string
		set       func(*directory.Options)
		want      string
		transient bool
	}{
		{"unknown principal", func(o *directory.Options) { o.Login = "nobody@" + e.Realm },
			"the KDC of " + e.Realm + " does not know nobody@" + e.Realm + ": check --login", false},
		{"no key in the keytab", func(o *directory.Options) { o.Login = "Administrator@" + e.Realm },
			"the keytab " + e.Keytab + " holds no key for Administrator@" + e.Realm + ": klist -k " + e.Keytab + " lists its principals", false},
		{"stale key", func(o *directory.Options) { o.KerberosKeytab, o.Login = staleKeytab, e.Principal },
			"the KDC refused the key of " + e.Principal + " in the keytab " + staleKeytab + ": the account's password changed after the keytab was made", false},
		{"no service principal", func(o *directory.Options) { o.URL = "ldaps://localhost" },
			"the KDC of " + e.Realm + " knows no service principal ldap/localhost", false},
		{"no default realm, bare name", func(o *directory.Options) { o.Login, o.Krb5Conf = name, noRealmConf },
			"--login " + name + " names no Kerberos realm and " + noRealmConf + " has no default_realm: write --login " + name + "@REALM", false},
		{"no default realm, DOMAIN\\name", func(o *directory.Options) { o.Login, o.Krb5Conf = e.NetBIOS+`\`+name, noRealmConf },
			"has no default_realm: write --login " + name + "@REALM", false},
		{"realm without a KDC", func(o *directory.Options) { o.Login = name + "@ELSEWHERE.EXAMPLE" },
			e.Krb5Conf + " names no KDC for the realm ELSEWHERE.EXAMPLE", false},
		{"KDC unreachable", func(o *directory.Options) { o.Krb5Conf = kdcDown },
			"cannot reach the KDC of " + e.Realm + " (the kdc in " + kdcDown + ")", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := kerberosOptions(e)
			tt.set(&o)
			d, err := directory.Open(o)
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tt.want) || strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q does not contain %q (or spans lines)", msg, tt.want)
			}
			for _, noise := range []string{"Root cause", "KDC_Error", "setspn -Q"} {
				if tt.name != "no service principal" && strings.Contains(msg, noise) {
					t.Errorf("error %q carries %q", msg, noise)
				}
			}
			if got := directory.Transient(err); got != tt.transient {
				t.Errorf("Transient = %v, want %v", got, tt.transient)
			}
		})
	}
}
