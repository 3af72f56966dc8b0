package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/upnsync/upnsync/internal/testenv"
	"github.com/upnsync/upnsync/sync/directory/entra/entratest"
)

// One data set read two ways against the same store: the test slapd's
// people over LDAP, and the same people as Entra Connect would have put
// them in Entra ID (entratest.UsersFromLDIF) through Microsoft Graph, give
// the same plan: the same changes, conflicts, unmatched and skipped
// people, and the same exit code. Only the directory's name differs.
func TestEntraAndLDAPGiveTheSamePlan(t *testing.T) {
	env := testenv.LDAP(t)
	dir := t.TempDir()
	store := "sqlite:" + filepath.Join(dir, "octopus.db")
	if code, out, errOut := cli(t, nil, "store", "import", "--store", store, env.OctopusCSV); code != 0 {
		t.Fatalf("import: %s %s", out, errOut)
	}
	mappingFile := filepath.Join("..", "..", "testdata", "mapping", "ADSIReaderLDAPMappings-upn.xml")
	tn := entratest.New(t)
	tn.Users = entratest.UsersFromLDIF(t, env.LDIF)

	ldapCode, ldapOut, ldapErr := cli(t, nil, "--config-file-path", mappingFile, "--directory", env.LDAPSURL, "--ca-file", env.CAFile,
		"--login", env.BindDN, "--password-file", env.PasswordFile, "--domain", env.Base, "--store", store, "--report", "json")
	entraCode, entraOut, entraErr := cli(t, map[string]string{"UPNSYNC_CLIENT_SECRET": entratest.DefaultSecret},
		"--config-file-path", mappingFile, "--directory", "entra:"+entratest.TenantID, "--client-id", entratest.ClientID,
		"--authority-host", tn.AuthorityHost(), "--graph-endpoint", tn.Server.URL, "--ca-file", tn.CAFile,
		"--store", store, "--report", "json")
	viaLDAP, viaGraph := planOf(t, ldapOut, ldapErr), planOf(t, entraOut, entraErr)
	if ldapCode != entraCode || ldapCode == exitError {
		t.Fatalf("exit %d over LDAP, %d through Graph\n%s\n%s", ldapCode, entraCode, ldapErr, entraErr)
	}
	n := 0
	for _, k := range []string{"changes", "conflicts", "unmatched", "skipped"} {
		n += len(viaLDAP[k])
		if !reflect.DeepEqual(viaLDAP[k], viaGraph[k]) {
			a, _ := json.MarshalIndent(viaLDAP[k], "", " ")
			b, _ := json.MarshalIndent(viaGraph[k], "", " ")
			t.Errorf("%s differ:\n--- LDAP\n%.3000s\n--- Graph\n%.3000s", k, a, b)

		}
	}
	if len(viaLDAP["changes"]) == 0 || len(viaLDAP["conflicts"]) == 0 || len(viaLDAP["unmatched"]) == 0 || len(viaLDAP["skipped"]) == 0 {
		t.Errorf("the data set leaves a kind of outcome empty (%d changes, %d conflicts, %d unmatched, %d skipped): the comparison proves less than it should",
			len(viaLDAP["changes"]), len(viaLDAP["conflicts"]), len(viaLDAP["unmatched"]), len(viaLDAP["skipped"]))
	}
	t.Logf("the same plan over LDAP and through Graph: %d outcomes (%d changes, %d conflicts, %d unmatched, %d skipped)",
		n, len(viaLDAP["changes"]), len(viaLDAP["conflicts"]), len(viaLDAP["unmatched"]), len(viaLDAP["skipped"]))
}

// planOf is a JSON report's outcomes, with DNs in one form: slapd gives
// them as it stores them (Kowalski\2C Carla), Entra Connect as AD has
// them (Kowalski\, Carla); the same DN either way.
func planOf(t *testing.T, out, errOut string) map[string][]any {
	t.Helper()
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s\n%s", err, out, errOut)
	}
	plan := map[string][]any{}
	for _, k := range []string{"changes", "conflicts", "unmatched", "skipped"} {
		list, _ := r[k].([]any)
		for _, item := range list {
			plan[k] = append(plan[k], canonicalDNs(item))
		}
	}
	return plan
}

// canonicalDNs rewrites every string that is a DN with DC= components in
// go-ldap's form, in lower case.
func canonicalDNs(v any) any {
	canon := func(s string) string {
		if !strings.Contains(strings.ToLower(s), "dc=") {
			return s
		}
		dn, err := ldap.ParseDN(s)
		if err != nil {
			return s
		}
		return strings.ToLower(dn.String())
	}
	switch x := v.(type) {
	case map[string]any:
		for k, item := range x {
			if s, ok := item.(string); ok {
				x[k] = canon(s)
			} else {
				x[k] = canonicalDNs(item)
			}
		}
	case []any:
		for i, item := range x {
			if s, ok := item.(string); ok {
				x[i] = canon(s)
			} else {
				x[i] = canonicalDNs(item)
			}
		}
	}
	return v
}
