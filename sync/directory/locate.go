package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	upnsync "github.com/upnsync/upnsync/sync"
)

// controlShowDeleted (LDAP_SERVER_SHOW_DELETED_OID) makes AD return
// tombstones, so that a deleted object is told from one that never existed
// or was purged; controlShowRecycled (LDAP_SERVER_SHOW_RECYCLED_OID) those
// the AD Recycle Bin recycled too. Sent non-critical: other servers ignore
// them. Reading a tombstone needs the right to list the Deleted Objects
// container, which ordinary accounts lack.
const (
	controlShowDeleted  = "1.2.840.113556.1.4.417"
	controlShowRecycled = "1.2.840.113556.1.4.2064"
)

// objectClass shows that the account may read the object's attributes: a
// deny ACE can leave an object's DN visible and its attributes not, and
// then a filter never selects it, which is no evidence of anything.
var locateAttrs = []string{"objectGUID", "isDeleted", "userAccountControl", "objectClass"}

var (
	_ upnsync.GUIDLocator = (*ldapDirectory)(nil)
	_ upnsync.GUIDLocator = (*ldifDirectory)(nil)
)

// LocateGUID finds the object with this objectGUID wherever it is in the
// domain and says why the read did not return it, on positive evidence
// only (docs/design.md, rule D2): deleted (its tombstone read), moved out
// of the searched bases, disabled, or no longer selected by the user filter
// (the object read, and seen there). An object this account cannot see, or
// whose attributes it cannot read, is not found: maybe deleted and purged,
// maybe hidden from the account, which is no evidence that the person left.
// On AD it is a base search on <GUID=canonical>, which follows the object
// across moves; servers that do not know that syntax (OpenLDAP answers
// invalidDNSyntax) get a subtree search of the naming context for
// (objectGUID=\xx...), every byte escaped.
func (d *ldapDirectory) LocateGUID(ctx context.Context, guid string) (upnsync.Whereabouts, error) {
	raw, err := GUIDBytes(guid)
	if err != nil {
		return upnsync.Whereabouts{}, err
	}
	canonical, _ := GUIDString(raw)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return upnsync.Whereabouts{}, err
	}
	if d.conn == nil || d.conn.IsClosing() {
		d.dropConn()
		if err := d.connect(); err != nil {
			return upnsync.Whereabouts{}, err
		}
	}

	e, where, err := d.findGUID(canonical)
	if err != nil {
		return upnsync.Whereabouts{}, err
	}
	if e == nil {
		return upnsync.Whereabouts{Reason: upnsync.DepartedNotFound, Detail: d.notFound(where)}, nil
	}
	w := upnsync.Whereabouts{DN: e.DN}
	if strings.EqualFold(e.GetEqualFoldAttributeValue("isDeleted"), "TRUE") {
		w.Reason, w.Detail = upnsync.DepartedDeleted, "deleted: its tombstone was read at "+e.DN
		return w, nil
	}
	if len(e.GetEqualFoldAttributeValues("objectClass")) == 0 {
		w.Reason, w.Detail = upnsync.DepartedNotFound, "at "+e.DN+", but "+d.account()+" may not read its attributes, so whether it is still a selected user cannot be told"
		return w, nil
	}
	inScope, err := d.inBases(e.DN)
	if err != nil {
		return upnsync.Whereabouts{}, err
	}
	if !inScope {
		w.Reason, w.Detail = upnsync.DepartedMoved, "now at "+e.DN+", outside the searched bases ("+strings.Join(d.bases, "; ")+")"
		return w, nil
	}
	if uacDisabled(e.GetEqualFoldAttributeValue("userAccountControl")) {
		w.Reason, w.Detail = upnsync.DepartedDisabled, "disabled account at "+e.DN+", left out by the user filter"
		return w, nil
	}
	selected, err := d.selects(e.DN)
	if err != nil {
		return upnsync.Whereabouts{}, err
	}
	if selected {
		w.Reason, w.Detail = upnsync.DepartedPresent, "at "+e.DN+" and selected by the user filter: created or moved back after the read"
		return w, nil
	}
	w.Reason, w.Detail = upnsync.DepartedFiltered, "at "+e.DN+", inside the searched bases, but the user filter "+d.filter+" no longer selects it"
	return w, nil
}

// notFound says what an object's absence from a lookup means, and what
// to check (upnsync.NotFoundCheck says it again where the entries are
// kept).
func (d *ldapDirectory) notFound(where string) string {
	if where == "" || strings.HasPrefix(where, "<GUID=") {
		return "no object with this objectGUID, and no tombstone of one, is visible to " + d.account() + " (" + where +
			" with the show-deleted control): the account may not read it (a read right missing or denied on its OU), or it was deleted and its tombstone purged or hidden (listing the Deleted Objects container needs a right ordinary accounts lack)"
	}
	return "no object with this objectGUID is visible to " + d.account() + " under " + where +
		": the account may not read it (a read right missing or denied on its entry or a parent), or it was deleted (this directory keeps no tombstones)"
}

// account names the account upnsync binds as, for a departure's detail.
func (d *ldapDirectory) account() string {
	if d.opts.Login != "" {
		return "the account upnsync binds as (" + d.opts.Login + ")"
	}
	return "the account upnsync binds as"
}

// findGUID returns the object, or nil when there is none, and names where
// it looked.
func (d *ldapDirectory) findGUID(canonical string) (*ldap.Entry, string, error) {
	if !d.noGUIDDN {
		req := baseSearch("<GUID="+canonical+">", "(objectClass=*)", locateAttrs,
			ldap.NewControlString(controlShowDeleted, false, ""), ldap.NewControlString(controlShowRecycled, false, ""))
		sr, err := d.conn.Search(req)
		switch {
		case err == nil && len(sr.Entries) > 0:
			return sr.Entries[0], "", nil
		case err == nil, ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
			return nil, "<GUID=" + canonical + ">", nil
		case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidDNSyntax):
			d.noGUIDDN = true // not AD: remember, and search by filter from now on
		default:
			return nil, "", d.locateError(err, canonical)
		}
	}
	nc, err := d.namingContext()
	if err != nil {
		return nil, "", err
	}
	// Every byte escaped: a GUID's raw bytes include '*', '(' and NUL.
	filter, err := GUIDFilter(canonical)
	if err != nil {
		return nil, "", err
	}
	req := ldap.NewSearchRequest(nc, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		filter, locateAttrs, nil)
	req.EnforceSizeLimit = true
	sr, err := d.conn.Search(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && !errors.Is(err, ldap.ErrSizeLimitExceeded) {
		return nil, "", d.locateError(err, canonical)
	}
	if sr == nil || len(sr.Entries) == 0 {
		return nil, nc, nil
	}
	return sr.Entries[0], nc, nil
}

// namingContext is the root of the domain that holds the first search
// base, from the rootDSE's namingContexts, else the base's DC= components.
func (d *ldapDirectory) namingContext() (string, error) {
	if d.nc != "" {
		return d.nc, nil
	}
	base, err := ldap.ParseDN(d.bases[0])
	if err != nil {
		return "", fmt.Errorf("search base %q is not a valid DN: %s", d.bases[0], ldapErrText(err))
	}
	if root, err := d.rootDSE(); err == nil {
		for _, v := range root.GetEqualFoldAttributeValues("namingContexts") {
			if nc, err := ldap.ParseDN(v); err == nil && nc.AncestorOfFold(base) || strings.EqualFold(v, d.bases[0]) {
				d.nc = v
				return v, nil
			}
		}
	}
	if i := dcSuffix(d.bases[0]); i >= 0 {
		d.nc = d.bases[0][i:]
		return d.nc, nil
	}
	d.nc = d.bases[0]
	return d.nc, nil
}

// inBases reports whether dn is one of the searched bases or below one.
func (d *ldapDirectory) inBases(dn string) (bool, error) {
	obj, err := ldap.ParseDN(dn)
	if err != nil {
		return false, fmt.Errorf("the directory returned the DN %q, which is not valid: %s", dn, ldapErrText(err))
	}
	for _, b := range d.bases {
		base, err := ldap.ParseDN(b)
		if err != nil {
			return false, fmt.Errorf("search base %q is not a valid DN: %s", b, ldapErrText(err))
		}
		if base.EqualFold(obj) || base.AncestorOfFold(obj) {
			return true, nil
		}
	}
	return false, nil
}

// selects reports whether the user filter selects the object at dn.
func (d *ldapDirectory) selects(dn string) (bool, error) {
	sr, err := d.conn.Search(baseSearch(dn, d.filter, []string{"1.1"}))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return false, nil
	}
	if err != nil {
		return false, d.locateError(err, dn)
	}
	return len(sr.Entries) > 0, nil
}

func (d *ldapDirectory) locateError(err error, what string) error {
	if berr := d.broken("looking up " + what); berr != nil {
		d.dropConn()
		return berr
	}
	msg, hint := d.describeOpError(err, what)
	if d.connLost(err) {
		d.dropConn()
	}
	return newError(err, "looking up %s: %s", what, joinHint(msg, hint))
}

// LocateGUID of an export can only say that the person is not in it: a
// file cannot tell deleted from disabled or moved, nor from hidden from
// the account that made it (docs/safety.md says why its absence still
// counts, and what guards it).
func (d *ldifDirectory) LocateGUID(context.Context, string) (upnsync.Whereabouts, error) {
	return upnsync.Whereabouts{Reason: upnsync.DepartedNotInExport,
		Detail: "not in " + d.path + "; an export cannot tell whether the account was deleted, disabled or moved, or hidden from the account that made the export"}, nil
}
