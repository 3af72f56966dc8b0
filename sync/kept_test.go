package sync

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// A kept person comes back exactly as kept, however their DN and UPN are
// made (escaped commas, none, a trailing one, several at-signs, none,
// empty values, parts too long to number), with the rule of their change,
// and once the parts numbered reach their bound, whole.
func TestKeptPeopleRoundTrip(t *testing.T) {
	k := newKeptPeople()
	long := strings.Repeat("OU=x,", maxSharedPart/5+1) + "DC=corp"
	people := []Person{
		{DN: "CN=Ann Lee,OU=Sales,DC=corp", UPN: "ann@corp.example.com", SAMAccountName: "ann", GUID: "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{DN: `CN=Lee\, Ann,OU=Sales,DC=corp`, UPN: "a@b@corp.example.com", SAMAccountName: "lee", GUID: "0F8FAD5B-D9CB-469F-A165-70867728950E", Disabled: true},
		{DN: `CN=x\\,OU=y`, UPN: "no-at-sign", GUID: "not a guid"},
		{DN: "CN=nocomma", UPN: "@", GUID: ""},
		{DN: "CN=trailing,", UPN: "x@"},
		{DN: "", UPN: ""},
		{DN: ",", UPN: "ann@corp.example.com"},
		{DN: "CN=long," + long, UPN: "u@" + strings.Repeat("d", maxSharedPart+1)},
		{DN: "CN=Ann Lee,OU=Sales,DC=corp", UPN: "Ann@CORP.example.com", SAMAccountName: "ann2"},
	}
	for i := 0; i < 3*maxSharedParts/2; i += 997 {
		people = append(people, Person{DN: fmt.Sprintf("CN=p%d,OU=%d,DC=corp", i, i), UPN: fmt.Sprintf("p@d%d", i)})
	}
	var addrs []uint64
	for i := range people {
		addrs = append(addrs, k.keep(&people[i], uint8(i%3)))
	}
	for i := 0; i < maxSharedParts+10; i++ { // past the bound: kept whole
		p := Person{DN: fmt.Sprintf("CN=q,OU=%d", i), UPN: fmt.Sprintf("q@e%d", i)}
		people = append(people, p)
		addrs = append(addrs, k.keep(&p, ruleNone))
	}
	if len(k.parents.parts) > maxSharedParts || len(k.domains.parts) > maxSharedParts {
		t.Fatalf("%d parents, %d domains numbered", len(k.parents.parts), len(k.domains.parts))
	}
	for i, addr := range addrs {
		got, rule := k.person(addr)
		want := people[i]
		if IsGUID(want.GUID) {
			want.GUID = NormalizeGUID(want.GUID)
		}
		wantRule := uint8(i % 3)
		if i >= len(addrs)-maxSharedParts-10 {
			wantRule = ruleNone
		}
		if got != want || rule != wantRule || k.upn(addr) != want.UPN {
			t.Fatalf("person %d: got %+v rule %d (upn %q), want %+v rule %d", i, got, rule, k.upn(addr), want, wantRule)
		}
	}
}

// parseGUID accepts what IsGUID accepts and gives appendGUID's bytes.
func TestParseGUID(t *testing.T) {
	for _, g := range []string{"0f8fad5b-d9cb-469f-a165-70867728950e", "00000000-0000-0000-0000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff", "0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5b-d9cb-469f-a165-70867728950",
		"0f8fad5bd-9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950g", "{0f8fad5b-d9cb-469f-a165-70867728950e}",
		"0f8fad5b-d9cb-469f-a165_70867728950e", "", "0f8fad5b-d9cb-469f-a165-7086772895\xff"} {
		var raw [16]byte
		ok := parseGUID(&raw, g)
		if ok != IsGUID(g) || ok && string(raw[:]) != string(appendGUID(nil, g)) {
			t.Errorf("parseGUID(%q) = %x, %v; IsGUID %v", g, raw, ok, IsGUID(g))
		}
	}
}

// IsGUID and isGUIDBytes agree with the canonical form's pattern, on the
// forms it must refuse and on random near-GUIDs.
func TestIsGUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	cases := []string{"", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
		"{0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0}", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg",
		"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 ", "0f1e2d3c-4b5a-6978-8796_a5b4c3d2e1f0"}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789abcdefABCDEF-g{ "
	for range 2000 {
		b := []byte("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
		for range rng.IntN(3) {
			b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, c := range cases {
		want := re.MatchString(c)
		if IsGUID(c) != want || isGUIDBytes([]byte(c)) != want {
			t.Errorf("IsGUID(%q) = %v, isGUIDBytes %v, want %v", c, IsGUID(c), isGUIDBytes([]byte(c)), want)
		}
	}
}
