package directory

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
)

// Incremental reads (--incremental, --dirsync). uSNChanged is per domain
// controller and not replicated, so a watermark is only meaningful on the
// DC that issued it: Position takes the DC's identity and its highest
// committed USN from the rootDSE of the connection that then does the read
// (read when it opened, before any read on it), and a read that had to
// reconnect in between fails rather than mix two DCs.

// Position is where a domain controller is in its own history of changes.
type Position struct {
	// Host is the DC's dnsHostName; InvocationID the objectGUID-form
	// invocationId of its NTDS Settings object (it changes when the DC's
	// database is restored, which makes old USNs meaningless).
	Host         string
	InvocationID string
	// USN is its highestCommittedUSN.
	USN int64
}

// String names the position for logs and reports.
func (p Position) String() string {
	return fmt.Sprintf("%s USN %d (invocationId %s)", p.Host, p.USN, p.InvocationID)
}

// ChangeTracker is implemented by LDAP directories: it lets a run read only
// what changed since an earlier run on the same DC.
type ChangeTracker interface {
	// Position reads the DC's identity and highest committed USN from its
	// rootDSE (as read when the connection opened: never later than the
	// read that follows), and pins the connection: the following Read must
	// use it.
	Position(ctx context.Context) (Position, error)
	// ChangedSince makes the following Read select only the users with
	// uSNChanged >= usn (0: all of them, but still on the pinned
	// connection). Such a read is partial by design.
	ChangedSince(usn int64)
	// DirSync makes the following Read a DirSync read from cookie (nil:
	// the first one, which reads everything in full and takes the cookie
	// for the next run). DirSyncCookie is the cookie after the read.
	DirSync(cookie []byte)
	DirSyncCookie() []byte
	// Bases and Filter are what a read searches, for the fingerprint of
	// the inputs.
	Bases() []string
	Filter() string
}

var _ ChangeTracker = (*ldapDirectory)(nil)

// Bases are the search bases (after discovery).
func (d *ldapDirectory) Bases() []string { return append([]string(nil), d.bases...) }

// Filter is the user filter.
func (d *ldapDirectory) Filter() string { return d.filter }

// readFilter is the filter of a read: the user filter, narrowed to what
// changed in an incremental read.
func (d *ldapDirectory) readFilter() string {
	if d.minUSN > 0 {
		return "(&" + d.filter + "(uSNChanged>=" + strconv.FormatInt(d.minUSN, 10) + "))"
	}
	return d.filter
}

// ChangedSince: see ChangeTracker.
func (d *ldapDirectory) ChangedSince(usn int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tracked, d.minUSN = true, usn
}

// DirSync: see ChangeTracker.
func (d *ldapDirectory) DirSync(cookie []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tracked, d.dirsync, d.cookie = true, true, append([]byte(nil), cookie...)
	if cookie == nil {
		d.cookie = nil
	}
}

// DirSyncCookie: see ChangeTracker.
func (d *ldapDirectory) DirSyncCookie() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.cookie...)
}

// Position: see ChangeTracker.
func (d *ldapDirectory) Position(ctx context.Context) (Position, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return Position{}, err
	}
	if d.conn == nil || d.conn.IsClosing() {
		d.dropConn()
		if err := d.connect(); err != nil {
			return Position{}, err
		}
	}
	// The rootDSE read when the connection opened, before any read on
	// it: a watermark a little older than now is safe (changes made since
	// are read again next time).
	e, err := d.rootDSE()
	if errors.Is(err, errNoRootDSE) {
		return Position{}, fmt.Errorf("%s returned no rootDSE: incremental reads need Active Directory (or Samba AD); run without --incremental and --dirsync", d.url)
	}
	if err != nil {
		if berr := d.broken("reading the rootDSE for the incremental read's watermark"); berr != nil {
			return Position{}, berr
		}
		what, _ := d.describeOpError(err, "")
		return Position{}, newError(err, "cannot read the rootDSE of %s for the incremental read's watermark: %s", d.url, what)
	}
	var p Position
	p.Host = e.GetEqualFoldAttributeValue("dnsHostName")
	usn := e.GetEqualFoldAttributeValue("highestCommittedUSN")
	service := e.GetEqualFoldAttributeValue("dsServiceName")
	d.syncNC = e.GetEqualFoldAttributeValue("defaultNamingContext")
	if p.Host == "" || usn == "" || service == "" {
		return Position{}, fmt.Errorf("%s does not announce dnsHostName, highestCommittedUSN and dsServiceName in its rootDSE, so changes cannot be tracked: incremental reads need an Active Directory domain controller (or Samba AD); run without --incremental and --dirsync", d.url)
	}
	if p.USN, err = strconv.ParseInt(usn, 10, 64); err != nil || p.USN < 0 {
		return Position{}, fmt.Errorf("%s announces highestCommittedUSN %q, which is not a number; run without --incremental and --dirsync", d.url, usn)
	}
	sr, err := d.conn.Search(baseSearch(service, "(objectClass=*)", []string{"invocationId"}))
	if err != nil {
		what, _ := d.describeOpError(err, service)
		return Position{}, newError(err, "cannot read the invocationId of %s (%s): %s; the bind account must be able to read the DC's NTDS Settings object", d.url, service, what)
	}
	if len(sr.Entries) > 0 {
		if raw := sr.Entries[0].GetEqualFoldRawAttributeValue("invocationId"); len(raw) > 0 {
			p.InvocationID, err = GUIDString(raw)
			if err != nil {
				return Position{}, fmt.Errorf("%s: the invocationId of %s is not a GUID: %v", d.url, service, err)
			}
		}
	}
	if p.InvocationID == "" {
		return Position{}, fmt.Errorf("%s: %s has no readable invocationId, so a restored DC could not be told apart; the bind account must be able to read it", d.url, service)
	}
	d.pinned = d.conn
	return p, nil
}

// readTracked is Read for incremental and DirSync reads: on the connection
// Position pinned.
func (d *ldapDirectory) readTracked(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	var res upnsync.ReadResult
	if d.pinned == nil || d.conn != d.pinned || d.conn.IsClosing() {
		d.dropConn()
		d.pinned = nil
		return res, d.fail(&res, newError(nil, "the connection to %s on which the DC's position was read was lost before the read; its USNs may not be those of the DC now connected: run again", d.url))
	}
	d.pinned = nil // one read per Position
	var err error
	switch {
	case d.dirsync && len(d.cookie) > 0:
		res, err = d.readDirSync(ctx, fn)
	case d.dirsync:
		// The first DirSync read: take the cookie first, then read in full
		// (the DirSync answer holds every object, users or not, and cannot
		// be filtered like a search): a change made in between is seen by
		// this read and again by the next one, which is harmless.
		if err = d.dirSyncPass(ctx, nil, nil); err != nil {
			return res, d.fail(&res, err)
		}
		res, err = d.readAll(ctx, fn)
	default:
		res, err = d.readAll(ctx, fn)
		res.Partial = d.minUSN > 0
	}
	if err != nil {
		d.dropConn()
	}
	return res, err
}

// pageSlack is room in a DirSync read's result buffer beyond one page for
// the closing item. go-ldap drops a response it cannot hand over within
// the request timeout, so the buffer must hold a whole page: a slow
// consumer then never stalls the connection.
const pageSlack = 64

// dirSyncFlags: none; the "Replicating Directory Changes" right is needed
// (LDAP_DIRSYNC_OBJECT_SECURITY would not report tombstones).
const dirSyncFlags = 0

// dirSyncPass runs the DirSync search from d.cookie (or cookie when given)
// until the DC says there is no more, handing each entry to each (nil:
// discard) and leaving the final cookie in d.cookie.
func (d *ldapDirectory) dirSyncPass(ctx context.Context, cookie []byte, each func(*ldap.Entry) error) error {
	if d.syncNC == "" {
		return fmt.Errorf("%s announces no defaultNamingContext, which DirSync needs as its base", d.url)
	}
	attrs := d.dirSyncAttrs()
	for round := 0; ; round++ {
		if err := ctx.Err(); err != nil {
			return newError(err, "the DirSync read of %s was cancelled: %v; the read is incomplete", d.url, err)
		}
		req := ldap.NewSearchRequest(d.syncNC, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=user)", attrs, nil)
		resp := d.conn.DirSyncAsync(ctx, req, d.pageSize+pageSlack, dirSyncFlags, 1<<20, cookie)
		var ctrl *ldap.ControlDirSync
		for resp.Next() {
			if e := resp.Entry(); e != nil {
				if each != nil {
					if err := each(e); err != nil {
						return err
					}
				}
				continue
			}
			if c, ok := ldap.FindControl(resp.Controls(), ldap.ControlTypeDirSync).(*ldap.ControlDirSync); ok {
				ctrl = c
			}
		}
		if err := resp.Err(); err != nil {
			return dirSyncError(d.url, err)
		}
		if err := ctx.Err(); err != nil {
			return newError(err, "the DirSync read of %s was cancelled: %v; the read is incomplete", d.url, err)
		}
		if ctrl == nil {
			return newError(nil, "%s answered the DirSync search without a DirSync control, so the read cannot be proven complete; the read is incomplete", d.url)
		}
		cookie = append([]byte(nil), ctrl.Cookie...)
		if ctrl.Flags == 0 || round > 100000 {
			d.cookie = cookie
			return nil
		}
	}
}

// filterAttr finds the attribute names in a filter: (attr=..., (attr>=...,
// (attr:1.2.840.113556.1.4.803:=...; a value that looks like one only adds
// an attribute to ask for, which servers ignore when unknown.
var filterAttr = regexp.MustCompile(`\(\s*([A-Za-z][A-Za-z0-9-]*)(?::[^=()]*)?[~<>]?=`)

// dirSyncAttrs are the attributes a DirSync read asks for. DirSync reports
// an object only when one of them changed, so they include, besides what
// a person is made of, the attributes of the user filter (a change that
// filters a person out) and name (which AD and Samba update on a move).
func (d *ldapDirectory) dirSyncAttrs() []string {
	attrs := append([]string(nil), d.dec.attrs...)
	have := map[string]bool{}
	for _, a := range attrs {
		have[strings.ToLower(a)] = true
	}
	more := []string{"objectGUID", "isDeleted", "name"}
	for _, m := range filterAttr.FindAllStringSubmatch(d.filter, -1) {
		more = append(more, m[1])
	}
	for _, a := range more {
		if !have[strings.ToLower(a)] {
			have[strings.ToLower(a)] = true
			attrs = append(attrs, a)
		}
	}
	return attrs
}

// dirSyncError explains a refused DirSync search.
func dirSyncError(url string, err error) error {
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultUnavailableCriticalExtension:
			return newError(err, "%s refused the DirSync search (%s): --dirsync needs the \"Replicating Directory Changes\" right for the bind account on the domain (grant it, or use --incremental, which needs no extra right); the read is incomplete",
				url, ldapErrText(err))
		}
	}
	return newError(err, "the DirSync search of %s failed: %s; the read is incomplete", url, ldapErrText(err))
}

// guidBatch is how many objectGUIDs one search of a DirSync read asks for.
const guidBatch = 100

// readDirSync is a DirSync read from a cookie: the changed objects'
// objectGUIDs and tombstones come from DirSync; the changed people are
// then read in full (DirSync sends only the changed attributes) by
// searches of each base for the user filter and their objectGUIDs, so that
// the bases and the filter select them as in a full read.
func (d *ldapDirectory) readDirSync(ctx context.Context, fn func(upnsync.Person) error) (upnsync.ReadResult, error) {
	res := upnsync.ReadResult{Partial: true}
	var changed []string
	seen := map[string]bool{}
	dns := map[string]string{}
	err := d.dirSyncPass(ctx, d.cookie, func(e *ldap.Entry) error {
		guid, err := GUIDString(e.GetEqualFoldRawAttributeValue("objectGUID"))
		if err != nil || seen[guid] {
			return nil
		}
		seen[guid] = true
		if strings.EqualFold(e.GetEqualFoldAttributeValue("isDeleted"), "TRUE") {
			res.Entries++
			res.Tombstones++
			return fn(upnsync.Person{GUID: guid, DN: e.DN, Deleted: true})
		}
		changed = append(changed, guid)
		dns[guid] = e.DN
		return nil
	})
	if err != nil {
		return res, d.fail(&res, err)
	}
	d.once = newOnceGuard(len(d.bases))
	defer d.warnRepeats()
	for _, base := range d.bases {
		res.Bases = append(res.Bases, upnsync.BaseCount{Base: base})
		bc := &res.Bases[len(res.Bases)-1]
		for i := 0; i < len(changed); i += guidBatch {
			var f strings.Builder
			f.WriteString("(&" + d.filter + "(|")
			for _, g := range changed[i:min(i+guidBatch, len(changed))] {
				gf, _ := GUIDFilter(g)
				f.WriteString(gf)
			}
			f.WriteString("))")
			// At most one entry per objectGUID asked for, whatever a
			// server sends.
			req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, guidBatch, 0, false,
				f.String(), d.dec.attrs, nil)
			req.EnforceSizeLimit = true
			sr, err := d.conn.Search(req)
			if err != nil {
				return res, d.fail(&res, d.searchError(err, base, &res))
			}
			res.Referrals += len(sr.Referrals)
			for _, e := range sr.Entries {
				if err := ctx.Err(); err != nil {
					return res, d.fail(&res, d.cancelled(err, &res))
				}
				person := d.dec.entry(e)
				if !d.once.first(person.GUID, person.DN) {
					continue // read through an earlier base
				}
				res.Entries++
				bc.Entries++
				delete(dns, person.GUID)
				if err := fn(person); err != nil {
					return res, d.fail(&res, d.stopped(err, &res))
				}
			}
			res.Pages++
			bc.Pages++
		}
	}
	// Reported changed, but no base and filter select them (any more):
	// the planner asks the directory why when they owned entries.
	for _, guid := range changed {
		dn, ok := dns[guid]
		if !ok {
			continue
		}
		res.Entries++
		res.Unselected++
		if err := fn(upnsync.Person{GUID: guid, DN: dn, Unselected: true}); err != nil {
			return res, d.fail(&res, d.stopped(err, &res))
		}
	}
	res.Complete = true
	return res, nil
}

// CheckChangeTracking reads the DC's position as an incremental run does
// and, with dirsync, tries a DirSync search (one that selects nobody), so
// that a missing "Replicating Directory Changes" right is found before the
// first run.
func (p *Probe) CheckChangeTracking(ctx context.Context, dirsync bool) (Position, error) {
	d := p.d
	pos, err := d.Position(ctx)
	if err != nil || !dirsync {
		return pos, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pinned = nil
	req := ldap.NewSearchRequest(d.syncNC, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)(sAMAccountName=upnsync-doctor-selects-nobody))", []string{"objectGUID"}, nil)
	if _, err := d.conn.DirSync(req, dirSyncFlags, 1<<20, nil); err != nil {
		return pos, dirSyncError(d.url, err)
	}
	return pos, nil
}
