package directory

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/upnsync/upnsync/internal/plural"
	"github.com/upnsync/upnsync/internal/textfile"
	upnsync "github.com/upnsync/upnsync/sync"
)

// ErrLDIF is wrapped by every LDIF syntax error.
var ErrLDIF = errors.New("malformed LDIF")

const (
	// maxLDIFLine bounds one physical line of an LDIF file.
	maxLDIFLine = 1 << 20
	// maxLDIFValue bounds one unfolded attribute line.
	maxLDIFValue = 16 << 20
)

// ldifDirectory reads people from an LDIF export (ldifde, ldapsearch -LLL,
// slapcat), streaming: only one record is held at a time.
type ldifDirectory struct {
	path  string
	dec   *decoder
	log   *slog.Logger
	scope *exportScope // --domain, --user-filter, --filter; nil: none
	mu    sync.Mutex
}

func openLDIF(path string, opts Options) (*ldifDirectory, error) {
	if path == "" {
		return nil, errors.New("ldif: names no file: use ldif:PATH, for example ldif:users.ldif")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read LDIF file %s: %s", path, pathErrText(err))
	}
	if st.IsDir() {
		return nil, fmt.Errorf("LDIF file %s is a folder: name the exported .ldif file", path)
	}
	d := &ldifDirectory{path: path, dec: newDecoder(opts.Fields, opts.NetBIOSDomain), log: opts.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.scope, err = newExportScope(opts, d.Describe(), false); err != nil {
		return nil, err
	}
	return d, nil
}

// pathErrText is an os error without the repeated operation and path.
func pathErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (d *ldifDirectory) Describe() string { return "ldif:" + d.path }
func (d *ldifDirectory) Close() error     { return nil }

// Read streams the user records of the file to fn. The read is complete at
// a clean end of file.
func (d *ldifDirectory) Read(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var res upnsync.ReadResult
	fail := func(err error) (upnsync.ReadResult, error) {
		res.Complete = false
		res.Why = err.Error()
		return res, err
	}
	f, err := os.Open(d.path)
	if err != nil {
		return fail(newError(err, "cannot read LDIF file %s: %s", d.path, pathErrText(err)))
	}
	defer f.Close()

	d.dec.badGUIDs, d.dec.badGUIDFirst = 0, ""
	// ldifde -u writes UTF-16 LE with a byte order mark: decoded here, as
	// every text file upnsync reads (internal/textfile).
	text, enc := textfile.Reader(bufio.NewReaderSize(f, 64<<10))
	if enc.Name != "UTF-8" {
		d.log.Info("reading an LDIF export", "file", d.path, "encoding", enc.Name)
	}
	p := newLDIFParser(text, d.path, d.dec)
	p.scope = d.scope
	d.scope.start()
	done := ctx.Done()
	for {
		select {
		case <-done:
			return fail(newError(ctx.Err(), "the read of %s was cancelled at line %d (%s); the read is incomplete", d.Describe(), p.line, plural.Count(res.Entries, "entry")))
		default:
		}
		ok, err := p.record()
		if err != nil {
			if !errors.Is(err, ErrLDIF) {
				err = newError(err, "cannot read LDIF file %s after line %d: %s; the read is incomplete", d.path, p.line, pathErrText(err))
			}
			return fail(err)
		}
		if !ok {
			break
		}
		if keep, err := d.scope.admit(p.dn, p.isUser()); err != nil || !keep {
			if err != nil {
				return fail(p.errorf(p.line, "in the entry %q: %v", clip([]byte(p.dn)), err))
			}
			continue
		}
		res.Entries++
		if err := fn(d.dec.person(p.dn)); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return fail(newError(err, "the read of %s was cancelled at line %d (%s); the read is incomplete", d.Describe(), p.line, plural.Count(res.Entries, "entry")))
			}
			return fail(newError(err, "the read of %s stopped at line %d (%s): %v; the read is incomplete", d.Describe(), p.line, plural.Count(res.Entries, "entry"), err))
		}
	}
	res.Referrals = p.refs
	if d.dec.badGUIDs > 0 {
		d.log.Warn("objectGUID values of the wrong length were ignored (those people have no GUID)",
			"directory", d.Describe(), "count", d.dec.badGUIDs, "first", d.dec.badGUIDFirst)
	}
	if p.incomplete != "" {
		return fail(newError(nil, "%s", p.incomplete))
	}
	// A file that parses can still be a useless basis for a run: cut off
	// at a line boundary, or holding nobody. Read as complete, either
	// would make everyone upnsync added an entry for look departed.
	if p.extended && p.results == 0 {
		return fail(p.errorf(p.line, "the export begins with ldapsearch's \"# extended LDIF\" header but ends without the \"result:\" line ldapsearch writes last: it was cut off after this line; export it again"))
	}
	if err := d.scope.finish(); err != nil {
		return fail(&Error{Msg: oneLine(err.Error())})
	}
	if res.Entries == 0 {
		if p.records == 0 {
			return fail(&Error{Msg: fmt.Sprintf("%s: the export holds no entries (no dn: line): it is empty or not an LDIF export; export the users again", d.path), Err: ErrLDIF})
		}
		return fail(&Error{Msg: fmt.Sprintf("%s: none of the export's %d entries is a user (objectClass user, person or inetOrgPerson, or an entry with a sAMAccountName or userPrincipalName): export the users, with their objectClass", d.path, p.records), Err: ErrLDIF})
	}
	res.Pages = 1
	res.Complete = true
	return res, nil
}

// ldifParser reads an LDIF file record by record.
type ldifParser struct {
	r       *bufio.Reader
	name    string
	dec     *decoder
	scope   *exportScope // takes the values its filters compare; nil: none
	line    int          // last physical line read
	buf     []byte       // the logical (unfolded) line
	long    []byte       // assembly of a physical line longer than the buffer
	b64     []byte       // decoded base64 value
	records int
	version bool
	eof     bool
	// extended is set by ldapsearch's "# extended LDIF" header, which
	// promises a closing "result:" line; results counts those lines.
	extended bool
	results  int

	// The current record.
	dn                                     string
	summary                                bool
	hasClass, user, computer, contact, sam bool
	refs                                   int
	incomplete                             string
}

func newLDIFParser(r io.Reader, name string, dec *decoder) *ldifParser {
	return &ldifParser{r: bufio.NewReaderSize(r, 64<<10), name: name, dec: dec}
}

func (p *ldifParser) errorf(line int, format string, args ...any) error {
	return &Error{Msg: oneLine(fmt.Sprintf("%s:%d: ", p.name, line) + fmt.Sprintf(format, args...)), Err: ErrLDIF}
}

// physical returns the next line without its line ending, or io.EOF. The
// slice is valid until the next read.
func (p *ldifParser) physical() ([]byte, error) {
	line, err := p.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		p.long = append(p.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(p.long) > maxLDIFLine {
				return nil, p.errorf(p.line+1, "line longer than 1 MiB: this is not an LDIF export (or it holds a huge value)")
			}
			line, err = p.r.ReadSlice('\n')
			p.long = append(p.long, line...)
		}
		line = p.long
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(line) == 0 {
		return nil, io.EOF
	}
	// Every LDIF writer ends each line, the last one included: a last line
	// without its line break is where an interrupted copy or a full disk
	// cut the file.
	cut := errors.Is(err, io.EOF)
	if len(line) > maxLDIFLine+2 {
		return nil, p.errorf(p.line+1, "line longer than 1 MiB: this is not an LDIF export (or it holds a huge value)")
	}
	p.line++
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if p.line == 1 {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	}
	if bytes.IndexByte(line, 0) >= 0 {
		return nil, p.errorf(p.line, "NUL byte in the line: this is not a text LDIF file (binary values must be base64, written attr:: ...)")
	}
	if cut && len(line) > 0 && line[0] != '#' {
		in := ""
		if p.dn != "" {
			in = fmt.Sprintf(" (in the entry %q)", clip([]byte(p.dn)))
		}
		return nil, p.errorf(p.line, "%s", textfile.CutOff(in, "export it again"))
	}
	return line, nil
}

// logical returns the next unfolded line and the number of its first
// physical line.
func (p *ldifParser) logical() ([]byte, int, error) {
	line, err := p.physical()
	if err != nil {
		return nil, 0, err
	}
	start := p.line
	p.buf = append(p.buf[:0], line...)
	if len(p.buf) == 0 {
		return p.buf, start, nil // a blank line ends a record; nothing continues it
	}
	for {
		next, err := p.r.Peek(1)
		if err != nil || next[0] != ' ' {
			return p.buf, start, nil
		}
		cont, err := p.physical()
		if err != nil {
			return nil, 0, err
		}
		p.buf = append(p.buf, cont[1:]...)
		if len(p.buf) > maxLDIFValue {
			return nil, 0, p.errorf(start, "value longer than 16 MiB")
		}
	}
}

// record reads the next record into the parser and the decoder's values.
// It returns false at the end of the file.
func (p *ldifParser) record() (bool, error) {
	if p.eof {
		return false, nil
	}
	in := false
	p.dn, p.summary = "", false
	p.hasClass, p.user, p.computer, p.contact, p.sam = false, false, false, false, false
	p.dec.reset()
	for {
		l, ln, err := p.logical()
		if errors.Is(err, io.EOF) {
			p.eof = true
			return in && !p.summary, nil
		}
		if err != nil {
			return false, err
		}
		if len(l) == 0 {
			if in {
				if p.summary {
					in = false
					p.summary = false
					continue
				}
				return true, nil
			}
			continue
		}
		switch l[0] {
		case '#':
			if p.records == 0 && bytes.HasPrefix(l, []byte("# extended LDIF")) {
				p.extended = true
			}
			continue
		case ' ':
			return false, p.errorf(ln, "continuation line (starting with a space) before any attribute: there is no line for it to continue")
		}
		i := bytes.IndexByte(l, ':')
		if i < 0 {
			return false, p.errorf(ln, "line has no ':' (expected attribute: value): %q", clip(l))
		}
		name := l[:i]
		if !validAttrName(name) {
			return false, p.errorf(ln, "%q is not an attribute name", clip(name))
		}
		value, err := p.value(name, l[i+1:], ln)
		if err != nil {
			return false, err
		}
		base := name
		if j := bytes.IndexByte(base, ';'); j >= 0 {
			base = base[:j]
		}

		if !in {
			switch {
			case equalFold(base, "version") && p.records == 0 && !p.version:
				if string(value) != "1" {
					return false, p.errorf(ln, "LDIF version %q is not supported (only version: 1)", clip(value))
				}
				p.version = true
				continue
			case equalFold(base, "dn"):
				if !utf8.Valid(value) {
					return false, p.errorf(ln, "the dn is not valid UTF-8")
				}
				p.dn = string(value)
				p.records++
				in = true
				continue
			case equalFold(base, "search") || equalFold(base, "result"):
				// ldapsearch's result summary (without -LLL).
				in, p.summary = true, true
			case equalFold(base, "ref"):
				// ldapsearch's search reference: counted, not followed.
				p.refs++
				in, p.summary = true, true
				continue
			default:
				return false, p.errorf(ln, "record starts with %q, not with dn:", clip(name))
			}
		}
		if p.summary {
			if equalFold(base, "result") {
				p.checkResult(value, ln)
			}
			continue
		}
		if p.scope != nil {
			p.scope.ldifValue(base, value)
		}
		switch {
		case equalFold(base, "dn"):
			return false, p.errorf(ln, "second dn: in one record: separate records with a blank line")
		case equalFold(base, "changetype"):
			if !equalFold(value, "add") {
				return false, p.errorf(ln, "changetype: %s is not supported: give an export of entries (records without changetype, or with changetype: add)", clip(value))
			}
			continue
		case equalFold(base, "control"):
			continue
		case equalFold(base, "objectClass"):
			p.hasClass = true
			switch {
			case equalFold(value, "user"), equalFold(value, "person"), equalFold(value, "inetOrgPerson"):
				p.user = true
			case equalFold(value, "computer"):
				p.computer = true
			case equalFold(value, "contact"):
				p.contact = true
			}
			continue
		}
		if s := p.dec.slot(string(base)); s >= 0 {
			if s == p.dec.sam || s == p.dec.upn.idx {
				p.sam = true
			}
			if p.dec.vals[s] == "" {
				p.dec.vals[s] = string(value)
			}
		}
	}
}

// isUser says whether the record just read is a user: its objectClass
// includes user, person or inetOrgPerson but neither computer nor contact.
// A record without objectClass (an export of chosen attributes only) is a
// user when it has a sAMAccountName or a UPN.
func (p *ldifParser) isUser() bool {
	if !p.hasClass {
		return p.sam
	}
	return p.user && !p.computer && !p.contact
}

// checkResult reads ldapsearch's "result: 4 Size limit exceeded".
func (p *ldifParser) checkResult(v []byte, ln int) {
	p.results++
	s := strings.TrimSpace(string(v))
	code, _, _ := strings.Cut(s, " ")
	if n, err := strconv.Atoi(code); err == nil && n == 0 {
		return
	}
	if p.incomplete == "" {
		p.incomplete = fmt.Sprintf("%s:%d: the export says \"result: %s\": it holds only part of the directory; export again with paging (ldapsearch -E pr=1000/noprompt)", p.name, ln, s)
	}
}

// value decodes the part of an attribute line after the first colon.
func (p *ldifParser) value(name, rest []byte, ln int) ([]byte, error) {
	switch {
	case len(rest) > 0 && rest[0] == ':':
		enc := bytes.TrimSpace(rest[1:])
		n := base64.StdEncoding.DecodedLen(len(enc))
		if cap(p.b64) < n {
			p.b64 = make([]byte, n)
		}
		m, err := base64.StdEncoding.Decode(p.b64[:n], enc)
		if err != nil {
			return nil, p.errorf(ln, "bad base64 in the value of %s: %v", name, err)
		}
		return p.b64[:m], nil
	case len(rest) > 0 && rest[0] == '<':
		return nil, p.errorf(ln, "the value of %s is a URL (%s:<%s): upnsync does not read values from URLs; export the value inline", name, name, clip(bytes.TrimSpace(rest[1:])))
	}
	v := bytes.TrimLeft(rest, " ")
	if !utf8.Valid(v) {
		return nil, p.errorf(ln, "the value of %s is not valid UTF-8: write it as base64 (%s:: ...) or save the file as UTF-8", name, name)
	}
	return v, nil
}

func validAttrName(b []byte) bool {
	if len(b) == 0 || !isAlnum(b[0]) {
		return false
	}
	for _, c := range b {
		if !isAlnum(c) && c != '-' && c != ';' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// equalFold compares ASCII case-insensitively without allocating.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if lx := x | 0x20; lx < 'a' || lx > 'z' || lx != y|0x20 {
			return false
		}
	}
	return true
}

// clip shortens what an error quotes.
func clip(b []byte) string {
	const n = 60
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
