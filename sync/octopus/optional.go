package octopus

import upnsync "github.com/upnsync/upnsync/sync"

// Vetter is implemented by stores that cannot write every change the
// engine may plan (a DataImporter workbook has its own length limits and
// ways of finding users). Vet returns, by position in changes, those it
// refuses and why; the caller turns them into conflicts before anything is
// reported or written (upnsync.Plan.Withdraw).
type Vetter interface {
	Vet(changes upnsync.Changes) map[int]upnsync.Conflict
}

// Guide is implemented by stores whose writes a person finishes (a
// DataImporter workbook is imported by DataImporter). NextSteps says how;
// applied is nil for a dry run.
type Guide interface {
	NextSteps(applied *upnsync.Applied) []string
}
