// Package upnsync holds the sample data behind `upnsync demo`, embedded so
// the demo runs anywhere with no setup. The tool itself lives in
// cmd/upnsync and the packages beside this file.
package upnsync

import "embed"

// Demo holds testdata/demo: a mapping file with its UPN entry, an
// ldifde-style directory export and an Octopus user export.
//
//go:embed testdata/demo/ADSIReaderLDAPMappings.xml testdata/demo/directory.ldif testdata/demo/octopus-users.csv
var Demo embed.FS
