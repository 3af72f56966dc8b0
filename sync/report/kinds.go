package report

import upnsync "github.com/upnsync/upnsync/sync"

// Explanation says what one kind of conflict, departure or match means
// and what the administrator does about it, in the reports' words. This
// is their one home: the HTML report shows them beside each kind, and
// documentation can be generated from these lists.
type Explanation struct {
	// Kind is the string the JSON report gives (a conflict's reason, a
	// departure's reason, a change's match rule).
	Kind    string
	Title   string
	Meaning string
	// Action is what to do; empty when there is nothing to do.
	Action string
}

// ConflictKinds explains each conflict reason, in the order the reports
// list them.
var ConflictKinds = []Explanation{
	{Kind: upnsync.ConflictDuplicateUPN, Title: "Several directory users have the same UPN",
		Meaning: "Two or more people in the directory carry this userPrincipalName. A sign-in with it cannot say who it is, so upnsync writes it to none of their Octopus users.",
		Action:  "Give each person a unique UPN in the directory (or disable the stale account, when --skip-disabled is on); the next run merges it."},
	{Kind: upnsync.ConflictOwnedByOther, Title: "The UPN is already another Octopus user's Windows username",
		Meaning: "The person matched one Octopus user, but the UPN is already in the Windows usernames of a different Octopus user. Adding it would make one sign-in name two users.",
		Action:  "Decide which Octopus user the person is. The other is usually an old or duplicate account: take the UPN out of its Windows usernames (or merge the two users) in Octopus; the next run adds it to the right one."},
	{Kind: upnsync.ConflictFieldTooLong, Title: "The Windows usernames would be too long",
		Meaning: "With the UPN added, the user's Windows usernames would exceed what the field holds (--max-length, 250 characters by default). upnsync never shortens or drops an entry to make room.",
		Action:  "Remove the entries the user no longer needs (old logins) in Octopus, or give a larger --max-length if your Octopus field holds more; the next run adds the UPN."},
	{Kind: upnsync.ConflictAmbiguousMatch, Title: "No single match",
		Meaning: "One person matches several Octopus users by the same rule (two users with one e-mail address or one login), or several people match one Octopus user. upnsync does not guess.",
		Action:  "Make the match unique: set the right Octopus user's external identifier to the person's objectGUID, or correct the duplicated e-mail address or login in Octopus or the directory."},
	{Kind: upnsync.ConflictExternalIDByteOrder, Title: "The external identifier has its bytes in the wrong order",
		Meaning: "An Octopus user's external identifier is this person's objectGUID with the first three groups byte-swapped: written from the raw bytes without Active Directory's byte order, a frequent export mistake. upnsync does not guess which user is meant, so nothing is written for the person.",
		Action:  "Store the objectGUID the detail gives as that user's external identifier (in Octopus, or with DataImporter); the next run matches it."},
	{Kind: upnsync.ConflictInvalidUPN, Title: "The UPN cannot be written",
		Meaning: "The directory's userPrincipalName is not a sign-in name the list can hold: not exactly one \"@\", white space, a \";\" (the list separator), control characters, or over 250 characters.",
		Action:  "Correct the userPrincipalName in the directory; the next run merges it."},
}

// DepartureKinds explains each departure reason ("unknown": not
// classified).
var DepartureKinds = []Explanation{
	{Kind: string(upnsync.DepartedDisabled), Title: "Disabled",
		Meaning: "The account is disabled, and the filter or --skip-disabled leaves disabled accounts out.",
		Action:  "With --remove-departed, the entries upnsync added for the person are removed; enable the account to keep them."},
	{Kind: string(upnsync.DepartedDeleted), Title: "Deleted",
		Meaning: "The object's tombstone was read, or a change feed (DirSync, Microsoft Graph's delta) reported its deletion.",
		Action:  "With --remove-departed, the entries upnsync added for the person are removed."},
	{Kind: string(upnsync.DepartedMoved), Title: "Moved out of scope",
		Meaning: "The object was read outside every searched base (--domain).",
		Action:  "If the move was a mistake, move the account back; otherwise, with --remove-departed, its entries are removed."},
	{Kind: string(upnsync.DepartedFiltered), Title: "Filtered out",
		Meaning: "The object was read inside a searched base, but the user filter no longer selects it.",
		Action:  "Check the filter; with --remove-departed, its entries are removed."},
	{Kind: string(upnsync.DepartedNotFound), Title: "Not found",
		Meaning: "Neither the object nor its tombstone is visible to the account upnsync binds as: the account may not read it, or it was deleted and purged. That is no evidence the person left, so nothing is removed for them.",
		Action:  "Check that the account upnsync binds as may read the part of the directory the person was in (List contents and Read all properties on its OUs); if the account was deleted long ago, remove the entry by hand."},
	{Kind: string(upnsync.DepartedNotInExport), Title: "Not in the export",
		Meaning: "The person is not in the export, which cannot tell why.",
		Action:  "Check that the export is whole before --remove-departed removes the entries."},
	{Kind: string(upnsync.DepartedPresent), Title: "Present after all",
		Meaning: "Found in scope and selected by the filter after the read (created or moved back meanwhile): not gone at all.",
		Action:  "Nothing: the entries stay."},
	{Kind: string(upnsync.DepartedLookupFailed), Title: "Lookup failed",
		Meaning: "Asking the directory about the object failed, so nothing is removed for it.",
		Action:  "See the detail; the next run asks again."},
	{Kind: "unknown", Title: "Not classified",
		Meaning: "Not in this read; the directory was not asked why (without --remove-departed, or it cannot be asked).",
		Action:  "Nothing is removed. Give --remove-departed to classify and remove."},
}

// MatchKinds explains each match rule, strongest first.
var MatchKinds = []Explanation{
	{Kind: string(upnsync.MatchExternalID), Title: "External identifier",
		Meaning: "The Octopus user's external identifier is the person's objectGUID."},
	{Kind: string(upnsync.MatchWindowsUsername), Title: "Windows username",
		Meaning: "One of the user's Windows usernames is the person's sAMAccountName (jdoe or CORP\\jdoe) or UPN."},
	{Kind: string(upnsync.MatchEmail), Title: "E-mail address",
		Meaning: "The user's e-mail address is the person's, and no other Octopus user has it."},
}

// Explain returns the explanation of kind in list, or one that names the
// kind when the list has none (a report from a newer upnsync).
func Explain(list []Explanation, kind string) Explanation {
	for _, e := range list {
		if e.Kind == kind {
			return e
		}
	}
	return Explanation{Kind: kind, Title: kind,
		Meaning: "A kind this version of upnsync does not know; the detail of each item says what happened."}
}
