package entratest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// SampleUsers are one of each kind a source must tell apart: a hybrid
// user (objectGUID 3f2504e0-4f89-11d3-9a0c-0305e82c3301), a cloud-only
// user, a guest, a disabled hybrid user and one with a custom source
// anchor.
func SampleUsers() []map[string]any {
	return []map[string]any{
		{"id": "00000000-0000-0000-0000-000000000001", "userPrincipalName": "jane.doe@corp.example.com", "mail": "jane.doe@corp.example.com",
			"givenName": "Jane", "surname": "Doe", "accountEnabled": true, "userType": "Member",
			"onPremisesImmutableId": "4AQlP4lP0xGaDAMF6CwzAQ==", "onPremisesSamAccountName": "jdoe", "onPremisesDomainName": "corp.example.com",
			"onPremisesDistinguishedName": "CN=Jane Doe,OU=Staff,DC=corp,DC=example,DC=com", "jobTitle": "Engineer", "businessPhones": []string{"+1 555 0100x12"}},
		{"id": "00000000-0000-0000-0000-000000000002", "userPrincipalName": "cloud.only@contoso.onmicrosoft.com", "mail": "cloud.only@contoso.com",
			"givenName": "Cloud", "surname": "Only", "accountEnabled": true, "userType": "Member",
			"onPremisesImmutableId": nil, "onPremisesSamAccountName": nil, "onPremisesDomainName": nil, "onPremisesDistinguishedName": nil, "businessPhones": []string{}},
		{"id": "00000000-0000-0000-0000-000000000003", "userPrincipalName": "guest_example.org#EXT#@contoso.onmicrosoft.com", "mail": "guest@example.org",
			"givenName": "Gus", "surname": "Guest", "accountEnabled": true, "userType": "Guest"},
		{"id": "00000000-0000-0000-0000-000000000004", "userPrincipalName": "gone.away@corp.example.com", "mail": "gone.away@corp.example.com",
			"givenName": "Gone", "surname": "Away", "accountEnabled": false, "userType": "Member",
			"onPremisesImmutableId": "EM32rjuznkOPxinGEZ/u0A==", "onPremisesSamAccountName": "gaway", "onPremisesDomainName": "corp.example.com",
			"onPremisesDistinguishedName": "CN=Gone Away,OU=Staff,DC=corp,DC=example,DC=com"},
		{"id": "00000000-0000-0000-0000-000000000005", "userPrincipalName": "custom.anchor@corp.example.com", "mail": "custom.anchor@corp.example.com",
			"givenName": "Custom", "surname": "Anchor", "accountEnabled": true, "userType": "Member",
			"onPremisesImmutableId": "E12345", "onPremisesSamAccountName": "canchor", "onPremisesDomainName": "corp.example.com"},
	}
}

// ldifRecords reads an LDIF file into records of attribute -> first
// value (names lower-cased; base64 values decoded; "objectclass" joined).
// The generated file has no folded lines; one would fail the test.
func ldifRecords(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]string
	rec := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(rec) > 0 {
				out = append(out, rec)
				rec = map[string]string{}
			}
			continue
		case strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, " "):
			t.Fatalf("%s: folded lines are not expected in the generated LDIF", path)
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("%s: %q", path, line)
		}
		if strings.HasPrefix(value, ":") {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[1:]))
			if err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			value = string(raw)
		} else {
			value = strings.TrimPrefix(value, " ")
		}
		name = strings.ToLower(name)
		if name == "objectclass" {
			rec[name] += value + ";"
		} else if _, seen := rec[name]; !seen {
			rec[name] = value
		}
	}
	if len(rec) > 0 {
		out = append(out, rec)
	}
	return out
}

// UsersFromLDIF makes the Graph users Entra Connect would sync from
// the LDIF's people (objectCategory person, objectClass user).
func UsersFromLDIF(t testing.TB, path string) []map[string]any {
	var users []map[string]any
	for i, r := range ldifRecords(t, path) {
		if r["objectcategory"] != "person" || !strings.Contains(strings.ToLower(r["objectclass"]), "user;") {
			continue
		}
		uac, _ := strconv.Atoi(r["useraccountcontrol"])
		var dcs []string
		for _, rdn := range strings.Split(r["dn"], ",") {
			if k, v, _ := strings.Cut(rdn, "="); strings.EqualFold(strings.TrimSpace(k), "dc") {
				dcs = append(dcs, strings.ToLower(v))
			}
		}
		u := map[string]any{
			"id":                          fmt.Sprintf("%08x-0000-4000-8000-000000000000", i),
			"givenName":                   nilIfEmpty(r["givenname"]),
			"surname":                     nilIfEmpty(r["sn"]),
			"mail":                        nilIfEmpty(r["mail"]),
			"accountEnabled":              uac&2 == 0,
			"userType":                    "Member",
			"onPremisesImmutableId":       base64.StdEncoding.EncodeToString([]byte(r["objectguid"])),
			"onPremisesSamAccountName":    r["samaccountname"],
			"onPremisesDistinguishedName": r["dn"],
			"onPremisesDomainName":        strings.Join(dcs, "."),
			"businessPhones":              []string{},
		}
		// Every Entra user has a UPN; the few LDIF people without one are
		// kept without, so both sides read the same thing.
		if upn := r["userprincipalname"]; upn != "" {
			u["userPrincipalName"] = upn
		}
		users = append(users, u)
	}
	return users
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
