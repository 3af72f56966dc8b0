package entra

import (
	"bytes"
	"context"
	"github.com/upnsync/upnsync/sync/directory/entra/entratest"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	upnsync "github.com/upnsync/upnsync/sync"
	"github.com/upnsync/upnsync/sync/directory"
)

// The objectGUID of entratest.SampleUsers' hybrid user: raw bytes
// e004253f894fd3119a0c0305e82c3301, whose base64 (4AQlP4lP0xGaDAMF6CwzAQ==)
// is the user's onPremisesImmutableId.
const hybridGUID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"

// wantSample are the Persons of sampleUsers.
func wantSample() []upnsync.Person {
	return []upnsync.Person{
		{GUID: hybridGUID, UPN: "jane.doe@corp.example.com", SAMAccountName: "jdoe", Domain: "CORP", DNSDomain: "corp.example.com",
			DN: "CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com", GivenName: "Jane", Surname: "Doe", Mail: "jane.doe@corp.example.com"},
		{UPN: "cloud.only@contoso.onmicrosoft.com", GivenName: "Cloud", Surname: "Only", Mail: "cloud.only@contoso.com"},
		{UPN: "guest_example.org#EXT#@contoso.onmicrosoft.com", GivenName: "Gus", Surname: "Guest", Mail: "guest@example.org", Skip: SkipGuest},
		{GUID: "aef6cd10-b33b-439e-8fc6-29c6119feed0", UPN: "gone.away@corp.example.com", SAMAccountName: "gaway", Domain: "CORP", DNSDomain: "corp.example.com",
			DN: "CN=Gone Away,OU=Staff,DC=corp,DC=example,DC=com", GivenName: "Gone", Surname: "Away", Mail: "gone.away@corp.example.com", Disabled: true},
		{UPN: "custom.anchor@corp.example.com", SAMAccountName: "canchor", Domain: "CORP", DNSDomain: "corp.example.com",
			GivenName: "Custom", Surname: "Anchor", Mail: "custom.anchor@corp.example.com"},
	}
}

func openTenant(t *testing.T, o Options) *Directory {
	t.Helper()
	d, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func readAll(t *testing.T, d upnsync.Directory) ([]upnsync.Person, upnsync.ReadResult, error) {
	t.Helper()
	var got []upnsync.Person
	res, err := d.Read(context.Background(), func(p upnsync.Person) error {
		got = append(got, p)
		return nil
	})
	return got, res, err
}

func TestReadAllPagesAndMapsEachKindOfUser(t *testing.T) {
	tn := entratest.New(t)
	tn.Users, tn.PageSize = entratest.SampleUsers(), 2
	var logs bytes.Buffer
	o := tenantOptions(tn)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	d := openTenant(t, o)
	got, res, err := readAll(t, d)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if !reflect.DeepEqual(got, wantSample()) {
		t.Fatalf("people:\n got %+v\nwant %+v", got, wantSample())
	}
	// 5 users in pages of 2: three pages, the last without a nextLink.
	if !res.Complete || res.Why != "" || res.Pages != 3 || res.Entries != 5 || res.Partial ||
		len(res.Bases) != 1 || res.Bases[0].Entries != 5 || res.Bases[0].Pages != 3 {
		t.Fatalf("result %+v", res)
	}
	// A custom source anchor is reported by name, never guessed.
	if !strings.Contains(logs.String(), "custom.anchor@corp.example.com") || !strings.Contains(logs.String(), "E12345") {
		t.Fatalf("no warning naming the custom-anchor user: %s", logs.String())
	}
	for _, sel := range tn.Selects {
		want := "id,userPrincipalName,mail,givenName,surname,accountEnabled,userType,onPremisesImmutableId,onPremisesSamAccountName,onPremisesDomainName,onPremisesDistinguishedName"
		if sel != want {
			t.Fatalf("$select = %q, want %q", sel, want)
		}
	}
	if tn.Issued != 1 {
		t.Fatalf("%d tokens issued for one read; want 1 (cached)", tn.Issued)
	}
}

func TestIncludeGuestsAndMappedAttributes(t *testing.T) {
	tn := entratest.New(t)
	tn.Users = entratest.SampleUsers()
	o := tenantOptions(tn)
	o.IncludeGuests = true
	o.NetBIOSDomain = "CORPNET"
	// A mapping that fills e-mail from the phone's extension and the
	// first name from the job title: any table row with Index/Separator.
	o.Fields.Email = mappingSource("TelephoneNumber", "x", 1)
	o.Fields.FirstName = mappingSource("Title", "", 0)
	d := openTenant(t, o)
	got, _, err := readAll(t, d)
	if err != nil {
		t.Fatal(err)
	}
	if got[2].Skip != "" {
		t.Fatalf("guest skipped with --include-guests: %+v", got[2])
	}
	if got[0].Mail != "12" || got[0].GivenName != "Engineer" || got[0].Domain != "CORPNET" || got[1].Domain != "" {
		t.Fatalf("mapped: %+v / %+v", got[0], got[1])
	}
	if !strings.Contains(tn.Selects[0], ",businessPhones") || !strings.Contains(tn.Selects[0], ",jobTitle") {
		t.Fatalf("$select %q lacks the mapped properties", tn.Selects[0])
	}
}

func TestThrottledRequestsWaitForRetryAfter(t *testing.T) {
	tn := entratest.New(t)
	tn.Users, tn.Throttle, tn.RetryAfter = entratest.SampleUsers(), 2, "7"
	d := openTenant(t, tenantOptions(tn))
	var waits []time.Duration
	d.wait = func(_ context.Context, w time.Duration) error { waits = append(waits, w); return nil }
	got, res, err := readAll(t, d)
	if err != nil || !res.Complete || len(got) != 5 {
		t.Fatalf("read after throttling: %d people, %+v, %v", len(got), res, err)
	}
	if !reflect.DeepEqual(waits, []time.Duration{7 * time.Second, 7 * time.Second}) {
		t.Fatalf("waits %v, want Retry-After 7s twice", waits)
	}
}

func TestThrottlingBeyondRetriesOrTimeoutIsIncomplete(t *testing.T) {
	for _, tt := range []struct {
		name, retryAfter string
		retries          int
		want             string
	}{
		{"retries", "1", 2, "gave up after --retries 2"},
		{"no retries", "1", NoRetries, "429 Too Many Requests to page 1 of the users of entra:" + entratest.TenantID + " 1 time (throttled or busy); gave up after --retries 0"},
		{"timeout", "3600", 3, "longer than --timeout 10s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tn := entratest.New(t)
			tn.Users, tn.Throttle, tn.RetryAfter = entratest.SampleUsers(), 100, tt.retryAfter
			o := tenantOptions(tn)
			o.Retries = tt.retries
			d := openTenant(t, o)
			d.wait = func(context.Context, time.Duration) error { return nil }
			_, res, err := readAll(t, d)
			if err == nil || res.Complete || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "429") || res.Why != err.Error() {
				t.Fatalf("err %v, result %+v; want %q", err, res, tt.want)
			}
		})
	}
}

func TestForbiddenNamesThePermissionAndConsent(t *testing.T) {
	tn := entratest.New(t)
	tn.Users, tn.Roles = entratest.SampleUsers(), nil
	d := openTenant(t, tenantOptions(tn))
	_, res, err := readAll(t, d)
	if err == nil || res.Complete {
		t.Fatalf("read without permission: %+v %v", res, err)
	}
	for _, want := range []string{"403", "Authorization_RequestDenied", "Insufficient privileges", "User.Read.All", "admin consent", entratest.ClientID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if directory.Transient(err) {
		t.Errorf("a refused permission is not transient")
	}
}

func TestUnauthorizedTokenIsExplained(t *testing.T) {
	tn := entratest.New(t)
	tn.Users = entratest.SampleUsers()
	d := openTenant(t, tenantOptions(tn))
	if err := d.SignIn(context.Background()); err != nil {
		t.Fatal(err)
	}
	tn.Mu.Lock()
	tn.Tokens = nil // Graph no longer accepts the token
	tn.Mu.Unlock()
	_, _, err := readAll(t, d)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "InvalidAuthenticationToken") ||
		!strings.Contains(err.Error(), "--graph-endpoint") || !strings.Contains(err.Error(), "User.Read.All") {
		t.Fatalf("err %v", err)
	}
}

// A wrong secret fails the sign-in with Entra's one-line reason, and the
// secret appears nowhere, even when the server echoes it back.
func TestWrongSecretErrorNeverShowsTheSecret(t *testing.T) {
	tn := entratest.New(t)
	tn.Secret, tn.EchoSecret = "the-right-one", true
	d := openTenant(t, tenantOptions(tn))
	_, res, err := readAll(t, d)
	if err == nil || res.Complete {
		t.Fatalf("read with a wrong secret: %+v", res)
	}
	msg := err.Error()
	if !strings.Contains(msg, "AADSTS7000215") || !strings.Contains(msg, "invalid_client") || strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error %q", msg)
	}
	for _, form := range []string{entratest.DefaultSecret, url.QueryEscape(entratest.DefaultSecret), "s3cr3t"} {
		if strings.Contains(msg, form) || strings.Contains(res.Why, form) {
			t.Fatalf("the secret (%q) is in the error: %s", form, msg)
		}
	}
	if !strings.Contains(msg, "[redacted]") {
		t.Fatalf("the echoed secret was not replaced: %s", msg)
	}
	var de *directory.Error
	if asDirErr(err, &de) && de.Err != nil && strings.Contains(de.Err.Error(), "s3cr3t") {
		t.Fatalf("the cause carries the secret: %v", de.Err)
	}
	s := tenantOptions(tn).String() + tenantOptions(tn).GoString()
	if strings.Contains(s, "s3cr3t") || !strings.Contains(s, "ClientSecret:(set)") {
		t.Fatalf("Options print the secret: %s", s)
	}
}

func TestPageCutInTheMiddleIsIncomplete(t *testing.T) {
	t.Run("HTTP/1.1", func(t *testing.T) { pageCut(t, false) })
	t.Run("HTTP/2", func(t *testing.T) { pageCut(t, true) })
}

func pageCut(t *testing.T, http2 bool) {
	tn := entratest.NewHTTP(t, http2)
	tn.Users, tn.PageSize, tn.CutPage = entratest.SampleUsers(), 2, 2
	d := openTenant(t, tenantOptions(tn))
	got, res, err := readAll(t, d)
	if err == nil || res.Complete || res.Why == "" {
		t.Fatalf("a cut page read as %+v, %v", res, err)
	}
	if !strings.Contains(err.Error(), "page 2") || !strings.Contains(err.Error(), "cut off") || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("error %v", err)
	}
	if len(got) > 3 || res.Pages != 1 {
		t.Fatalf("%d people, %d pages from a read cut in page 2", len(got), res.Pages)
	}
	if last := tn.Requests[len(tn.Requests)-1]; strings.HasPrefix(last, "HTTP/2") != http2 {
		t.Fatalf("the page was asked for as %q", last)
	}
	if !directory.Transient(err) {
		t.Errorf("a connection closed mid-page should be worth another attempt: %v", err)
	}
}

func TestPageOverTheLimitIsAnError(t *testing.T) {
	tn := entratest.New(t)
	tn.Users = entratest.SampleUsers()
	o := tenantOptions(tn)
	o.PageLimit = 1 << 10
	d := openTenant(t, o)
	_, res, err := readAll(t, d)
	if err == nil || res.Complete || !strings.Contains(err.Error(), "page limit") {
		t.Fatalf("%+v %v", res, err)
	}
}

// A nextLink to another host is not followed: the token would go there.
func TestLinkToAnotherHostIsNotFollowed(t *testing.T) {
	hit := false
	other := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer other.Close()
	tn := entratest.New(t)
	tn.Users = entratest.SampleUsers()
	d := openTenant(t, tenantOptions(tn))
	if err := d.SignIn(context.Background()); err != nil {
		t.Fatal(err)
	}
	var res upnsync.ReadResult
	_, err := d.readPages(context.Background(), other.URL+"/v1.0/users", false, func(upnsync.Person) error { return nil }, &res)
	if err == nil || !strings.Contains(err.Error(), "not followed") || hit {
		t.Fatalf("err %v, other host reached: %t", err, hit)
	}
}

func TestCheckShowsRolesAndTheFirstUser(t *testing.T) {
	tn := entratest.New(t)
	tn.Users = entratest.SampleUsers()
	d := openTenant(t, tenantOptions(tn))
	c, err := d.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth != AuthSecret || !c.HasUserReadAll() || c.First == nil || c.First.GUID != hybridGUID || !strings.Contains(c.Users, "$top=1") {
		t.Fatalf("check %+v", c)
	}
	tn.Roles = nil
	d2 := openTenant(t, tenantOptions(tn))
	c, err = d2.Check(context.Background())
	if err == nil || c.HasUserReadAll() || !strings.Contains(err.Error(), "User.Read.All") {
		t.Fatalf("check without the permission: %+v %v", c, err)
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"0": 0, "12": 12 * time.Second,
		"Wed, 01 Jan 2025 00:00:30 GMT": 30 * time.Second, "Tue, 31 Dec 2024 00:00:00 GMT": 0} {
		if got, ok := retryAfter(v, now); !ok || got != want {
			t.Errorf("retryAfter(%q) = %v %t, want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "soon", "-3"} {
		if _, ok := retryAfter(v, now); ok {
			t.Errorf("retryAfter(%q) accepted", v)
		}
	}
}

func TestAnswerThatIsNotAUsersPage(t *testing.T) {
	tn := entratest.New(t)
	d := openTenant(t, tenantOptions(tn))
	for body, want := range map[string]string{
		`{"value":[{"id":"1"}],"@odata.nextLink":"x"}{"more":1}`: "more data after",
		`{"@odata.context":"x"}`:                                 `no "value" array`,
		`<html><body>Sign in</body></html>`:                      "invalid character",
		`{"value":{"id":"1"}}`:                                   `expected "["`,
		`{"value":[{"id":1}]}`:                                   "cannot unmarshal",
	} {
		var res upnsync.ReadResult
		_, err := d.readPages(context.Background(), tn.Server.URL+"/v1.0/odd?body="+url.QueryEscape(body), false,
			func(upnsync.Person) error { return nil }, &res)
		if err == nil || !strings.Contains(err.Error(), "is not a Microsoft Graph users page") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", body, err, want)
		}
	}
}
