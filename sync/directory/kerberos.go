package directory

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldap/v3/gssapi"
	"github.com/jcmturner/gokrb5/v8/client"
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
	return fmt.Sprintf("%q", o.Login)
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
		return fmt.Errorf("--login %q is a DN: a Kerberos bind needs the principal, such as svc-upnsync@CORP.EXAMPLE.COM", o.Login)
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
			return nil, newError(err, "cannot use the Kerberos credential cache %s with %s: %v; renew it with kinit (klist shows its tickets)", o.KerberosCCache, conf, err)
		}
		return c, nil
	}
	user, realm := o.Login, ""
	if user == "" {
		kt, err := keytab.Load(o.KerberosKeytab)
		if err != nil {
			return nil, keytabError(o.KerberosKeytab, err)
		}
		if len(kt.Entries) == 0 {
			return nil, fmt.Errorf("the keytab %s holds no keys: export one with ktpass (Windows) or samba-tool domain exportkeytab --principal=NAME", o.KerberosKeytab)
		}
		p := kt.Entries[0].Principal
		user, realm = strings.Join(p.Components, "/"), p.Realm
	} else if i := strings.LastIndex(user, "@"); i >= 0 {
		user, realm = user[:i], strings.ToUpper(user[i+1:])
	}
	c, err := gssapi.NewClientWithKeytab(user, realm, o.KerberosKeytab, conf, settings...)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) || strings.Contains(err.Error(), "keytab") {
			return nil, keytabError(o.KerberosKeytab, err)
		}
		return nil, newError(err, "cannot read the Kerberos configuration %s: %v; check it or give another with --krb5-conf", conf, err)
	}
	return c, nil
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

// kerberosError is a failure on the client's side of a Kerberos bind
// (no ticket, a KDC's refusal), as opposed to the directory's answer.
type kerberosError struct{ err error }

func (e *kerberosError) Error() string { return e.err.Error() }
func (e *kerberosError) Unwrap() error { return e.err }

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
			err = &kerberosError{err}
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
		what := oneLine(ke.err.Error())
		hint := fmt.Sprintf("check the principal and its keys (klist -k), the KDC of the realm in %s, and that the directory's service principal %s exists (setspn -Q %s)", d.opts.krb5Conf(), d.spn(), d.spn())
		if d.opts.IntegratedAuth {
			hint = fmt.Sprintf("check that the account upnsync runs as is a domain account with a Kerberos ticket (klist) and that %s exists (setspn -Q %s)", d.spn(), d.spn())
		}
		return newError(err, "Kerberos bind to %s with %s failed: %s; %s", d.url, d.opts.authName(), what, hint)
	}
	var le *ldap.Error
	if errors.As(err, &le) && le.ResultCode != ldap.ErrorNetwork {
		return newError(err, "%s refused the Kerberos bind with %s (%s: %s)", d.url, d.opts.authName(), resultName(le.ResultCode), ldapErrText(err))
	}
	return d.bindError(err)
}
