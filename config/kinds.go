package config

import (
	"strings"
)

// cmdSet is a set of commands (and subcommands), for what an option
// applies to.
type cmdSet uint32

const (
	cSync cmdSet = 1 << iota
	cPlan
	cApply
	cRuns
	cUndo
	cDemo
	cDoctor
	cMappingCheck
	cMappingAddUPN
	cStoreImport
	cStoreExport
	cVersion
	cHelp
	cReportHTML

	cAll cmdSet = 1<<iota - 1
	// cRun are the commands that read the directory and plan, and doctor,
	// which checks what such a run needs and so takes all its options.
	cRun = cSync | cPlan | cDoctor
	// cStore are the commands that open the store --store names (apply
	// opens the store its plan names).
	cStore = cSync | cPlan | cDoctor | cRuns | cUndo | cStoreImport | cStoreExport
	// cWrite are the commands that write the store, and doctor.
	cWrite = cSync | cApply | cUndo | cStoreImport | cDoctor
	// cLog are the commands that log, and doctor.
	cLog = cSync | cPlan | cApply | cUndo | cStoreImport | cDoctor
	// cReport are the commands that write a report, and doctor.
	cReport = cSync | cPlan | cApply | cUndo | cDoctor
)

// dirSet is a set of directory kinds.
type dirSet uint32

const (
	dLDAP  dirSet = 1 << iota // --directory ldap://HOST
	dLDAPS                    // --directory ldaps://HOST
	dDC                       // no --directory: the domain controllers of --domain, found through DNS
	dLDIF                     // --directory ldif:FILE
	dCSV                      // --directory csv:FILE
	dXLSX                     // --directory xlsx:FILE
	dEntra                    // --directory entra:TENANT (Microsoft Entra ID through Microsoft Graph)

	dAnyLDAP = dLDAP | dLDAPS | dDC
	dExports = dLDIF | dCSV | dXLSX
)

// storeSet is a set of store kinds.
type storeSet uint32

const (
	sSQLite storeSet = 1 << iota
	sPostgres
	sDataImporter
)

// dirKinds names each kind as "applies to ..." says it, in order.
var dirKinds = []struct {
	k    dirSet
	name string // as a list of them names it
	is   string // "X is ..." for a directory of this kind
}{
	{dLDAP, "ldap://", "an ldap:// directory"},
	{dLDAPS, "ldaps://", "an ldaps:// directory, encrypted from the start"},
	{dDC, "found through DNS", "found through DNS"},
	{dLDIF, "ldif:", "an LDIF export (a file)"},
	{dCSV, "csv:", "a CSV export (a file)"},
	{dXLSX, "xlsx:", "an Excel export (a file)"},
	{dEntra, "entra:", "Microsoft Entra ID"},
}

var storeKinds = []struct {
	k    storeSet
	name string
	is   string
}{
	{sSQLite, "sqlite:", "an SQLite store"},
	{sPostgres, "postgres://", "a PostgreSQL store"},
	{sDataImporter, "dataimporter:", "a DataImporter workbook"},
}

// directoryKind tells the kind of directory a run reads: by the scheme of
// --directory, or dDC when it is left out and --domain names a domain
// whose controllers DNS can find; 0 when it cannot tell (no directory, or
// an unknown scheme, which the directory itself then refuses).
func directoryKind(directory string, domains []string) dirSet {
	d := strings.TrimSpace(directory)
	if d == "" {
		if locatable(domains) {
			return dDC
		}
		return 0
	}
	scheme, _, ok := strings.Cut(d, ":")
	if !ok {
		return 0
	}
	switch strings.ToLower(scheme) {
	case "ldap":
		return dLDAP
	case "ldaps":
		return dLDAPS
	case "ldif":
		return dLDIF
	case "csv":
		return dCSV
	case "xlsx":
		return dXLSX
	case "entra":
		return dEntra
	}
	return 0
}

// storeKind tells the kind of store a URL names, as sync/octopus reads it
// (an unknown kind: 0, and the store refuses it when opened).
func storeKind(raw string) storeSet {
	l := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case strings.HasPrefix(l, "sqlite:"):
		return sSQLite
	case strings.HasPrefix(l, "postgres://"), strings.HasPrefix(l, "postgresql://"):
		return sPostgres
	case strings.HasPrefix(l, "dataimporter:"):
		return sDataImporter
	}
	for _, ext := range []string{".db", ".sqlite", ".sqlite3"} {
		if strings.HasSuffix(l, ext) {
			return sSQLite
		}
	}
	return 0
}

func (k dirSet) names() []string {
	var out []string
	for _, d := range dirKinds {
		if k&d.k != 0 {
			out = append(out, d.name)
		}
	}
	return out
}

// prose names the kinds of directory in a sentence: "ldap:// directories
// and domain controllers found through DNS", "csv: and xlsx: exports".
func (k dirSet) prose() string {
	var parts []string
	if k&dAnyLDAP == dAnyLDAP {
		parts = append(parts, "LDAP directories (ldap://, ldaps:// or found through DNS)")
	} else {
		if links := (k & (dLDAP | dLDAPS)).names(); len(links) > 0 {
			parts = append(parts, andList(links)+" directories")
		}
		if k&dDC != 0 {
			parts = append(parts, "domain controllers found through DNS")
		}
	}
	if files := (k & dExports).names(); len(files) > 0 {
		parts = append(parts, andList(files)+" exports")
	}
	if k&dEntra != 0 {
		parts = append(parts, "Entra ID")
	}
	return andList(parts)
}

func (k dirSet) is() string {
	for _, d := range dirKinds {
		if k == d.k {
			return d.is
		}
	}
	return "of another kind"
}

// prose names commands in a sentence: "sync, plan and doctor".
func (k cmdSet) prose() string {
	var names []string
	for _, c := range commands {
		if k&c.id != 0 && c.id != cHelp && c.id != cVersion {
			names = append(names, c.name)
		}
	}
	return andList(names)
}

func (k storeSet) names() []string {
	var out []string
	for _, d := range storeKinds {
		if k&d.k != 0 {
			out = append(out, d.name)
		}
	}
	return out
}

func (k storeSet) is() string {
	for _, d := range storeKinds {
		if k == d.k {
			return d.is
		}
	}
	return "of another kind"
}

// andList joins items as prose: "a", "a and b", "a, b and c".
func andList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// locatable reports whether the domain controllers can be found through
// DNS: a --domain names a DNS domain (corp.example.com) or a DN with DC=
// components.
func locatable(domains []string) bool {
	for _, d := range domains {
		if !strings.Contains(d, "=") || strings.Contains(strings.ToLower(d), "dc=") {
			return true
		}
	}
	return false
}
