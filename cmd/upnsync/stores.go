package main

import (
	"github.com/upnsync/upnsync/config"
	"github.com/upnsync/upnsync/sync/octopus"
)

// storeOptions adds the store settings of the command line to o.
func storeOptions(s *config.Settings, o octopus.Options) octopus.Options {
	o.Table = s.StoreTable
	o.Columns = s.StoreColumns
	o.Password = s.StorePassword.Reveal()
	o.OctopusExport = s.OctopusExport
	o.BatchSize = s.BatchSize
	return o
}
