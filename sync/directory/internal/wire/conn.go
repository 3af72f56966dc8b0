package wire

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/Azure/go-ntlmssp"
	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// startTLSOID is the StartTLS extended operation (RFC 4511, section 4.14).
const startTLSOID = "1.3.6.1.4.1.1466.20037"

// readBuffer is the size of the socket reader's buffer: a few dozen entries
// per read system call.
const readBuffer = 64 << 10

// Conn is one LDAP connection that upnsync reads with its own decoder. It
// does one thing at a time: a request, then its responses. It is not safe
// for concurrent use, except Close, which may be called from another
// goroutine to interrupt a read.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	timeout time.Duration
	lastID  int64
	hdr     [6]byte
}

// Dial connects to addr (host:port). With tlsConfig it speaks TLS from the
// first byte (ldaps://). timeout bounds the connection and the handshake.
// resolver looks up the host name (nil: the system's). Errors are those
// of net and crypto/tls, for the caller to explain.
func Dial(ctx context.Context, addr string, tlsConfig *tls.Config, timeout time.Duration, resolver *net.Resolver) (*Conn, error) {
	d := net.Dialer{Timeout: timeout, Resolver: resolver}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, timeout: timeout}
	if tlsConfig != nil {
		if err := c.handshake(ctx, tlsConfig); err != nil {
			nc.Close()
			return nil, err
		}
	}
	c.r = bufio.NewReaderSize(c.nc, readBuffer)
	return c, nil
}

// NewConn reads and writes LDAP on an established connection (after any
// TLS and bind: tests use it on a byte stream).
func NewConn(nc net.Conn, timeout time.Duration) *Conn {
	return &Conn{nc: nc, r: bufio.NewReaderSize(nc, readBuffer), timeout: timeout}
}

func (c *Conn) handshake(ctx context.Context, cfg *tls.Config) error {
	tc := tls.Client(c.nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return err
	}
	c.nc = tc
	return nil
}

// Close ends the connection (with an unbind when it is still usable).
func (c *Conn) Close() error {
	if c == nil || c.nc == nil {
		return nil
	}
	return c.nc.Close()
}

// Unbind tells the server the client is done, then closes the connection.
func (c *Conn) Unbind() error {
	pkt := c.envelope()
	pkt.AppendChild(ber.Encode(ber.ClassApplication, ber.TypePrimitive, ldap.ApplicationUnbindRequest, nil, "Unbind"))
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(pkt.Bytes())
	return c.nc.Close()
}

// TLSConnectionState reports the TLS state, if the connection uses TLS.
func (c *Conn) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := c.nc.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

func (c *Conn) envelope() *ber.Packet {
	c.lastID++
	pkt := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	pkt.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.lastID, "MessageID"))
	return pkt
}

func (c *Conn) send(pkt *ber.Packet) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return err
	}
	_, err := c.nc.Write(pkt.Bytes())
	return err
}

// SetReadDeadline bounds the reads that follow.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// ReadMessage reads the next LDAPMessage from the connection and appends
// its content (the SEQUENCE's content, for ParseMessage) to buf.
func (c *Conn) ReadMessage(buf []byte) ([]byte, error) {
	return readMessage(c.r, buf, c.hdr[:])
}

// readMessage is ReadMessage on any byte stream.
func readMessage(r *bufio.Reader, buf, hdr []byte) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return buf, err // io.EOF at a message boundary: the caller decides
	}
	if tag != tagSequence {
		return buf, malformed("message starts with tag 0x%02x, want a SEQUENCE (0x30)", tag)
	}
	first, err := r.ReadByte()
	if err != nil {
		return buf, unexpectedEOF(err)
	}
	hdr = append(hdr[:0], first)
	if first >= 0x80 && first != 0x80 {
		k := int(first & 0x7f)
		if k > 4 {
			return buf, malformed("length of %d bytes", k)
		}
		for i := 0; i < k; i++ {
			b, err := r.ReadByte()
			if err != nil {
				return buf, unexpectedEOF(err)
			}
			hdr = append(hdr, b)
		}
	}
	n, _, err := length(hdr)
	if err != nil {
		return buf, err
	}
	start := len(buf)
	if cap(buf)-start < n {
		grown := make([]byte, start, max(2*cap(buf), start+n))
		copy(grown, buf)
		buf = grown
	}
	buf = buf[:start+n]
	if _, err := io.ReadFull(r, buf[start:]); err != nil {
		return buf[:start], unexpectedEOF(err)
	}
	return buf, nil
}

// unexpectedEOF turns an end of stream inside a message into
// io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// roundTrip sends a request and reads its single response, which must
// carry tag want. Errors of the server come back as *ldap.Error.
func (c *Conn) roundTrip(pkt *ber.Packet, want byte, what string) (Message, []byte, error) {
	id := c.lastID
	if err := c.send(pkt); err != nil {
		return Message{}, nil, err
	}
	if err := c.nc.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return Message{}, nil, err
	}
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		raw, err := c.ReadMessage(nil)
		if err != nil {
			return Message{}, nil, err
		}
		m, err := ParseMessage(raw)
		if err != nil {
			return m, raw, err
		}
		if m.ID == 0 && m.Tag == TagExtendedResponse {
			return m, raw, Notice(m)
		}
		if m.ID != id || m.Tag != want {
			return m, raw, malformed("%s: response with id %d and tag 0x%02x to request %d", what, m.ID, m.Tag, id)
		}
		return m, raw, nil
	}
}

// StartTLS upgrades the connection to TLS (ldap:// with StartTLS). The
// server's refusal is an *ldap.Error; a failed handshake is crypto/tls's
// error.
func (c *Conn) StartTLS(ctx context.Context, cfg *tls.Config) error {
	pkt := c.envelope()
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationExtendedRequest, nil, "Start TLS")
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, startTLSOID, "TLS Extended Command"))
	pkt.AppendChild(req)
	m, _, err := c.roundTrip(pkt, TagExtendedResponse, "StartTLS")
	if err != nil {
		return err
	}
	if err := resultError(m.Op); err != nil {
		return err
	}
	if c.r.Buffered() > 0 {
		return malformed("%d bytes after the StartTLS response, before the TLS handshake", c.r.Buffered())
	}
	if err := c.handshake(ctx, cfg); err != nil {
		return err
	}
	c.r.Reset(c.nc)
	return nil
}

// Bind makes a simple bind. A refusal is an *ldap.Error (49: invalid
// credentials, ...). The password never appears in an error.
func (c *Conn) Bind(name, password string) error {
	if name == "" || password == "" {
		// An empty password would be an unauthenticated bind, which AD
		// answers with success: never send one.
		return ldap.NewError(ldap.ErrorEmptyPassword, errors.New("ldap: empty name or password not allowed for a simple bind"))
	}
	pkt := c.envelope()
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationBindRequest, nil, "Bind Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, name, "User Name"))
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, password, "Password"))
	pkt.AppendChild(req)
	m, _, err := c.roundTrip(pkt, TagBindResponse, "bind")
	if err != nil {
		return err
	}
	return resultError(m.Op)
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

// SearchRequest is a paged subtree search, encoded once and sent once per
// page with the previous page's cookie.
type SearchRequest struct {
	Base     string
	Filter   string
	Attrs    []string
	PageSize uint32
	// Controls are sent with every page besides the paging control.
	Controls []ldap.Control

	filter *ber.Packet
}

// Compile checks the filter. It is done once per search, not per page.
func (s *SearchRequest) Compile() error {
	f, err := ldap.CompileFilter(s.Filter)
	if err != nil {
		return err
	}
	s.filter = f
	return nil
}

// Search sends the request for one page and returns its message id.
func (c *Conn) Search(s *SearchRequest, cookie []byte) (int64, error) {
	if s.filter == nil {
		if err := s.Compile(); err != nil {
			return 0, err
		}
	}
	pkt := c.envelope()
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchRequest, nil, "Search Request")
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s.Base, "Base DN"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldap.ScopeWholeSubtree), "Scope"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(ldap.NeverDerefAliases), "Deref Aliases"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "Size Limit"))
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, "Time Limit"))
	req.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, "Types Only"))
	req.AppendChild(s.filter)
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range s.Attrs {
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
	}
	req.AppendChild(attrs)
	pkt.AppendChild(req)

	paging := ldap.NewControlPaging(s.PageSize)
	paging.SetCookie(cookie)
	ctrls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
	ctrls.AppendChild(paging.Encode())
	for _, c := range s.Controls {
		ctrls.AppendChild(c.Encode())
	}
	pkt.AppendChild(ctrls)
	if err := c.send(pkt); err != nil {
		return 0, err
	}
	return c.lastID, nil
}

// String describes the connection's peer (for debugging, never with
// credentials).
func (c *Conn) String() string {
	return fmt.Sprintf("wire.Conn(%s)", c.nc.RemoteAddr())
}

// tagServerSaslCreds is the context tag [7] of a BindResponse's
// serverSaslCreds (RFC 4511 4.2.2).
const tagServerSaslCreds = 0x87

// SASLBind sends one SASL bind request of mechanism mech with the
// credentials cred (none when nil) and returns the server's credentials.
// inProgress is true when the server answered saslBindInProgress (14) and
// waits for the next step; any other refusal is an *ldap.Error. The
// credentials never appear in an error.
func (c *Conn) SASLBind(mech string, cred []byte) (serverCred []byte, inProgress bool, err error) {
	pkt := c.envelope()
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationBindRequest, nil, "Bind Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "User Name"))
	auth := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, "", "authentication")
	auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, mech, "SASL Mech"))
	if cred != nil {
		auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(cred), "Credentials"))
	}
	req.AppendChild(auth)
	pkt.AppendChild(req)
	m, _, err := c.roundTrip(pkt, TagBindResponse, "SASL bind")
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
// messages (negotiate, the server's challenge, authenticate), which
// Windows's Negotiate package and Samba both accept. No signing or sealing
// is negotiated: use it over TLS. login is DOMAIN\name or a UPN. A refusal
// is an *ldap.Error; the password never appears in an error.
func (c *Conn) NTLMBind(login, password string) error {
	if login == "" || password == "" {
		return ldap.NewError(ldap.ErrorEmptyPassword, errors.New("ldap: empty name or password not allowed for an NTLM bind"))
	}
	neg, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return fmt.Errorf("NTLM negotiate message: %v", err)
	}
	challenge, more, err := c.SASLBind("GSS-SPNEGO", neg)
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
	_, more, err = c.SASLBind("GSS-SPNEGO", auth)
	if err == nil && more {
		err = malformed("NTLM bind: the server asked for more after the authenticate message")
	}
	return err
}

// NetConn hands over the connection (TLS included) for another LDAP
// client to go on with, once nothing is left unread: after a bind.
func (c *Conn) NetConn() (net.Conn, error) {
	if n := c.r.Buffered(); n > 0 {
		return nil, malformed("%d unread bytes on the connection", n)
	}
	return c.nc, nil
}
