package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/mapping"
	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory/internal/wire"
)

// A scripted LDAP server on loopback, for what a real one will not do on
// demand: drop a paging control, stall, cut a page in half, announce its
// shutdown, send garbage. It speaks BER through go-asn1-ber. The reader
// under test is the whole of it: go-ldap on the Tap, the bulk read's
// pipeline and decoder.

type search struct {
	id       int64
	base     string
	attrs    []string
	pageSize int64
	cookie   string
	paged    bool
	filter   string
	controls []string // OIDs
}

type fakeLDAP struct {
	t        *testing.T
	l        net.Listener
	login    string
	password string
	// onSearch answers the n-th search of a connection; false closes it.
	onSearch func(w *respWriter, s search, n int) bool

	mu       sync.Mutex
	searches []search
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startFake(t *testing.T, onSearch func(w *respWriter, s search, n int) bool) *fakeLDAP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen: %v", err)
	}
	f := &fakeLDAP{t: t, l: l, login: "cn=reader,dc=corp,dc=example,dc=com", password: "s3cret", onSearch: onSearch}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		l.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeLDAP) accept() {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer c.Close()
			f.serve(c)
		}()
	}
}

func (f *fakeLDAP) serve(c net.Conn) {
	w := &respWriter{c: c}
	n := 0
	for {
		req, err := ber.ReadPacket(c)
		if err != nil || len(req.Children) < 2 {
			return
		}
		id, _ := req.Children[0].Value.(int64)
		op := req.Children[1]
		w.id = id
		switch op.Tag {
		case ldap.ApplicationBindRequest:
			name, _ := op.Children[1].Value.(string)
			if name == f.login && op.Children[2].Data.String() == f.password {
				w.result(ldap.ApplicationBindResponse, 0, "", "")
			} else {
				w.result(ldap.ApplicationBindResponse, ldap.LDAPResultInvalidCredentials, "", "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563")
			}
		case ldap.ApplicationUnbindRequest:
			return
		case ldap.ApplicationSearchRequest:
			s := search{id: id}
			s.base, _ = op.Children[0].Value.(string)
			if f, err := ldap.DecompileFilter(op.Children[6]); err == nil {
				s.filter = f
			}
			for _, a := range op.Children[7].Children {
				s.attrs = append(s.attrs, a.Data.String())
			}
			if len(req.Children) > 2 {
				for _, ctrl := range req.Children[2].Children {
					s.controls = append(s.controls, ctrl.Children[0].Data.String())
					if ctrl.Children[0].Data.String() == ldap.ControlTypePaging {
						v := ber.DecodePacket(ctrl.Children[len(ctrl.Children)-1].Data.Bytes())
						s.paged = true
						s.pageSize, _ = v.Children[0].Value.(int64)
						s.cookie = v.Children[1].Data.String()
					}
				}
			}
			f.mu.Lock()
			f.searches = append(f.searches, s)
			f.mu.Unlock()
			if !f.onSearch(w, s, n) {
				return
			}
			n++
		default:
			f.t.Errorf("fake LDAP: unexpected request tag %d", op.Tag)
			return
		}
	}
}

func (f *fakeLDAP) url() string { return "ldap://" + f.l.Addr().String() }

func (f *fakeLDAP) recorded() []search {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]search(nil), f.searches...)
}

type respWriter struct {
	c  net.Conn
	id int64
}

func (w *respWriter) send(op *ber.Packet, controls ...*ber.Packet) {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, w.id, ""))
	p.AppendChild(op)
	if len(controls) > 0 {
		c := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
		for _, x := range controls {
			c.AppendChild(x)
		}
		p.AppendChild(c)
	}
	w.raw(p.Bytes())
}

func (w *respWriter) raw(b []byte) { _, _ = w.c.Write(b) }

func (w *respWriter) result(tag ber.Tag, code int, matched, diag string, controls ...*ber.Packet) {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, matched, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, ""))
	w.send(op, controls...)
}

// user sends the entry of user i as AD would.
func (w *respWriter) user(i int) {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, fakeDN(i), ""))
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	for _, a := range [][2]string{
		{"objectGUID", string(fakeGUID(i))},
		{"sAMAccountName", fmt.Sprintf("user%d", i)},
		{"userPrincipalName", fmt.Sprintf("user%d@corp.example.com", i)},
		{"userAccountControl", "512"},
	} {
		pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a[0], ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
		set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a[1], ""))
		pa.AppendChild(set)
		attrs.AppendChild(pa)
	}
	op.AppendChild(attrs)
	w.send(op)
}

func (w *respWriter) referral(uri string) {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultReference, nil, "")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, uri, ""))
	w.send(op)
}

// done closes a page; cookie "" ends the search.
func (w *respWriter) done(cookie string) {
	c := ldap.NewControlPaging(0)
	c.SetCookie([]byte(cookie))
	w.result(ldap.ApplicationSearchResultDone, 0, "", "", c.Encode())
}

func fakeDN(i int) string { return fmt.Sprintf("CN=User %d,OU=Staff,DC=corp,DC=example,DC=com", i) }

func fakeGUID(i int) []byte {
	g := make([]byte, 16)
	g[0], g[1], g[15] = byte(i), byte(i>>8), 0x42
	return g
}

// pages serves users in pages of size per page, the cookie being the
// number of the next user; extra runs before each page's entries.
func pages(total int, extra func(w *respWriter, s search, first int)) func(*respWriter, search, int) bool {
	return func(w *respWriter, s search, _ int) bool {
		first := 0
		fmt.Sscan(s.cookie, &first)
		if extra != nil {
			extra(w, s, first)
		}
		last := min(total, first+int(s.pageSize))
		for i := first; i < last; i++ {
			w.user(i)
		}
		next := ""
		if last < total {
			next = fmt.Sprint(last)
		}
		w.done(next)
		return true
	}
}

func (f *fakeLDAP) dir(t *testing.T, edit ...func(*Options)) *ldapDirectory {
	t.Helper()
	o := Options{URL: f.url(), Login: f.login, Password: f.password, AllowPlaintextBind: true,
		Bases: []string{"DC=corp,DC=example,DC=com"}, PageSize: 10, Timeout: 5 * time.Second}
	for _, e := range edit {
		e(&o)
	}
	d, err := newLDAP(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func collect(t *testing.T, d *ldapDirectory, ctx context.Context) ([]upnsync.Person, upnsync.ReadResult, error) {
	t.Helper()
	var got []upnsync.Person
	res, err := d.Read(ctx, func(p upnsync.Person) error { got = append(got, p); return nil })
	if err != nil {
		if res.Complete || res.Why != err.Error() {
			t.Errorf("failed read with result %+v", res)
		}
		if strings.Contains(err.Error(), "\n") || strings.HasSuffix(err.Error(), "EOF") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %q spans lines, ends in a bare EOF or shows the password", err)
		}
	}
	if res.Entries != len(got) {
		t.Errorf("Entries %d, delivered %d", res.Entries, len(got))
	}
	return got, res, err
}

func TestBulkReadPages(t *testing.T) {
	f := startFake(t, pages(35, func(w *respWriter, s search, first int) {
		if first == 10 {
			w.referral("ldap://dc2.corp.example.com/DC=DomainDnsZones,DC=corp,DC=example,DC=com")
			// An IntermediateResponse nobody asked for is ignored.
			w.send(ber.Encode(ber.ClassApplication, ber.TypeConstructed, 25, nil, ""))
		}
	}))
	d := f.dir(t)
	got, res, err := collect(t, d, context.Background())
	if err != nil || !res.Complete || res.Pages != 4 || res.Entries != 35 || res.Referrals != 1 || res.Why != "" {
		t.Fatalf("%+v, %v", res, err)
	}
	if len(res.Bases) != 1 || res.Bases[0].Entries != 35 || res.Bases[0].Pages != 4 || res.Bases[0].Referrals != 1 {
		t.Errorf("bases %+v", res.Bases)
	}
	for i, p := range got {
		g, _ := GUIDString(fakeGUID(i))
		want := upnsync.Person{DN: fakeDN(i), GUID: g, SAMAccountName: fmt.Sprintf("user%d", i),
			UPN: fmt.Sprintf("user%d@corp.example.com", i), Domain: "CORP", DNSDomain: "corp.example.com"}
		if p != want {
			t.Fatalf("person %d = %+v, want %+v", i, p, want)
		}
	}
	// Each page asks with the cookie of the one before, the page size and
	// the decoder's attributes.
	s := f.recorded()
	if len(s) != 4 {
		t.Fatalf("%d searches", len(s))
	}
	for i, c := range []string{"", "10", "20", "30"} {
		if !s[i].paged || s[i].cookie != c || s[i].pageSize != 10 || strings.Join(s[i].attrs, ",") != strings.Join(d.dec.attrs, ",") {
			t.Errorf("search %d: %+v", i, s[i])
		}
	}
}

// Two bases are searched one after the other. The fake server returns
// the same 15 people under both, as two bases that overlap in a way
// SearchBases cannot see would: each person is passed once, counted under
// the first base, and the log says how many were met again.
func TestBulkReadTwoBases(t *testing.T) {
	f := startFake(t, pages(15, nil))
	var log bytes.Buffer
	d := f.dir(t, func(o *Options) {
		o.Bases = []string{"OU=A,DC=corp,DC=example,DC=com", "OU=B,DC=corp,DC=example,DC=com"}
		o.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	people, res, err := collect(t, d, context.Background())
	if err != nil || !res.Complete || res.Entries != 15 || len(people) != 15 || res.Pages != 4 || len(res.Bases) != 2 ||
		res.Bases[0].Base != "OU=A,DC=corp,DC=example,DC=com" || res.Bases[0].Entries != 15 || res.Bases[1].Entries != 0 || res.Bases[1].Pages != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
	if !strings.Contains(log.String(), "people returned by more than one search base were read once") || !strings.Contains(log.String(), "repeats=15") {
		t.Errorf("the log does not name the 15 people met twice:\n%s", log.String())
	}
	// The log has the ldapsearch command of each base's search, once.
	for _, base := range d.bases {
		line := "ldapsearch=" + strconv.Quote(d.ldapsearchLine(base))
		if n := strings.Count(log.String(), line); n != 1 {
			t.Errorf("the log has the search of %s %d times, want once:\n%s", base, n, log.String())
		}
	}
	if n := strings.Count(log.String(), "msg=search "); n != 2 {
		t.Errorf("%d search lines for 2 bases:\n%s", n, log.String())
	}
	// A second read works on a new connection, and passes each person once
	// again.
	_, res, err = collect(t, d, context.Background())
	if err != nil || res.Entries != 15 {
		t.Fatalf("second read: %+v, %v", res, err)
	}
}

func TestBulkReadIncomplete(t *testing.T) {
	tests := []struct {
		name     string
		onSearch func(*respWriter, search, int) bool
		entries  int
		pages    int
		want     string
		// transient: Transient says a new attempt may cure it (the
		// retries of cmd/upnsync depend on it).
		transient bool
	}{
		{"no paging control", func(w *respWriter, s search, n int) bool {
			w.user(0)
			w.result(ldap.ApplicationSearchResultDone, 0, "", "")
			return true
		}, 1, 0, "ended page 1 of the read without a paging control (it may not support paged results; --page-size 0 reads without paging, up to its size limit), so the read cannot be proven complete", false},
		{"size limit on page 2", func(w *respWriter, s search, n int) bool {
			for i := 0; i < 10; i++ {
				w.user(n*10 + i)
			}
			if n == 1 {
				w.result(ldap.ApplicationSearchResultDone, ldap.LDAPResultSizeLimitExceeded, "", "")
				return true
			}
			w.done("more")
			return true
		}, 20, 1, "stopped the paged read at its size limit (LDAP 4 Size Limit Exceeded) after 20 entries, so the read is incomplete; raise the account's limit on paged searches", false},
		{"busy on page 2", func(w *respWriter, s search, n int) bool {
			for i := 0; i < 10; i++ {
				w.user(n*10 + i)
			}
			if n == 1 {
				w.result(ldap.ApplicationSearchResultDone, ldap.LDAPResultBusy, "", "too many searches")
				return true
			}
			w.done("more")
			return true
		}, 20, 1, "is busy or unavailable (LDAP 51 Busy: too many searches) after 20 entries", true},
		{"connection cut in page 2", func(w *respWriter, s search, n int) bool {
			for i := 0; i < 10; i++ {
				w.user(n*10 + i)
			}
			if n == 1 {
				return false
			}
			w.done("more")
			return true
		}, 20, 1, "lost after page 1 of the read (20 entries): the server closed the connection", true},
		{"message cut in half", func(w *respWriter, s search, n int) bool {
			w.user(0)
			w.raw([]byte{0x30, 0x20, 0x02, 0x01})
			return false
		}, 1, 0, "lost during the first page of the read (1 entries): the server closed the connection (unexpected EOF)", true},
		{"notice of disconnection", func(w *respWriter, s search, n int) bool {
			w.user(0)
			w.id = 0
			op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationExtendedResponse, nil, "")
			op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, ldap.LDAPResultUnavailable, ""))
			op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
			op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "server shutting down", ""))
			op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, "1.3.6.1.4.1.1466.20036", ""))
			w.send(op)
			return false
		}, 1, 0, "is busy or unavailable (LDAP 52 Unavailable: the server announced that it is closing the connection: server shutting down) after 1 entries", true},
		{"garbage", func(w *respWriter, s search, n int) bool {
			w.raw([]byte{0x04, 0x02, 'h', 'i'})
			return true
		}, 0, 0, "sent a response upnsync cannot read in page 1 of the read (0 entries): malformed LDAP message: message starts with tag 0x04", false},
		{"a response to another request", func(w *respWriter, s search, n int) bool {
			w.id++
			w.done("")
			return true
		}, 0, 0, "sent a response upnsync cannot read in page 1 of the read (0 entries): malformed LDAP message: a response (tag 0x65) with message id", false},
		{"broken entry", func(w *respWriter, s search, n int) bool {
			w.user(0)
			op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
			op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "cn=x", ""))
			op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 5, ""))
			w.send(op)
			w.done("")
			return true
		}, 1, 0, "sent an entry upnsync cannot read in page 1 of the read (1 entry): malformed LDAP message: entry attributes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFake(t, tt.onSearch)
			got, res, err := collect(t, f.dir(t), context.Background())
			if err == nil {
				t.Fatalf("read succeeded: %+v", res)
			}
			t.Log(err)
			// The entries of a broken page before the break are delivered;
			// an entry that cannot be decoded is counted, not delivered.
			if res.Pages != tt.pages || res.Entries != tt.entries {
				t.Errorf("pages %d entries %d (delivered %d), want %d and %d", res.Pages, res.Entries, len(got), tt.pages, tt.entries)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "the read is incomplete") {
				t.Errorf("error = %q\nwant it to contain %q and say the read is incomplete", err, tt.want)
			}
			if got := Transient(&upnsync.ReadError{Err: err}); got != tt.transient {
				t.Errorf("Transient = %v, want %v", got, tt.transient)
			}
		})
	}
}

func TestBulkReadTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stall := func(w *respWriter, s search, n int) bool {
		if n == 0 {
			for i := 0; i < 10; i++ {
				w.user(i)
			}
			w.done("more")
			return true
		}
		w.user(10)
		<-release // a server that never finishes page 2
		return false
	}
	f := startFake(t, stall)
	d := f.dir(t, func(o *Options) { o.Timeout = 300 * time.Millisecond })
	start := time.Now()
	_, res, err := collect(t, d, context.Background())
	if err == nil || res.Pages != 1 || res.Entries != 11 || time.Since(start) > 3*time.Second {
		t.Fatalf("%+v, %v after %v", res, err, time.Since(start))
	}
	if want := "no answer from " + f.url() + " within 300ms during page 2 of the read (11 entries); the read is incomplete"; err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if !Transient(err) {
		t.Errorf("a time-out is not transient: %v", err)
	}

	// Cancelling stops a read that waits for the server, at once.
	d = f.dir(t, func(o *Options) { o.Timeout = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start = time.Now()
	_, res, err = collect(t, d, ctx)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 3*time.Second || res.Pages != 1 {
		t.Fatalf("cancelled read: %+v, %v after %v", res, err, time.Since(start))
	}
	if Transient(err) {
		t.Errorf("a cancelled read is transient: %v", err)
	}
	// Entries of a page arrive whole: the 11th, of the page the server
	// never finished, was not delivered.
	if !strings.Contains(err.Error(), "was cancelled after page 1 (10 entries); the read is incomplete") {
		t.Errorf("error = %q", err)
	}
}

func TestBulkReadStopsOnError(t *testing.T) {
	f := startFake(t, pages(100, nil))
	d := f.dir(t)
	boom := errors.New("the store is full")
	n := 0
	res, err := d.Read(context.Background(), func(upnsync.Person) error {
		if n++; n == 15 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || res.Complete || res.Entries != 15 || res.Pages != 1 ||
		!strings.Contains(err.Error(), "stopped after page 1 (15 entries): the store is full; the read is incomplete") {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestBulkReadBindRefused(t *testing.T) {
	f := startFake(t, pages(1, nil))
	d := f.dir(t, func(o *Options) { o.Password = "wrong" })
	_, res, err := collect(t, d, context.Background())
	if err == nil || res.Entries != 0 || len(f.recorded()) != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	want := `cannot bind to ` + f.url() + ` as "` + f.login + `": wrong user name or password (LDAP 49 Invalid Credentials)`
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "wrong\"") {
		t.Errorf("error = %q\nwant it to contain %q", err, want)
	}
}

// TestBulkReadAheadBounded: while the caller is busy with its first
// person, the reader fetches pages up to its budget and then waits; after
// that first page, it keeps only a few pages ahead.
func TestBulkReadAheadBounded(t *testing.T) {
	defer func(s, a int64) { startAheadBytes, aheadBytes = s, a }(startAheadBytes, aheadBytes)
	startAheadBytes, aheadBytes = 8<<10, 2<<10 // a page of 10 users is about 1.3 kB
	f := startFake(t, pages(1000, nil))
	d := f.dir(t)
	first := true
	var atFirst, atLast int
	n := 0
	res, err := d.Read(context.Background(), func(upnsync.Person) error {
		n++
		if first {
			first = false
			time.Sleep(300 * time.Millisecond) // the store is loading
			atFirst = len(f.recorded())
		}
		if n == 900 {
			time.Sleep(100 * time.Millisecond)
			atLast = len(f.recorded())
		}
		return nil
	})
	if err != nil || res.Entries != 1000 {
		t.Fatalf("%+v, %v", res, err)
	}
	// 8 kB are about 6 pages: the reader holds those, fills one more and
	// may have sent the request of the next.
	if atFirst < 4 || atFirst > 9 {
		t.Errorf("while the first page was processed the reader fetched %d pages; want about 6 (8 kB)", atFirst)
	}
	// Page 90 is being processed: at most 2 kB (2 pages) + one filling +
	// one requested ahead.
	if atLast > 94 {
		t.Errorf("at page 90 the reader had fetched %d pages; want at most 94", atLast)
	}
}

// TestWireEntryMatchesGoLDAP decodes the same entries through go-ldap's
// Entry and through the wire decoder: same Person.
func TestWireEntryMatchesGoLDAP(t *testing.T) {
	guid := []byte{0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11, 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c, 0x33, 0x01}
	entries := []struct {
		dn    string
		attrs [][]string
	}{
		{"CN=Jane,OU=Staff,DC=corp,DC=example,DC=com", [][]string{{"objectGUID", string(guid)}, {"sAMAccountName", "jdoe"},
			{"userPrincipalName", "jane@corp.example.com"}, {"givenName", "Jane"}, {"sn", "Doe"}, {"mail", "jane@x", "j@x"},
			{"userAccountControl", "514"}, {"telephoneNumber", "555-1234x56"}}},
		{"cn=lower,dc=lab,dc=local", [][]string{{"OBJECTGUID;binary", string(guid)}, {"SAMACCOUNTNAME", "x"}, {"UserPrincipalName", ""}, {"userPrincipalName", "later@x"}}},
		{"cn=badguid,dc=x", [][]string{{"objectGUID", "short"}, {"mail"}, {"sn", "", "second"}}},
		{"cn=textguid,dc=x", [][]string{{"objectGUID", "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"}, {"unrequested", "v"}}},
		{"", nil},
	}
	fields := withDefaults(mappingWithPhone())
	for _, netbios := range []string{"", "CORPNET"} {
		goldap, wired := newDecoder(fields, netbios), newDecoder(fields, netbios)
		for _, e := range entries {
			le := &ldap.Entry{DN: e.dn}
			var w respWriter
			var buf bytes.Buffer
			w.c = writerConn{&buf}
			op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, ldap.ApplicationSearchResultEntry, nil, "")
			op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, e.dn, ""))
			list := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
			for _, at := range e.attrs {
				le.Attributes = append(le.Attributes, &ldap.EntryAttribute{Name: at[0], Values: at[1:]})
				pa := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
				pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, at[0], ""))
				set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "")
				for _, v := range at[1:] {
					set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
				}
				pa.AppendChild(set)
				list.AppendChild(pa)
			}
			op.AppendChild(list)
			w.send(op)
			msg := envelopeContent(buf.Bytes())
			want := goldap.entry(le)
			got, err := wired.wireEntry(msg)
			if err != nil || got != want {
				t.Errorf("netbios %q, %q:\nwire   %+v (%v)\ngo-ldap %+v", netbios, e.dn, got, err, want)
			}
		}
		if goldap.badGUIDs != wired.badGUIDs || goldap.badGUIDFirst != wired.badGUIDFirst || wired.badGUIDs != 1 {
			t.Errorf("bad GUIDs: go-ldap %d %q, wire %d %q", goldap.badGUIDs, goldap.badGUIDFirst, wired.badGUIDs, wired.badGUIDFirst)
		}
	}
}

// writerConn is a net.Conn that only writes, for respWriter outside a
// server.
type writerConn struct{ io.Writer }

func (writerConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (writerConn) Close() error                     { return nil }
func (writerConn) LocalAddr() net.Addr              { return nil }
func (writerConn) RemoteAddr() net.Addr             { return nil }
func (writerConn) SetDeadline(time.Time) error      { return nil }
func (writerConn) SetReadDeadline(time.Time) error  { return nil }
func (writerConn) SetWriteDeadline(time.Time) error { return nil }

// envelopeContent skips a message's SEQUENCE header.
func envelopeContent(b []byte) []byte {
	if b[1] < 0x80 {
		return b[2:]
	}
	return b[2+int(b[1]&0x7f):]
}

// mappingWithPhone takes the first name from the extension of the phone
// number (Index/Separator), to decode a value split as ADSIReader does.
func mappingWithPhone() mapping.Fields {
	return mapping.Fields{FirstName: mapping.Source{LDAP: "telephoneNumber", Separator: "x", Index: 1}}
}

// readerConn is a net.Conn that only reads from r.
type readerConn struct {
	writerConn
	r io.Reader
}

func (c readerConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// bulkOver is a Tap reading r on which a bulk search runs whose first
// page is p (its request has message id 1<<30+1); the pages it hands back
// go to done.
func bulkOver(r io.Reader, p *wire.Page, done func(*wire.Page)) *wire.Tap {
	tap := wire.NewTap(readerConn{writerConn: writerConn{io.Discard}, r: r})
	first := true
	err := tap.Bulk(&wire.BulkSearch{Base: "dc=x", Filter: "(objectClass=*)", PageSize: 1000, Timeout: time.Minute,
		Next: func() *wire.Page {
			if !first {
				return nil
			}
			first = false
			return p
		},
		Done: done})
	if err != nil {
		panic(err)
	}
	return tap
}
