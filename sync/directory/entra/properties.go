package entra

import (
	"fmt"
	"sort"
	"strings"
)

// graphUser is one user object of a Microsoft Graph users page: every
// property the table below can select. Properties not selected stay
// empty. The JSON decoder fills it straight from the response stream.
type graphUser struct {
	ID                            string             `json:"id"`
	UserPrincipalName             string             `json:"userPrincipalName"`
	Mail                          string             `json:"mail"`
	GivenName                     string             `json:"givenName"`
	Surname                       string             `json:"surname"`
	DisplayName                   string             `json:"displayName"`
	AccountEnabled                *bool              `json:"accountEnabled"`
	UserType                      string             `json:"userType"`
	OnPremisesImmutableID         string             `json:"onPremisesImmutableId"`
	OnPremisesSamAccountName      string             `json:"onPremisesSamAccountName"`
	OnPremisesDomainName          string             `json:"onPremisesDomainName"`
	OnPremisesDistinguishedName   string             `json:"onPremisesDistinguishedName"`
	Department                    string             `json:"department"`
	JobTitle                      string             `json:"jobTitle"`
	CompanyName                   string             `json:"companyName"`
	BusinessPhones                []string           `json:"businessPhones"`
	MobilePhone                   string             `json:"mobilePhone"`
	FaxNumber                     string             `json:"faxNumber"`
	OfficeLocation                string             `json:"officeLocation"`
	StreetAddress                 string             `json:"streetAddress"`
	City                          string             `json:"city"`
	State                         string             `json:"state"`
	PostalCode                    string             `json:"postalCode"`
	Country                       string             `json:"country"`
	UsageLocation                 string             `json:"usageLocation"`
	EmployeeID                    string             `json:"employeeId"`
	EmployeeType                  string             `json:"employeeType"`
	MailNickname                  string             `json:"mailNickname"`
	ProxyAddresses                []string           `json:"proxyAddresses"`
	PreferredLanguage             string             `json:"preferredLanguage"`
	OnPremisesExtensionAttributes map[string]*string `json:"onPremisesExtensionAttributes"`
	// Removed is set on a user a delta read reports deleted.
	Removed *struct {
		Reason string `json:"reason"`
	} `json:"@removed"`
}

// property is one row of the mapping table: an LDAP attribute a mapping
// file may name, the Microsoft Graph user property that holds the same
// value, and how to take it.
type property struct {
	ldap  string
	graph string // the $select name
	get   func(*graphUser) string
	note  string
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func extension(n int) property {
	name := fmt.Sprintf("extensionAttribute%d", n)
	return property{ldap: name, graph: "onPremisesExtensionAttributes",
		get: func(u *graphUser) string {
			if v := u.OnPremisesExtensionAttributes[name]; v != nil {
				return *v
			}
			return ""
		},
		note: "onPremisesExtensionAttributes." + name}
}

// properties is THE table from the LDAP attribute names of a mapping file
// (ADSIReaderLDAPMappings.xml) to Microsoft Graph user properties. LDAP
// names are compared case-insensitively. docs/entra.md shows it as
// MappingTable renders it; a test keeps the two equal.
var properties = append([]property{
	{"userPrincipalName", "userPrincipalName", func(u *graphUser) string { return u.UserPrincipalName }, ""},
	{"mail", "mail", func(u *graphUser) string { return u.Mail }, ""},
	{"givenName", "givenName", func(u *graphUser) string { return u.GivenName }, ""},
	{"sn", "surname", func(u *graphUser) string { return u.Surname }, ""},
	{"displayName", "displayName", func(u *graphUser) string { return u.DisplayName }, ""},
	{"cn", "displayName", func(u *graphUser) string { return u.DisplayName }, "AD's cn is often the display name; not always (cn may carry a suffix such as the account name)"},
	{"name", "displayName", func(u *graphUser) string { return u.DisplayName }, "as cn"},
	{"sAMAccountName", "onPremisesSamAccountName", func(u *graphUser) string { return u.OnPremisesSamAccountName }, "synchronised users only; empty for cloud-only users"},
	{"distinguishedName", "onPremisesDistinguishedName", func(u *graphUser) string { return u.OnPremisesDistinguishedName }, "synchronised users only"},
	{"objectGUID", "onPremisesImmutableId", func(u *graphUser) string { return immutableGUID(u.OnPremisesImmutableID) }, "decoded from base64 to the canonical GUID when it is 16 bytes (Entra Connect's default source anchor); otherwise empty"},
	{"department", "department", func(u *graphUser) string { return u.Department }, ""},
	{"title", "jobTitle", func(u *graphUser) string { return u.JobTitle }, ""},
	{"company", "companyName", func(u *graphUser) string { return u.CompanyName }, ""},
	{"telephoneNumber", "businessPhones", func(u *graphUser) string { return first(u.BusinessPhones) }, "the first of the list (Graph keeps one)"},
	{"mobile", "mobilePhone", func(u *graphUser) string { return u.MobilePhone }, ""},
	{"facsimileTelephoneNumber", "faxNumber", func(u *graphUser) string { return u.FaxNumber }, ""},
	{"physicalDeliveryOfficeName", "officeLocation", func(u *graphUser) string { return u.OfficeLocation }, ""},
	{"streetAddress", "streetAddress", func(u *graphUser) string { return u.StreetAddress }, ""},
	{"l", "city", func(u *graphUser) string { return u.City }, ""},
	{"st", "state", func(u *graphUser) string { return u.State }, ""},
	{"postalCode", "postalCode", func(u *graphUser) string { return u.PostalCode }, ""},
	{"co", "country", func(u *graphUser) string { return u.Country }, "the country's name, as AD's co"},
	{"c", "usageLocation", func(u *graphUser) string { return u.UsageLocation }, "two-letter country code; Entra sets it for licensing, independently of AD's c"},
	{"employeeID", "employeeId", func(u *graphUser) string { return u.EmployeeID }, ""},
	{"employeeType", "employeeType", func(u *graphUser) string { return u.EmployeeType }, ""},
	{"mailNickname", "mailNickname", func(u *graphUser) string { return u.MailNickname }, ""},
	{"proxyAddresses", "proxyAddresses", func(u *graphUser) string { return first(u.ProxyAddresses) }, "the first of the list, as an LDAP read takes the first value"},
	{"preferredLanguage", "preferredLanguage", func(u *graphUser) string { return u.PreferredLanguage }, ""},
}, extensions()...)

func extensions() []property {
	var out []property
	for n := 1; n <= 15; n++ {
		out = append(out, extension(n))
	}
	return out
}

// lookupProperty finds the row of an LDAP attribute name.
func lookupProperty(ldap string) (property, bool) {
	for _, p := range properties {
		if strings.EqualFold(p.ldap, ldap) {
			return p, true
		}
	}
	return property{}, false
}

// Always selected, whatever the mapping says: what matching, the disabled
// flag, guests and the domain depend on.
var alwaysSelected = []string{"id", "userPrincipalName", "mail", "givenName", "surname", "accountEnabled", "userType",
	"onPremisesImmutableId", "onPremisesSamAccountName", "onPremisesDomainName", "onPremisesDistinguishedName"}

// MappingTable renders the table as the Markdown docs/entra.md shows.
func MappingTable() string {
	var b strings.Builder
	b.WriteString("| LDAP attribute (mapping file) | Microsoft Graph user property | Note |\n")
	b.WriteString("|---|---|---|\n")
	for _, p := range properties {
		graph := p.graph
		if strings.HasPrefix(p.note, "onPremisesExtensionAttributes.") {
			graph, p.note = p.note, ""
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", p.ldap, graph, p.note)
	}
	b.WriteString("| userAccountControl (disabled bit) | accountEnabled | always read: `false` is a disabled account |\n")
	return b.String()
}

// ldapNames lists the LDAP attribute names the table knows, for errors.
func ldapNames() string {
	var names []string
	for _, p := range properties {
		names = append(names, p.ldap)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	return strings.Join(names, ", ")
}
