package directory

import (
	"context"
	"testing"

	"github.com/upnsync/upnsync/internal/testenv"
	upnsync "github.com/upnsync/upnsync/sync"
)

// Against the real Samba DC, without the domain-scope control (which the
// reader sends whenever the rootDSE announces it, as Samba's does): a
// search from the domain root meets Samba's three continuation references
// (Configuration, DomainDnsZones, ForestDnsZones); they are counted, never
// chased (the same people are read as with the control), and the read is
// still complete.
func TestSambaReferralsCountedNotChased(t *testing.T) {
	e := testenv.Samba(t)
	read := func(scope bool) (map[string]bool, upnsync.ReadResult) {
		t.Helper()
		d, err := openLDAP(Options{URL: e.LDAPSURL, CAFile: e.CAFile, Login: e.BindDN, Password: e.Password,
			Bases: []string{e.Base}, PageSize: DefaultPageSize})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if !d.domainScope {
			t.Fatal("Samba's rootDSE should announce the domain-scope control (1.2.840.113556.1.4.1339)")
		}
		d.domainScope = scope
		seen := map[string]bool{}
		res, err := d.Read(context.Background(), func(p upnsync.Person) error {
			seen[p.GUID] = true
			return nil
		})
		if err != nil || !res.Complete {
			t.Fatalf("read (domain scope %v): %v (complete %v: %s)", scope, err, res.Complete, res.Why)
		}
		return seen, res
	}
	without, res := read(false)
	if res.Referrals != 3 {
		t.Errorf("%d continuation references counted without the domain-scope control, want Samba's 3", res.Referrals)
	}
	if len(res.Bases) != 1 || res.Bases[0].Referrals != 3 {
		t.Errorf("per-base referrals %+v, want 3 for %s", res.Bases, e.Base)
	}
	with, res := read(true)
	if res.Referrals != 0 {
		t.Errorf("%d continuation references with the domain-scope control, want 0", res.Referrals)
	}
	// Users of other packages' scratch OUs may come and go between the two
	// reads; the loaded domain does not.
	if len(without) < e.Users || len(with) < e.Users || len(without) > len(with)+50 || len(with) > len(without)+50 {
		t.Errorf("read %d people without the control and %d with it: a referral was chased, or users are missing", len(without), len(with))
	}
}
