package wire

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/Azure/go-ntlmssp"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// What the connection says before go-ldap starts on it. Two steps cannot
// go through go-ldap:
//   - StartTLS: go-ldap's runs the TLS handshake with no deadline and
//     flattens a certificate error into text, and the Tap must sit above
//     TLS (it frames LDAP messages, not TLS records);
//   - an NTLM bind: go-ldap's NTLMBind is AD's Sicily bind, which Samba
//     does not speak (it closes the connection); a SASL GSS-SPNEGO bind
//     carrying raw NTLMSSP messages works with Samba and with Windows's
//     Negotiate package.
// They run on the Tap before go-ldap reads from it, one request and its
// response at a time, framed with the same bounds as everything else.

// startTLSOID is the StartTLS extended operation (RFC 4511, section 4.14).
const startTLSOID = "1.3.6.1.4.1.1466.20037"

// tagServerSaslCreds is the context tag [7] of a BindResponse's
// serverSaslCreds (RFC 4511 4.2.2).
const tagServerSaslCreds = 0x87

// RoundTrip sends one request (a protocolOp the Tap numbers) and reads its
// response, which must carry tag want; what names the request in errors.
// Only before go-ldap starts on the Tap. The server's refusals come back
// in the Message for the caller to read.
func (t *Tap) RoundTrip(op *ber.Packet, want byte, what string) (Message, error) {
	t.lastID++
	pkt := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	pkt.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, t.lastID, "MessageID"))
	pkt.AppendChild(op)
	if _, err := t.Write(pkt.Bytes()); err != nil {
		return Message{}, err
	}
	raw, err := readMessage(t.r, nil)
	if err != nil {
		return Message{}, err
	}
	if err := CheckForGoLDAP(raw); err != nil {
		return Message{}, err
	}
	m, err := ParseMessage(raw)
	if err != nil {
		return m, err
	}
	if m.ID == 0 && m.Tag == TagExtendedResponse {
		return m, Notice(m)
	}
	if m.ID != t.lastID || m.Tag != want {
		return m, malformed("%s: response with id %d and tag 0x%02x to request %d", what, m.ID, m.Tag, t.lastID)
	}
	t.mu.Lock()
	delete(t.sent, m.ID)
	t.mu.Unlock()
	return m, nil
}

// StartTLS upgrades the connection to TLS (ldap:// with StartTLS); the
// Tap then reads and writes through TLS. The server's refusal is an
// *ldap.Error; a failed handshake is crypto/tls's error.
func (t *Tap) StartTLS(ctx context.Context, cfg *tls.Config) error {
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationExtendedRequest, nil, "Start TLS")
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, startTLSOID, "TLS Extended Command"))
	m, err := t.RoundTrip(req, TagExtendedResponse, "StartTLS")
	if err != nil {
		return err
	}
	if err := resultError(m.Op); err != nil {
		return err
	}
	if n := t.r.Buffered(); n > 0 {
		return malformed("%d bytes after the StartTLS response, before the TLS handshake", n)
	}
	tc := tls.Client(t.nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	t.nc = tc
	t.r.Reset(tc)
	return nil
}

// SASLBind sends one SASL bind request of mechanism mech with the
// credentials cred (none when nil) and returns the server's credentials.
// inProgress is true when the server answered saslBindInProgress (14) and
// waits for the next step; any other refusal is an *ldap.Error. The
// credentials never appear in an error.
func (t *Tap) SASLBind(mech string, cred []byte) (serverCred []byte, inProgress bool, err error) {
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationBindRequest, nil, "Bind Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "User Name"))
	auth := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, "", "authentication")
	auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, mech, "SASL Mech"))
	if cred != nil {
		auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(cred), "Credentials"))
	}
	req.AppendChild(auth)
	m, err := t.RoundTrip(req, TagBindResponse, "SASL bind")
	if err != nil {
		return nil, false, err
	}
	r, err := ParseResult(m.Op)
	if err != nil {
		return nil, false, err
	}
	// After the LDAPResult's three components (and a referral): the
	// optional serverSaslCreds.
	rest := m.Op
	for i := 0; i < 3; i++ {
		if _, _, rest, err = element(rest); err != nil {
			return nil, false, err
		}
	}
	for len(rest) > 0 {
		tag, content, after, err := element(rest)
		if err != nil {
			return nil, false, err
		}
		if tag == tagServerSaslCreds {
			serverCred = content
		}
		rest = after
	}
	switch r.Code {
	case ldap.LDAPResultSuccess:
		return serverCred, false, nil
	case ldap.LDAPResultSaslBindInProgress:
		return serverCred, true, nil
	}
	return nil, false, r.Err()
}

// NTLMBind binds with NTLM: a SASL GSS-SPNEGO bind carrying raw NTLMSSP
// messages (negotiate, the server's challenge, authenticate). No signing
// or sealing is negotiated: use it over TLS. login is DOMAIN\name or a
// UPN. A refusal is an *ldap.Error; the password never appears in an
// error.
func (t *Tap) NTLMBind(login, password string) error {
	if login == "" || password == "" {
		return ldap.NewError(ldap.ErrorEmptyPassword, errors.New("ldap: empty name or password not allowed for an NTLM bind"))
	}
	neg, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return fmt.Errorf("NTLM negotiate message: %v", err)
	}
	challenge, more, err := t.SASLBind("GSS-SPNEGO", neg)
	if err != nil {
		return err
	}
	if !more || !bytes.HasPrefix(challenge, []byte("NTLMSSP\x00")) {
		return malformed("NTLM bind: the server answered the negotiate message without an NTLM challenge")
	}
	auth, err := ntlmssp.NewAuthenticateMessage(challenge, login, password, nil)
	if err != nil {
		return fmt.Errorf("NTLM authenticate message: %v", err)
	}
	_, more, err = t.SASLBind("GSS-SPNEGO", auth)
	if err == nil && more {
		err = malformed("NTLM bind: the server asked for more after the authenticate message")
	}
	return err
}

// resultError is nil for a successful LDAPResult and an *ldap.Error (as
// go-ldap reports it) otherwise.
func resultError(op []byte) error {
	r, err := ParseResult(op)
	if err != nil {
		return err
	}
	return r.Err()
}

// Err is nil for success, else the result as an *ldap.Error, the type the
// directory package explains to administrators.
func (r Result) Err() error {
	if r.Code == ldap.LDAPResultSuccess {
		return nil
	}
	return &ldap.Error{ResultCode: uint16(r.Code), MatchedDN: r.MatchedDN, Err: errors.New(r.Diagnostic)}
}

// Notice explains an unsolicited notification (message id 0): the server
// is about to close the connection.
func Notice(m Message) error {
	name, _ := ResponseName(m.Op)
	r, err := ParseResult(m.Op)
	if err != nil {
		return err
	}
	what := "the server sent an unsolicited notification " + name
	if name == NoticeOfDisconnection {
		what = "the server announced that it is closing the connection"
	}
	if r.Diagnostic != "" {
		what += ": " + r.Diagnostic
	}
	code := uint16(r.Code)
	if code == 0 {
		code = ldap.LDAPResultUnavailable
	}
	return &ldap.Error{ResultCode: code, Err: errors.New(what)}
}
