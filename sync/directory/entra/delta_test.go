package entra

import (
	"context"
	"github.com/upnsync/upnsync/sync/directory/entra/entratest"
	"strings"
	"testing"

	upnsync "github.com/upnsync/upnsync/sync"
)

const (
	goneGUID  = "aef6cd10-b33b-439e-8fc6-29c6119feed0" // sampleUsers' disabled user
	goneID    = "00000000-0000-0000-0000-000000000004"
	cloudID   = "00000000-0000-0000-0000-000000000002"
	purgedID  = "00000000-0000-0000-0000-000000000009"
	janeID    = "00000000-0000-0000-0000-000000000001"
	janeNewUP = "jane.smith@corp.example.com"
)

// deltaTenant holds sampleUsers and, after the first round's token t0,
// Jane renamed, the disabled user soft-deleted, a cloud-only user
// soft-deleted and someone deleted for good.
func deltaTenant(t *testing.T) *entratest.Tenant {
	tn := entratest.New(t)
	tn.Users, tn.PageSize = entratest.SampleUsers(), 2
	jane := entratest.SampleUsers()[0]
	jane["userPrincipalName"] = janeNewUP
	tn.Deltas["t0"] = entratest.DeltaRound{Next: "t1", Changes: []map[string]any{
		jane,
		{"id": goneID, "@removed": map[string]any{"reason": "changed"}},
		{"id": cloudID, "@removed": map[string]any{"reason": "changed"}},
		{"id": purgedID, "@removed": map[string]any{"reason": "deleted"}},
	}}
	// Entra renames a deleted user's UPN: the object id without hyphens first.
	tn.Deleted[goneID] = map[string]any{"id": goneID, "userPrincipalName": "00000000000000000000000000000004gone.away@corp.example.com",
		"onPremisesImmutableId": "EM32rjuznkOPxinGEZ/u0A==", "onPremisesDistinguishedName": "CN=Gone Away,OU=Staff,DC=corp,DC=example,DC=com"}
	tn.Deleted[cloudID] = map[string]any{"id": cloudID, "userPrincipalName": "00000000000000000000000000000002cloud.only@contoso.onmicrosoft.com"}
	return tn
}

func TestDeltaFirstRoundReadsEveryoneAndEndsWithALink(t *testing.T) {
	tn := deltaTenant(t)
	d := openTenant(t, tenantOptions(tn))
	d.Delta("")
	got, res, err := readAll(t, d)
	if err != nil || !res.Complete || res.Partial || len(got) != 5 || res.Pages != 3 {
		t.Fatalf("first round: %d people, %+v, %v", len(got), res, err)
	}
	dr := d.DeltaResult()
	if dr.From != "" || dr.Link != tn.Server.URL+"/v1.0/users/delta?$deltatoken=t0" || dr.FullReason != "" {
		t.Fatalf("delta result %+v", dr)
	}
	if !strings.HasPrefix(tn.Selects[0], "id,userPrincipalName,") {
		t.Fatalf("the first round's $select: %q", tn.Selects)
	}
}

func TestDeltaFromALinkReadsOnlyChangesAndTombstones(t *testing.T) {
	tn := deltaTenant(t)
	d := openTenant(t, tenantOptions(tn))
	d.Delta(tn.Server.URL + "/v1.0/users/delta?$deltatoken=t0")
	got, res, err := readAll(t, d)
	if err != nil || !res.Complete || !res.Partial {
		t.Fatalf("delta: %+v %v", res, err)
	}
	if len(got) != 2 || got[0].UPN != janeNewUP || got[0].GUID != hybridGUID || got[0].Deleted ||
		!got[1].Deleted || got[1].GUID != goneGUID || got[1].DN != "CN=Gone Away,OU=Staff,DC=corp,DC=example,DC=com" {
		t.Fatalf("people %+v", got)
	}
	if res.Tombstones != 1 || res.Entries != 2 {
		t.Fatalf("result %+v", res)
	}
	dr := d.DeltaResult()
	if dr.Link != tn.Server.URL+"/v1.0/users/delta?$deltatoken=t1" || dr.Unresolved != 1 || dr.FullReason != "" {
		t.Fatalf("delta result %+v", dr)
	}
}

func TestExpiredDeltaLinkFallsBackToAFullRound(t *testing.T) {
	for _, status := range []int{410, 400} {
		tn := deltaTenant(t)
		tn.Expired["old"] = status
		d := openTenant(t, tenantOptions(tn))
		d.Delta(tn.Server.URL + "/v1.0/users/delta?$deltatoken=old")
		got, res, err := readAll(t, d)
		if err != nil || !res.Complete || res.Partial || len(got) != 5 {
			t.Fatalf("%d: %d people, %+v, %v", status, len(got), res, err)
		}
		dr := d.DeltaResult()
		if !strings.Contains(dr.FullReason, "7 days") || dr.Link != tn.Server.URL+"/v1.0/users/delta?$deltatoken=t0" {
			t.Fatalf("%d: delta result %+v", status, dr)
		}
	}
	// A link of another endpoint is not sent there at all.
	tn := deltaTenant(t)
	d := openTenant(t, tenantOptions(tn))
	d.Delta("https://graph.example.net/v1.0/users/delta?$deltatoken=t0")
	if _, res, err := readAll(t, d); err != nil || res.Partial || !strings.Contains(d.DeltaResult().FullReason, "not a users delta link") {
		t.Fatalf("foreign link: %+v %v %+v", res, err, d.DeltaResult())
	}
}

// Through the engine: a delta read is partial, so nobody departs for not
// being in it; a soft-deleted user's tombstone departs as deleted and,
// with --remove-departed, its entries go.
func TestDeltaThroughThePlanner(t *testing.T) {
	tn := deltaTenant(t)
	d := openTenant(t, tenantOptions(tn))
	d.Delta(tn.Server.URL + "/v1.0/users/delta?$deltatoken=t0")
	p := upnsync.NewPlanner(upnsync.Options{RemoveDeparted: true})
	p.AddUser(upnsync.User{ID: "1", ExternalID: hybridGUID, WindowsUsernames: "jdoe;jane.doe@corp.example.com",
		Owned: []upnsync.Owned{{Entry: "jane.doe@corp.example.com", GUID: hybridGUID}}})
	p.AddUser(upnsync.User{ID: "2", WindowsUsernames: "gaway;gone.away@corp.example.com",
		Owned: []upnsync.Owned{{Entry: "gone.away@corp.example.com", GUID: goneGUID}}})
	p.AddUser(upnsync.User{ID: "3", WindowsUsernames: "other;other@corp.example.com",
		Owned: []upnsync.Owned{{Entry: "other@corp.example.com", GUID: "0f9c6a4e-0000-4000-8000-000000000000"}}})
	res, err := d.Read(context.Background(), func(person upnsync.Person) error { p.Add(person); return nil })
	if err != nil {
		t.Fatal(err)
	}
	plan := p.Plan(res)
	if len(plan.Departures) != 1 || plan.Departures[0].GUID != goneGUID || plan.Departures[0].Reason != upnsync.DepartedDeleted || !plan.Departures[0].Removed {
		t.Fatalf("departures %+v", plan.Departures)
	}
	var renamed, removed bool
	for _, c := range plan.Changes.All() {
		renamed = renamed || (c.UserID == "1" && c.After == "jdoe;"+janeNewUP)
		removed = removed || (c.UserID == "2" && c.After == "gaway")
		if c.UserID == "3" {
			t.Fatalf("someone not in the delta was changed: %+v", c)
		}
	}
	if !renamed || !removed {
		t.Fatalf("changes %+v", plan.Changes)
	}
}
