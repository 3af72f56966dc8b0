package directory_test

// Integration tests against the real Samba AD DC of scripts/testdirs.sh:
// AD's own objectGUIDs, userAccountControl, continuation references from
// the domain root. Without it they skip; with CI=true they fail.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

func sambaOptions(e testenv.SambaEnv) directory.Options {
	return directory.Options{
		URL:      e.LDAPSURL,
		CAFile:   e.CAFile,
		Login:    e.BindDN,
		Password: e.Password,
		Bases:    []string{e.Base},
		PageSize: directory.DefaultPageSize,
	}
}

// adUser is one user as ldapsearch shows it.
type adUser struct {
	dn, sam, upn, guid string
	uac                int
}

// ldapsearchUsers runs OpenLDAP's ldapsearch against the DC and decodes
// what it prints with code of its own: the objectGUID's base64 becomes the
// canonical GUID string by swapping the byte order of the first three
// groups, independently of the reader under test.
func ldapsearchUsers(t *testing.T, e testenv.SambaEnv, base string) map[string]adUser {
	t.Helper()
	cmd := exec.Command("ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-E", "pr=1000/noprompt",
		"-H", e.LDAPSURL, "-D", e.BindDN, "-y", e.PasswordFile, "-b", base,
		"(&(objectCategory=person)(objectClass=user))", "sAMAccountName", "userPrincipalName", "objectGUID", "userAccountControl")
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+e.CAFile, "LDAPTLS_REQCERT=demand")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, stderr.String())
	}
	users := map[string]adUser{}
	var u adUser
	flush := func() {
		if u.sam != "" {
			if u.guid == "" {
				t.Fatalf("ldapsearch shows %s without objectGUID", u.dn)
			}
			users[u.guid] = u
		}
		u = adUser{}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			flush()
			continue
		}
		if strings.HasPrefix(val, ": ") { // base64
			b, err := base64.StdEncoding.DecodeString(val[2:])
			if err != nil {
				t.Fatalf("ldapsearch line %q: %v", line, err)
			}
			if strings.EqualFold(name, "objectGUID") {
				if len(b) != 16 {
					t.Fatalf("objectGUID of %d bytes: %q", len(b), line)
				}
				c := append([]byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]}, b[8:]...)
				h := hex.EncodeToString(c)
				val = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
			} else {
				val = string(b)
			}
		} else {
			val = strings.TrimPrefix(val, " ")
		}
		switch strings.ToLower(name) {
		case "dn":
			u.dn = val
		case "samaccountname":
			u.sam = val
		case "userprincipalname":
			u.upn = val
		case "objectguid":
			u.guid = val
		case "useraccountcontrol":
			u.uac, _ = strconv.Atoi(val)
		}
	}
	flush()
	return users
}

// Every user the reader returns from Samba has the objectGUID, DN, UPN and
// disabled state ldapsearch shows for it, over ldaps:// and StartTLS; the
// search from the domain root meets Samba's three continuation references
// (Configuration, DomainDnsZones, ForestDnsZones): counted, not chased.
func TestSambaReadMatchesLdapsearch(t *testing.T) {
	e := testenv.Samba(t)
	want := withoutScratch(ldapsearchUsers(t, e, e.Base), func(u adUser) string { return u.dn })
	// Everyone loaded, and the domain's own accounts (Administrator,
	// Guest, krbtgt) and the Kerberos tests' service account.
	if len(want) < e.Users {
		t.Fatalf("ldapsearch shows %d users, fewer than the %d loaded", len(want), e.Users)
	}
	for _, tr := range []string{"ldaps", "starttls"} {
		t.Run(tr, func(t *testing.T) {
			o := sambaOptions(e)
			if tr == "starttls" {
				o.URL, o.StartTLS = e.URL, true
			}
			d := open(t, o)
			all, res, err := readAll(t, d)
			if err != nil || !res.Complete {
				t.Fatalf("read: %v (complete %v: %s)", err, res.Complete, res.Why)
			}
			if res.Entries != len(all) {
				t.Errorf("%d entries counted, %d people read", res.Entries, len(all))
			}
			got := withoutScratch(all, func(p upnsync.Person) string { return p.DN })
			// Samba announces the domain-scope control, which the reader
			// sends: the 3 continuation references a plain ldapsearch gets
			// (Configuration, DomainDnsZones, ForestDnsZones) are not
			// returned at all. Counting them when a server sends them is
			// tested against a scripted server (ad_test.go).
			if res.Referrals != 0 {
				t.Errorf("%d continuation references counted, want 0 (the domain-scope control was sent)", res.Referrals)
			}
			if len(got) != len(want) {
				t.Errorf("read %d people, ldapsearch shows %d", len(got), len(want))
			}
			disabled, noUPN, alt := 0, 0, 0
			for guid, w := range want {
				p, ok := got[guid]
				if !ok {
					t.Errorf("%s (objectGUID %s in ldapsearch) was not read with that GUID", w.dn, guid)
					continue
				}
				if !sameDN(p.DN, w.dn) || p.SAMAccountName != w.sam || p.UPN != w.upn {
					t.Errorf("GUID %s: read %q %q %q, ldapsearch shows %q %q %q", guid, p.DN, p.SAMAccountName, p.UPN, w.dn, w.sam, w.upn)
				}
				if p.Disabled != (w.uac&2 != 0) {
					t.Errorf("%s: userAccountControl %d, read as disabled=%v", w.dn, w.uac, p.Disabled)
				}
				if p.Domain != "CORP" {
					t.Errorf("%s: domain %q, want CORP", w.dn, p.Domain)
				}
				if p.Disabled {
					disabled++
				}
				if p.UPN == "" {
					noUPN++
				}
				if strings.HasSuffix(strings.ToLower(p.UPN), "@"+e.AltSuffix) {
					alt++
				}
			}
			if disabled < 10 || noUPN < 5 || alt < 10 {
				t.Errorf("the test domain lacks variety: %d disabled, %d without UPN, %d with @%s", disabled, noUPN, alt, e.AltSuffix)
			}
		})
	}
}

// A user moved to another OU after its creation is read at its new place;
// a read of only the OU it left does not see it.
func TestSambaMovedUser(t *testing.T) {
	e := testenv.Samba(t)
	if e.MovedDN == "" {
		t.Fatal("the test environment names no moved user (UPNSYNC_TEST_SAMBA_MOVED_DN)")
	}
	o := sambaOptions(e)
	o.Bases = []string{"OU=Finance,OU=Berlin,OU=People," + e.Base}
	people, _, err := readAll(t, open(t, o))
	if err != nil {
		t.Fatal(err)
	}
	var moved *upnsync.Person
	for _, p := range people {
		if sameDN(p.DN, e.MovedDN) {
			moved = &p
		}
	}
	if moved == nil {
		t.Fatalf("%s not read from its new OU (%d people there)", e.MovedDN, len(people))
	}
	o.Bases = []string{"OU=Sales,OU=Amsterdam,OU=People," + e.Base}
	old, _, err := readAll(t, open(t, o))
	if err != nil {
		t.Fatal(err)
	}
	if len(old) == 0 {
		t.Fatal("the OU the user left reads as empty")
	}
	if _, ok := old[moved.GUID]; ok {
		t.Errorf("%s (GUID %s) still read in the OU it left", moved.SAMAccountName, moved.GUID)
	}
}

// A read over two OUs in one run is the two reads of each OU together.
func TestSambaTwoBasesReadEachOnce(t *testing.T) {
	e := testenv.Samba(t)
	a, b := "OU=Berlin,OU=People,"+e.Base, "OU=Toronto Office,OU=People,"+e.Base
	read := func(bases ...string) (map[string]upnsync.Person, upnsync.ReadResult) {
		o := sambaOptions(e)
		o.Bases = bases
		people, res, err := readAll(t, open(t, o))
		if err != nil || !res.Complete {
			t.Fatalf("read %q: %v", bases, err)
		}
		return people, res
	}
	both, res := read(a, b)
	onlyA, _ := read(a)
	onlyB, _ := read(b)
	if len(onlyA) == 0 || len(onlyB) == 0 || len(both) != len(onlyA)+len(onlyB) {
		t.Fatalf("both OUs: %d people; each: %d and %d", len(both), len(onlyA), len(onlyB))
	}
	for g := range onlyA {
		if _, ok := both[g]; !ok {
			t.Errorf("GUID %s of %s missing from the read of both", g, a)
		}
	}
	if len(res.Bases) != 2 || res.Bases[0].Entries != len(onlyA) || res.Bases[1].Entries != len(onlyB) {
		t.Errorf("per-base counts %+v, want %d and %d", res.Bases, len(onlyA), len(onlyB))
	}
}

// Kerberos binds against Samba's KDC: the keys of a keytab (as the named
// principal, or as the keytab's first one), and a credential cache made by
// kinit from the same keytab, over ldaps:// and StartTLS.
func TestSambaKerberosBind(t *testing.T) {
	e := testenv.Samba(t)
	kerberos := func(tr string) directory.Options {
		o := sambaOptions(e)
		o.Login, o.Password = "", ""
		o.Krb5Conf = e.Krb5Conf
		if tr == "starttls" {
			o.URL, o.StartTLS = e.URL, true
		}
		return o
	}
	check := func(t *testing.T, o directory.Options) {
		t.Helper()
		people, res, err := readAll(t, open(t, o))
		if err != nil || !res.Complete || len(people) < e.Users {
			t.Fatalf("read with %s: %v (complete %v, %d people)", o, err, res.Complete, len(people))
		}
	}
	for _, tr := range []string{"ldaps", "starttls"} {
		t.Run(tr+"/keytab", func(t *testing.T) {
			o := kerberos(tr)
			o.KerberosKeytab, o.Login = e.Keytab, e.Principal
			check(t, o)
		})
		t.Run(tr+"/keytab-first-principal", func(t *testing.T) {
			o := kerberos(tr)
			o.KerberosKeytab = e.Keytab
			check(t, o)
		})
	}
	t.Run("ccache", func(t *testing.T) {
		cache := filepath.Join(t.TempDir(), "krb5cc")
		cmd := exec.Command("kinit", "-k", "-t", e.Keytab, "-c", cache, e.Principal)
		cmd.Env = append(os.Environ(), "KRB5_CONFIG="+e.Krb5Conf)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kinit: %v\n%s", err, out)
		}
		o := kerberos("ldaps")
		o.KerberosCCache = cache
		check(t, o)
	})
}

// A Kerberos bind that cannot work says what failed and what to check, in
// one line, without key material.
func TestSambaKerberosErrors(t *testing.T) {
	e := testenv.Samba(t)
	dir := t.TempDir()
	notKeytab := filepath.Join(dir, "not.keytab")
	if err := os.WriteFile(notKeytab, []byte("not a keytab"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		set  func(*directory.Options)
		want string
	}{
		{"unknown principal", func(o *directory.Options) {
			o.KerberosKeytab, o.Login = e.Keytab, "nobody@"+e.Realm
		}, "Kerberos bind to ldaps://127.0.0.1 as nobody@" + e.Realm + " (keytab " + e.Keytab + ") failed: the KDC of " + e.Realm + " does not know nobody@" + e.Realm + ": check --login"},
		{"not a keytab", func(o *directory.Options) { o.KerberosKeytab = notKeytab }, "cannot read the keytab " + notKeytab},
		{"no such krb5.conf", func(o *directory.Options) {
			o.KerberosKeytab, o.Krb5Conf = e.Keytab, filepath.Join(dir, "krb5.conf")
		}, "give one with --krb5-conf FILE"},
		{"unknown service principal", func(o *directory.Options) {
			o.KerberosKeytab, o.URL = e.Keytab, "ldaps://localhost"
		}, "ldap/localhost"},
		{"no ccache", func(o *directory.Options) { o.KerberosCCache = filepath.Join(dir, "none") }, "run kinit -c"},
		{"plain ldap", func(o *directory.Options) { o.KerberosKeytab, o.URL = e.Keytab, e.URL }, "use ldaps:// or --start-tls"},
		{"password too", func(o *directory.Options) { o.KerberosKeytab, o.Password = e.Keytab, "x" }, "uses no password"},
		{"integrated elsewhere", func(o *directory.Options) { o.IntegratedAuth = true }, "Windows only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := sambaOptions(e)
			o.Login, o.Password, o.Krb5Conf = "", "", e.Krb5Conf
			tt.set(&o)
			d, err := directory.Open(o)
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q does not contain %q (or is not one line)", msg, tt.want)
			}
		})
	}
}

// NTLM binds (SASL GSS-SPNEGO with raw NTLM messages) with DOMAIN\name
// and with a UPN, over ldaps:// and StartTLS; a wrong password is named as
// such.
func TestSambaNTLMBind(t *testing.T) {
	e := testenv.Samba(t)
	user := strings.SplitN(e.BindDN, "@", 2)[0]
	for _, tr := range []string{"ldaps", "starttls"} {
		for _, login := range []string{e.NetBIOS + `\` + user, e.BindDN} {
			t.Run(tr+"/"+login, func(t *testing.T) {
				o := sambaOptions(e)
				o.NTLM, o.Login = true, login
				if tr == "starttls" {
					o.URL, o.StartTLS = e.URL, true
				}
				people, res, err := readAll(t, open(t, o))
				if err != nil || !res.Complete || len(people) < e.Users {
					t.Fatalf("read: %v (complete %v, %d people)", err, res.Complete, len(people))
				}
			})
		}
	}
	// Unpaged: one search, its entries taken out like a page's.
	t.Run("unpaged", func(t *testing.T) {
		o := sambaOptions(e)
		o.NTLM, o.Login, o.PageSize = true, e.NetBIOS+`\`+user, 0
		people, res, err := readAll(t, open(t, o))
		if err != nil || !res.Complete || len(people) < e.Users {
			t.Fatalf("read: %v (complete %v, %d people)", err, res.Complete, len(people))
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		o := sambaOptions(e)
		o.NTLM, o.Login, o.Password = true, e.NetBIOS+`\`+user, "Wr0ng-Passw0rd"
		d, err := directory.Open(o)
		if err == nil {
			d.Close()
			t.Fatal("Open succeeded with a wrong password")
		}
		if msg := err.Error(); !strings.Contains(msg, "wrong user name or password") || strings.Contains(msg, "Wr0ng-Passw0rd") {
			t.Fatalf("error %q", msg)
		}
	})
}

// The Global Catalog (3268, 3269) serves the same users with the same
// objectGUIDs, UPNs and disabled states as the domain's own port.
func TestSambaGlobalCatalogRead(t *testing.T) {
	e := testenv.Samba(t)
	if e.GCSURL == "" || e.GCURL == "" {
		t.Fatal("the test environment names no Global Catalog URL (UPNSYNC_TEST_SAMBA_GC_URL, _GCS_URL)")
	}
	domain, _, err := readAll(t, open(t, sambaOptions(e)))
	if err != nil {
		t.Fatal(err)
	}
	domain = withoutScratch(domain, func(p upnsync.Person) string { return p.DN })
	for _, tr := range []string{"ldaps", "starttls"} {
		t.Run(tr, func(t *testing.T) {
			o := sambaOptions(e)
			o.URL = e.GCSURL
			if tr == "starttls" {
				o.URL, o.StartTLS = e.GCURL, true
			}
			gc, res, err := readAll(t, open(t, o))
			if err != nil || !res.Complete {
				t.Fatalf("read from the Global Catalog: %v", err)
			}
			gc = withoutScratch(gc, func(p upnsync.Person) string { return p.DN })
			if len(gc) != len(domain) {
				t.Errorf("the Global Catalog has %d users, the domain %d", len(gc), len(domain))
			}
			for g, p := range domain {
				q, ok := gc[g]
				if !ok {
					t.Errorf("%s (GUID %s) missing from the Global Catalog", p.DN, g)
					continue
				}
				if q.UPN != p.UPN || q.SAMAccountName != p.SAMAccountName || q.Disabled != p.Disabled || !sameDN(q.DN, p.DN) {
					t.Errorf("GUID %s: Global Catalog %+v, domain %+v", g, q, p)
				}
			}
		})
	}
}

// withoutScratch leaves out the users of OUs named scratch-*: tests of
// other packages (cmd/upnsync's incremental runs) create and delete them in
// the same DC while this package's tests run.
func withoutScratch[T any](m map[string]T, dn func(T) string) map[string]T {
	out := make(map[string]T, len(m))
	for k, v := range m {
		if !strings.Contains(strings.ToLower(dn(v)), "ou=scratch-") {
			out[k] = v
		}
	}
	return out
}
