package testenv

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// SambaEnv describes the test Samba AD domain controller of
// scripts/testdirs.sh: the domain CORP.EXAMPLE.COM (NetBIOS CORP) on
// 127.0.0.1 at AD's own ports, with its KDC.
type SambaEnv struct {
	// URL is the plain ldap:// URL (for StartTLS); LDAPSURL the ldaps://
	// one; GCURL and GCSURL the Global Catalog's (3268, 3269).
	URL, LDAPSURL, GCURL, GCSURL string
	// CAFile is the PEM file of the test CA that signed the DC's certificate.
	CAFile string
	// Base is the domain's DN; Realm its Kerberos realm (the DNS domain in
	// capitals); NetBIOS its NetBIOS name; Host the DC's DNS name (its
	// certificate names it; tests dial 127.0.0.1, which it names too).
	Base, Realm, NetBIOS, Host string
	// BindDN is the domain's Administrator (a UPN) and Password its
	// password, read from PasswordFile.
	BindDN, Password, PasswordFile string
	// Users is the number of users loaded from LDIF (the file Samba was
	// loaded from); OctopusCSV the Octopus export for the same people, with
	// the objectGUIDs Samba assigned.
	Users      int
	LDIF       string
	OctopusCSV string
	// AltSuffix is the alternative UPN suffix some users have.
	AltSuffix string
	// MovedDN is where the user moved between OUs after its creation is now.
	MovedDN string
	// Krb5Conf is a krb5.conf for the test realm (KDC on 127.0.0.1);
	// Keytab holds the keys of Principal, an ordinary user account.
	Krb5Conf, Keytab, Principal string
	// ReaderDN is a least-privilege reader (an ordinary domain user, as
	// deployments bind), ReaderPassword its password, read from
	// ReaderPasswordFile; a deny ACE hides DeniedOU and everything under
	// it from that account (and from no other).
	ReaderDN, ReaderPassword, ReaderPasswordFile, DeniedOU string
}

// Variable names, as written to the env file by scripts/testdirs.sh.
const (
	VarSambaURL          = "UPNSYNC_TEST_SAMBA_LDAP_URL"
	VarSambaLDAPSURL     = "UPNSYNC_TEST_SAMBA_LDAPS_URL"
	VarSambaGCURL        = "UPNSYNC_TEST_SAMBA_GC_URL"
	VarSambaGCSURL       = "UPNSYNC_TEST_SAMBA_GCS_URL"
	VarSambaCAFile       = "UPNSYNC_TEST_SAMBA_CA_FILE"
	VarSambaBase         = "UPNSYNC_TEST_SAMBA_BASE"
	VarSambaRealm        = "UPNSYNC_TEST_SAMBA_REALM"
	VarSambaNetBIOS      = "UPNSYNC_TEST_SAMBA_NETBIOS"
	VarSambaHost         = "UPNSYNC_TEST_SAMBA_HOST"
	VarSambaBindDN       = "UPNSYNC_TEST_SAMBA_BIND_DN"
	VarSambaPasswordFile = "UPNSYNC_TEST_SAMBA_PASSWORD_FILE"
	VarSambaUsers        = "UPNSYNC_TEST_SAMBA_USERS"
	VarSambaLDIF         = "UPNSYNC_TEST_SAMBA_LDIF"
	VarSambaOctopusCSV   = "UPNSYNC_TEST_SAMBA_OCTOPUS_CSV"
	VarSambaAltSuffix    = "UPNSYNC_TEST_SAMBA_ALT_SUFFIX"
	VarSambaMovedDN      = "UPNSYNC_TEST_SAMBA_MOVED_DN"
	VarSambaKrb5Conf     = "UPNSYNC_TEST_SAMBA_KRB5_CONF"
	VarSambaKeytab       = "UPNSYNC_TEST_SAMBA_KEYTAB"
	VarSambaPrincipal    = "UPNSYNC_TEST_SAMBA_KRB_PRINCIPAL"
	VarSambaReaderDN     = "UPNSYNC_TEST_SAMBA_READER_DN"
	VarSambaReaderPWFile = "UPNSYNC_TEST_SAMBA_READER_PASSWORD_FILE"
	VarSambaDeniedOU     = "UPNSYNC_TEST_SAMBA_DENIED_OU"
)

const sambaHint = "start it with scripts/testdirs.sh start samba (its ports are fixed: one per network namespace; see scripts/testdirs.sh)"

// Samba returns the test Samba AD DC, or skips the test (fails it when
// CI=true) when none is configured or it does not answer.
func Samba(t testing.TB) SambaEnv {
	t.Helper()
	vars, src, err := settings()
	if err != nil {
		missing(t, "test servers: %v; %s", err, sambaHint)
	}
	if vars[VarSambaURL] == "" {
		missing(t, "no test Samba AD DC configured (%s unset, none in %s); %s", VarSambaURL, src, sambaHint)
	}
	e := SambaEnv{
		URL: vars[VarSambaURL], LDAPSURL: vars[VarSambaLDAPSURL], GCURL: vars[VarSambaGCURL], GCSURL: vars[VarSambaGCSURL],
		CAFile: vars[VarSambaCAFile], Base: vars[VarSambaBase], Realm: vars[VarSambaRealm], NetBIOS: vars[VarSambaNetBIOS],
		Host: vars[VarSambaHost], BindDN: vars[VarSambaBindDN], PasswordFile: vars[VarSambaPasswordFile],
		LDIF: vars[VarSambaLDIF], OctopusCSV: vars[VarSambaOctopusCSV], AltSuffix: vars[VarSambaAltSuffix],
		MovedDN: vars[VarSambaMovedDN], Krb5Conf: vars[VarSambaKrb5Conf], Keytab: vars[VarSambaKeytab],
		Principal: vars[VarSambaPrincipal],
	}
	for name, v := range map[string]string{VarSambaLDAPSURL: e.LDAPSURL, VarSambaCAFile: e.CAFile, VarSambaBase: e.Base,
		VarSambaRealm: e.Realm, VarSambaBindDN: e.BindDN, VarSambaPasswordFile: e.PasswordFile, VarSambaUsers: vars[VarSambaUsers],
		VarSambaOctopusCSV: e.OctopusCSV, VarSambaKrb5Conf: e.Krb5Conf, VarSambaKeytab: e.Keytab, VarSambaPrincipal: e.Principal} {
		if v == "" {
			missing(t, "test Samba settings from %s lack %s; %s", src, name, sambaHint)
		}
	}
	n, err := strconv.Atoi(vars[VarSambaUsers])
	if err != nil || n <= 0 {
		missing(t, "%s=%q (from %s) is not a count of users", VarSambaUsers, vars[VarSambaUsers], src)
	}
	e.Users = n
	pw, err := os.ReadFile(e.PasswordFile)
	if err != nil {
		missing(t, "cannot read the test Samba password file: %v; %s", err, sambaHint)
	}
	e.Password = strings.TrimRight(string(pw), "\r\n")
	if err := reachable(e.LDAPSURL); err != nil {
		missing(t, "the test Samba AD DC at %s does not answer (%v); %s", e.LDAPSURL, err, sambaHint)
	}
	e.ReaderDN, e.ReaderPasswordFile, e.DeniedOU = vars[VarSambaReaderDN], vars[VarSambaReaderPWFile], vars[VarSambaDeniedOU]
	return e
}

// SambaReader is Samba with its least-privilege reader, or skips the test
// (fails it when CI=true) when the env file names none (servers started by
// an older scripts/testdirs.sh: start them again).
func SambaReader(t testing.TB) SambaEnv {
	t.Helper()
	e := Samba(t)
	if e.ReaderDN == "" || e.ReaderPasswordFile == "" || e.DeniedOU == "" {
		missing(t, "the test Samba settings lack the least-privilege reader (%s, %s, %s); %s",
			VarSambaReaderDN, VarSambaReaderPWFile, VarSambaDeniedOU, sambaHint)
	}
	pw, err := os.ReadFile(e.ReaderPasswordFile)
	if err != nil {
		missing(t, "cannot read the test Samba reader's password file: %v; %s", err, sambaHint)
	}
	e.ReaderPassword = strings.TrimRight(string(pw), "\r\n")
	return e
}
