package octopus

import (
	"context"
	"fmt"
	"io"
	"strings"

	upnsync "github.com/upnsync/upnsync/sync"
)

// ImportLoss is what a `store import` would take away of what upnsync
// wrote: entries it added (the store's provenance) that are in a user's
// list now and not in the file's list for that user. Re-importing an
// Octopus export taken before an apply does that, silently reverting the
// UPNs the apply wrote.
type ImportLoss struct {
	// Entries counts the entries, Users the users they belong to.
	Entries, Users int
	// Examples are the first few, as "user 1001: jane.doe@corp.example.com".
	Examples []string
}

const maxLossExamples = 3

// ImportLosses reads the CSV file r as ImportCSV would and compares each
// user's Windows usernames with the store's: what an import would take
// away of the entries upnsync added. A file without a WindowsUsername
// column takes nothing away (an import updates only the file's columns).
// Errors in the file are ImportCSV's.
func ImportLosses(ctx context.Context, store upnsync.Store, r io.Reader, name string) (ImportLoss, error) {
	var loss ImportLoss
	lists := map[string]string{}
	present, err := readCSV(r, name, func(_ int, u upnsync.User) error {
		lists[u.ID] = u.WindowsUsernames
		return nil
	})
	if err != nil || !present[colWindowsUsername] {
		return loss, err
	}
	err = store.Users(ctx, func(u upnsync.User) error {
		list, ok := lists[u.ID]
		if !ok || len(u.Owned) == 0 {
			return nil
		}
		lost := 0
		for _, o := range u.Owned {
			if hasEntry(u.WindowsUsernames, o.Entry) && !hasEntry(list, o.Entry) {
				lost++
				if len(loss.Examples) < maxLossExamples {
					loss.Examples = append(loss.Examples, fmt.Sprintf("user %s: %s", u.ID, o.Entry))
				}
			}
		}
		if lost > 0 {
			loss.Entries += lost
			loss.Users++
		}
		return nil
	})
	return loss, err
}

// hasEntry says whether a semicolon-separated list holds entry in any
// letter case (rule L1's splitting, L2's comparison).
func hasEntry(list, entry string) bool {
	for e := range strings.SplitSeq(list, ";") {
		if strings.EqualFold(strings.TrimSpace(e), entry) {
			return true
		}
	}
	return false
}
