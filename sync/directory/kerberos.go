package directory

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldap/v3/gssapi"
	"github.com/jcmturner/gokrb5/v8/client"
	krb5config "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

// Kerberos binds (SASL GSSAPI, RFC 4752) with go-ldap's gssapi package:
// keys from a keytab (--kerberos-keytab), tickets from a credential cache
// (--kerberos-ccache, as kinit leaves them), or, on Windows, the account
// the process runs as (--integrated-auth, SSPI). No password is stored
// anywhere. The SASL layer negotiates no security layer of its own, so the
// connection must be TLS (ldaps:// or StartTLS), as for a password.

// kerberos reports whether the options ask for a Kerberos bind.
func (o Options) kerberos() bool {
	return o.KerberosKeytab != "" || o.KerberosCCache != "" || o.IntegratedAuth
}

// authName says how the reader binds, for messages: never a secret.
func (o Options) authName() string {
	switch {
	case o.IntegratedAuth:
		return "integrated authentication (the account upnsync runs as)"
	case o.KerberosKeytab != "":
		who := o.Login
		if who == "" {
			who = "the keytab's first principal"
		}
		return fmt.Sprintf("Kerberos as %s (keytab %s)", who, o.KerberosKeytab)
	case o.KerberosCCache != "":
		return fmt.Sprintf("Kerberos (credential cache %s)", o.KerberosCCache)
	}
	return `"` + o.Login + `"`
}

// checkKerberos refuses contradictory Kerberos options before anything is
// sent.
func checkKerberos(o Options) error {
	n := 0
	for _, set := range []bool{o.KerberosKeytab != "", o.KerberosCCache != "", o.IntegratedAuth} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return errors.New("--kerberos-keytab, --kerberos-ccache and --integrated-auth exclude each other: give one of them")
	case n > 0 && o.NTLM:
		return errors.New("--ntlm and a Kerberos bind exclude each other: give one of them")
	case o.NTLM && o.Anonymous:
		return errors.New("--ntlm and --anonymous exclude each other: give one of them")
	case n == 0:
		if o.Krb5Conf != "" {
			return errors.New("--krb5-conf is for Kerberos binds: give --kerberos-keytab FILE or --kerberos-ccache FILE too")
		}
		return nil
	case o.Anonymous:
		return errors.New("--anonymous and a Kerberos bind exclude each other: give one of them")
	case o.Password != "":
		return errors.New("a Kerberos bind uses no password: leave out --password-file, --password and UPNSYNC_PASSWORD")
	case o.IntegratedAuth && o.Login != "":
		return errors.New("--integrated-auth binds as the account upnsync runs as: leave out --login")
	case o.KerberosCCache != "" && o.Login != "":
		return errors.New("--kerberos-ccache binds as the principal of the credential cache: leave out --login (klist shows it)")
	case o.KerberosKeytab != "" && strings.Contains(o.Login, "="):
		return fmt.Errorf("--login \"%s\" is a DN: a Kerberos bind needs the principal, such as svc-upnsync@CORP.EXAMPLE.COM", o.Login)
	}
	return nil
}

// krb5Conf is the krb5.conf to use: --krb5-conf, else $KRB5_CONFIG, else
// the system's.
func (o Options) krb5Conf() string {
	if o.Krb5Conf != "" {
		return o.Krb5Conf
	}
	if p := os.Getenv("KRB5_CONFIG"); p != "" {
		return strings.Split(p, string(os.PathListSeparator))[0]
	}
	return "/etc/krb5.conf"
}

// spn is the directory's service principal name: ldap/HOST, the host of
// the URL as given (AD registers ldap/ for the DC's names).
func (d *ldapDirectory) spn() string { return "ldap/" + d.host }

// gssapiClient makes the GSSAPI client of one bind. Its errors explain
// what to check; they never hold key material.
func (d *ldapDirectory) gssapiClient() (ldap.GSSAPIClient, error) {
	o := d.opts
	if o.IntegratedAuth {
		c, err := newSSPIClient()
		if err != nil {
			return nil, newError(err, "integrated authentication: %v", err)
		}
		return c, nil
	}
	conf := o.krb5Conf()
	if _, err := os.Stat(conf); err != nil {
		return nil, newError(err, "cannot read the Kerberos configuration %s (%v): give one with --krb5-conf FILE (a [libdefaults] default_realm and the realm's kdc)", conf, unwrapPath(err))
	}
	settings := []func(*client.Settings){client.DisablePAFXFAST(true)}
	if o.KerberosCCache != "" {
		if _, err := os.Stat(o.KerberosCCache); err != nil {
			return nil, newError(err, "cannot read the Kerberos credential cache %s (%v): run kinit -c %s PRINCIPAL first, or give --kerberos-keytab", o.KerberosCCache, unwrapPath(err), o.KerberosCCache)
		}
		c, err := gssapi.NewClientFromCCache(o.KerberosCCache, conf, settings...)
		if err != nil {
			return nil, newError(err, "cannot use the Kerberos credential cache %s with %s: %s; renew it with kinit (klist shows its tickets)", o.KerberosCCache, conf, krbText(err.Error()))
		}
		if cc, err := credentials.LoadCCache(o.KerberosCCache); err == nil {
			d.principalName = cc.GetClientPrincipalName().PrincipalNameString() + "@" + cc.GetClientRealm()
		}
		return c, nil
	}
	user, realm, err := d.principal(conf)
	if err != nil {
		return nil, err
	}
	d.principalName = user + "@" + realm
	c, err := gssapi.NewClientWithKeytab(user, realm, o.KerberosKeytab, conf, settings...)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) || strings.Contains(err.Error(), "keytab") {
			return nil, keytabError(o.KerberosKeytab, err)
		}
		return nil, newError(err, "cannot read the Kerberos configuration %s: %s; check it or give another with --krb5-conf", conf, krbText(err.Error()))
	}
	return c, nil
}

// principal is the user and realm a keytab bind is made as: --login as
// NAME@REALM (a realm in lower case is upper-cased), as DOMAIN\NAME or
// NAME alone (in krb5.conf's default_realm: a NetBIOS domain name is not
// a realm), else the keytab's first principal.
func (d *ldapDirectory) principal(conf string) (user, realm string, err error) {
	o := d.opts
	login := strings.TrimSpace(o.Login)
	if login == "" {
		kt, err := keytab.Load(o.KerberosKeytab)
		if err != nil {
			return "", "", keytabError(o.KerberosKeytab, err)
		}
		if len(kt.Entries) == 0 {
			return "", "", newError(nil, "the keytab %s holds no keys: export one with ktpass (Windows) or samba-tool domain exportkeytab --principal=NAME", o.KerberosKeytab)
		}
		p := kt.Entries[0].Principal
		return strings.Join(p.Components, "/"), p.Realm, nil
	}
	if i := strings.LastIndex(login, "@"); i >= 0 {
		if login[:i] == "" || login[i+1:] == "" {
			return "", "", newError(nil, "--login %s is not a Kerberos principal: write it as NAME@REALM, such as svc-upnsync@CORP.EXAMPLE.COM", login)
		}
		return login[:i], strings.ToUpper(login[i+1:]), nil
	}
	name := login
	if i := strings.LastIndex(login, `\`); i >= 0 {
		name = login[i+1:]
	}
	if name == "" {
		return "", "", newError(nil, "--login %s names no account: write it as NAME@REALM, such as svc-upnsync@CORP.EXAMPLE.COM", login)
	}
	cfg, err := krb5config.Load(conf)
	if err != nil {
		return "", "", newError(err, "cannot read the Kerberos configuration %s: %s; check it or give another with --krb5-conf", conf, krbText(err.Error()))
	}
	realm = cfg.LibDefaults.DefaultRealm
	if realm == "" {
		return "", "", newError(nil, "--login %s names no Kerberos realm and %s has no default_realm: write --login %s@REALM, the realm being the domain's DNS name in capitals (such as %s@CORP.EXAMPLE.COM)",
			login, conf, name, name)
	}
	if name != login {
		d.log.Info("Kerberos: --login in the DOMAIN\\NAME form is bound as NAME in krb5.conf's default realm",
			"login", login, "principal", name+"@"+realm, "krb5_conf", conf)
	}
	return name, realm, nil
}

func keytabError(path string, err error) error {
	return newError(err, "cannot read the keytab %s: %v; give a keytab file (klist -k %s lists its principals)", path, unwrapPath(err), path)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// kerberosBind binds a go-ldap connection with Kerberos.
func (d *ldapDirectory) kerberosBind(conn *ldap.Conn) error {
	c, err := d.gssapiClient()
	if err != nil {
		return err
	}
	if kc, ok := c.(*gssapi.Client); ok {
		defer kc.Close()
	}
	err = conn.GSSAPIBind(c, d.spn(), "")
	if err != nil {
		var le *ldap.Error
		if !errors.As(err, &le) {
			err = d.explainKerberos(err, d.principalName)
		}
	}
	return d.kerberosBindError(err)
}

// kerberosBindError explains a failed Kerberos bind; nil stays nil.
func (d *ldapDirectory) kerberosBindError(err error) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	var ke *kerberosError
	if errors.As(err, &ke) {
		return newError(err, "Kerberos bind to %s %s failed: %s", d.url, d.bindsAs(), ke.msg)
	}
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
		return newError(err, "%s refused the Kerberos bind %s (%s: %s)", d.url, d.bindsAs(), resultName(le.ResultCode), ldapErrText(err))
	}
	return d.bindError(err)
}

// bindsAs says who a Kerberos bind is made as: "as NAME@REALM (keytab
// FILE)", for messages; never a secret.
func (d *ldapDirectory) bindsAs() string {
	switch {
	case d.opts.IntegratedAuth:
		return "with integrated authentication (the account upnsync runs as)"
	case d.opts.KerberosKeytab != "" && d.principalName != "":
		return fmt.Sprintf("as %s (keytab %s)", d.principalName, d.opts.KerberosKeytab)
	case d.opts.KerberosCCache != "" && d.principalName != "":
		return fmt.Sprintf("as %s (credential cache %s)", d.principalName, d.opts.KerberosCCache)
	}
	return "with " + d.opts.authName()
}
