package octopus

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/upnsync/upnsync/internal/atomicfile"
	"github.com/upnsync/upnsync/internal/plural"
	upnsync "github.com/upnsync/upnsync/sync"
)

// DataImporter's user columns, in the order its documentation lists them,
// with their limits in characters (0: not text). Required: FirstName and
// Surname. notes/octopus.md has the facts.
var diColumns = []struct {
	Name  string
	Limit int
}{
	{"FirstName", 100},
	{"Surname", 100},
	{"EmployeeID", 50},
	{"WindowsUsername", 250},
	{"UPN", 250},
	{"ExternalIdentifier", 50},
	{"Active", 0},
}

// DataImporter's ways of finding the user a row is about.
const (
	UserByID              = "UserByID"              // the EmployeeID column
	UserByWindowsUsername = "UserByWindowsUsername" // one Windows username
	UserByName            = "UserByName"            // FirstName and Surname
)

// The sheet of each identification method: one <Source> of the XML
// configuration per sheet, since the method is set per source.
var diSheets = map[string]string{
	UserByID:              "UPN by ID",
	UserByWindowsUsername: "UPN by Windows username",
	UserByName:            "UPN by name",
}

// diMethods is the order of preference: an employee number is an
// identifier; a single Windows username is one; a name is unique only as
// far as the export shows.
var diMethods = []string{UserByID, UserByWindowsUsername, UserByName}

// Conflict reasons of stores that cannot write a change (JSON "reason";
// docs/design.md, rule C7).
const (
	ConflictStoreLimit      = "store-limit"
	ConflictStoreIdentify   = "store-cannot-identify"
	ConflictStoreCannotEdit = "store-cannot-replace"
)

// diStore writes the changes as a DataImporter workbook: Octopus has no
// API, and DataImporter is one of its supported bulk paths. The users come
// from an export of Octopus (--octopus-export), since the workbook is
// write-only.
//
// Provenance: this store has no tables of its own, so its Users report no
// owned entries; Open wraps it in its state database (WithState), which
// records the UPNs written to the workbook as upnsync's and gives them
// back as Owned on the next runs. With that record the engine plans
// renames (an owned entry replaced) and, with --remove-departed, removals;
// DataImporter's UPN column can only add, so Vet refuses both as
// store-cannot-replace, and the report tells what to edit by hand.
type diStore struct {
	path     string // the workbook, as given
	abs      string
	xmlPath  string
	export   string
	readOnly bool
	create   bool

	ex    *exportFile
	byID  map[string]*exportUser
	empID map[string]int // lower-cased EmployeeID → users with it
	names map[string]int // lower-cased "first last" → users with it
	wins  map[string]int // lower-cased Windows username entry → users with it
}

var _ Store = (*diStore)(nil)

func openDataImporter(_ context.Context, path string, opts Options) (*diStore, error) {
	if ext := strings.ToLower(filepath.Ext(path)); ext != ".xlsx" {
		return nil, fmt.Errorf("store dataimporter:%s: name an .xlsx workbook to write, for example dataimporter:upn-import.xlsx", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store dataimporter:%s: cannot resolve the path: %v", path, err)
	}
	s := &diStore{path: path, abs: abs, xmlPath: strings.TrimSuffix(abs, filepath.Ext(abs)) + ".xml",
		export: opts.OctopusExport, readOnly: opts.ReadOnly, create: opts.Create}
	if s.export == "" {
		return nil, fmt.Errorf("store %s: give the current Octopus users with --octopus-export FILE.csv|FILE.xlsx (an export of Octopus's users, or `upnsync store export` of another store)", s.Describe())
	}
	if st, err := os.Stat(filepath.Dir(abs)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("store %s: the folder %s does not exist; create it first", s.Describe(), filepath.Dir(abs))
	}
	if _, err := os.Stat(s.export); err != nil {
		if os.IsNotExist(err) && opts.Create {
			s.ex = &exportFile{path: s.export}
			s.index()
			return s, nil
		}
		return nil, fmt.Errorf("store %s: cannot read the Octopus export %s: %v", s.Describe(), s.export, unwrapPathError(err))
	}
	if s.ex, err = readExport(s.export); err != nil {
		return nil, fmt.Errorf("store %s: %v", s.Describe(), err)
	}
	if !s.ex.has[exActive] && !opts.Create {
		// DataImporter makes a user it imports without an Active value
		// active: a workbook without the column could reactivate users.
		return nil, fmt.Errorf("store %s: the Octopus export %s has no Active column; export it too: without it the workbook could not keep deactivated users deactivated", s.Describe(), s.export)
	}
	s.index()
	return s, nil
}

// index counts what DataImporter could find each user by.
func (s *diStore) index() {
	s.byID = map[string]*exportUser{}
	s.empID, s.names, s.wins = map[string]int{}, map[string]int{}, map[string]int{}
	for i := range s.ex.users {
		u := &s.ex.users[i]
		s.byID[u.ID] = u
		if u.EmployeeID != "" {
			s.empID[strings.ToLower(u.EmployeeID)]++
		}
		if u.FirstName != "" && u.LastName != "" {
			s.names[nameKey(u)]++
		}
		for _, e := range entries(u.WindowsUsernames) {
			s.wins[strings.ToLower(e)]++
		}
	}
}

func nameKey(u *exportUser) string {
	return strings.ToLower(u.FirstName + " " + u.LastName)
}

func entries(list string) []string {
	var out []string
	for _, e := range strings.Split(list, ";") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

var _ WriteChecker = (*diStore)(nil)

// CheckWritable proves an apply could write the workbook and its
// configuration without writing them: their folder takes new files (both
// are written to a temporary file there and renamed into place).
func (s *diStore) CheckWritable(context.Context) error {
	if s.readOnly {
		return fmt.Errorf("store %s: it cannot be written: the store was opened read-only (dry run)", s.Describe())
	}
	dir := filepath.Dir(s.abs)
	f, err := os.CreateTemp(dir, ".upnsync-check-*.tmp")
	if err != nil {
		return fmt.Errorf("store %s: its folder %s does not take new files (%v); make it writable for this account", s.Describe(), dir, unwrapPathError(err))
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("store %s: cannot remove the test file %s: %v", s.Describe(), name, unwrapPathError(err))
	}
	return nil
}

// Describe names the store for reports.
func (s *diStore) Describe() string {
	return "dataimporter:" + s.path
}

func (s *diStore) Close() error { return nil }

// Users streams the export's users in id order (byte order, as the other
// stores), with no owned entries (see diStore).
func (s *diStore) Users(ctx context.Context, fn func(upnsync.User) error) error {
	for _, u := range s.sorted() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store %s: stopped reading users: %w", s.Describe(), err)
		}
		if err := fn(u.User); err != nil {
			return err
		}
	}
	return nil
}

func (s *diStore) sorted() []*exportUser {
	out := make([]*exportUser, len(s.ex.users))
	for i := range s.ex.users {
		out[i] = &s.ex.users[i]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// diRow is one row of the workbook.
type diRow struct {
	method string
	user   *exportUser
	key    string // the EmployeeID or Windows username that finds the user
	upn    string
}

// Vet refuses the changes DataImporter cannot carry out safely. See Vetter.
func (s *diStore) Vet(changes upnsync.Changes) map[int]upnsync.Conflict {
	out := map[int]upnsync.Conflict{}
	for i, ch := range changes.All() {
		if _, c := s.row(&ch); c != nil {
			out[i] = *c
		}
	}
	return out
}

// row decides how DataImporter will find the user of change c, and checks
// every value against DataImporter's limits: never truncated, refused.
func (s *diStore) row(c *upnsync.Change) (diRow, *upnsync.Conflict) {
	upn := ""
	if len(c.Added) == 1 {
		upn = c.Added[0]
	}
	conflict := func(reason, detail string) (diRow, *upnsync.Conflict) {
		return diRow{}, &upnsync.Conflict{Reason: reason, UPN: upn, Detail: detail, Users: []string{c.UserID}, People: []string{c.Person.Label()}}
	}
	u := s.byID[c.UserID]
	if u == nil {
		return conflict(ConflictStoreIdentify, "the user is not in the Octopus export")
	}
	if len(c.Replaced) > 0 {
		return conflict(ConflictStoreCannotEdit, fmt.Sprintf("the UPN changed (%s), and DataImporter can only add to the Windows usernames; replace the old entry by hand in Octopus", joinReplacements(c.Replaced)))
	}
	if len(c.Removed) > 0 {
		if upn == "" {
			upn = c.Removed[0]
		}
		why := "upnsync added it for a person who is gone from the directory"
		if c.Departed != "" {
			why = fmt.Sprintf("upnsync added it for a person who is gone from the directory (%s)", c.Departed)
		} else if len(c.Added) == 0 {
			why = "it is an earlier UPN of this person, whose new UPN someone already added"
		}
		return conflict(ConflictStoreCannotEdit, fmt.Sprintf("%s should be removed (%s), and DataImporter can only add to the Windows usernames; remove it by hand in Octopus",
			strings.Join(c.Removed, ", "), why))
	}
	if len(c.Added) != 1 {
		return conflict(ConflictStoreCannotEdit, "DataImporter's UPN column adds exactly one entry per user")
	}
	r := diRow{user: u, upn: upn}
	switch {
	case u.EmployeeID != "" && s.empID[strings.ToLower(u.EmployeeID)] == 1:
		r.method, r.key = UserByID, u.EmployeeID
	case s.singleWindowsUsername(u) != "":
		r.method, r.key = UserByWindowsUsername, s.singleWindowsUsername(u)
	case u.FirstName != "" && u.LastName != "" && s.names[nameKey(u)] == 1:
		r.method = UserByName
	default:
		return conflict(ConflictStoreIdentify, "DataImporter has no safe way to find this user: no unique EmployeeID, not exactly one Windows username used by no one else, and a first and last name that are empty or shared; add the UPN in Octopus by hand, or give the user an EmployeeID and export again")
	}
	values := map[string]string{"FirstName": u.FirstName, "Surname": u.LastName, "UPN": upn, "WindowsUsername": c.After}
	if r.method == UserByID {
		values["EmployeeID"] = r.key
	}
	for _, col := range diColumns {
		v, ok := values[col.Name]
		if !ok || col.Limit == 0 {
			continue
		}
		if (col.Name == "FirstName" || col.Name == "Surname") && v == "" {
			return conflict(ConflictStoreLimit, fmt.Sprintf("DataImporter requires %s, and the user has none in the export; fill it in Octopus", col.Name))
		}
		if n := utf8.RuneCountInString(v); n > col.Limit {
			what := col.Name
			if col.Name == "WindowsUsername" {
				what = "the Windows usernames after adding the UPN"
			}
			return conflict(ConflictStoreLimit, fmt.Sprintf("%s would be %d characters; DataImporter takes at most %d and nothing is truncated", what, n, col.Limit))
		}
	}
	return r, nil
}

// singleWindowsUsername is the user's Windows username when it has exactly
// one and no other user has it: only then can a row name it without
// DataImporter's single WindowsUsername value dropping any other entry.
func (s *diStore) singleWindowsUsername(u *exportUser) string {
	es := entries(u.WindowsUsernames)
	if len(es) != 1 || s.wins[strings.ToLower(es[0])] != 1 {
		return ""
	}
	return es[0]
}

func joinReplacements(rs []upnsync.Replacement) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Old + " -> " + r.New
	}
	return strings.Join(parts, ", ")
}

// Apply writes the workbook and its DataImporter configuration, replacing
// earlier ones: together they hold every change of this plan. Nothing is
// written to Octopus until DataImporter runs, so Applied.Written lists the
// users written to the workbook and there are never stale users to report.
func (s *diStore) Apply(ctx context.Context, run upnsync.Run, changes upnsync.Changes) (upnsync.Applied, error) {
	applied := upnsync.Applied{RunID: run.ID}
	if s.readOnly {
		return applied, fmt.Errorf("store %s: cannot apply changes: the store was opened read-only (dry run); nothing was written", s.Describe())
	}
	if run.Started.IsZero() {
		run.Started = time.Now()
	}
	var rows []diRow
	var refused []string
	for _, ch := range changes.All() {
		r, c := s.row(&ch)
		if c != nil {
			refused = append(refused, fmt.Sprintf("user %s: %s", ch.UserID, c.Detail))
			continue
		}
		rows = append(rows, r)
	}
	if len(refused) > 0 {
		return applied, fmt.Errorf("store %s: %s cannot go into a DataImporter workbook (%s); nothing was written", s.Describe(), plural.Count(len(refused), "change"), strings.Join(refused, "; "))
	}
	if err := ctx.Err(); err != nil {
		return applied, fmt.Errorf("store %s: apply interrupted: %w; nothing was written", s.Describe(), err)
	}
	book, sources, err := s.workbook(rows)
	if err != nil {
		return applied, err
	}
	var conf bytes.Buffer
	if err := s.configuration(&conf, sources, run); err != nil {
		return applied, fmt.Errorf("store %s: cannot write the DataImporter configuration: %v; nothing was written", s.Describe(), err)
	}
	// The workbook first: a configuration never names a workbook that is
	// not there.
	if err := atomicfile.Write(s.abs, atomicfile.Shared, func(w io.Writer) error { return book.Write(w) }); err != nil {
		return applied, fmt.Errorf("store %s: cannot write %s: %v; nothing was written", s.Describe(), s.abs, err)
	}
	if err := atomicfile.Write(s.xmlPath, atomicfile.Shared, func(w io.Writer) error { _, err := w.Write(conf.Bytes()); return err }); err != nil {
		return applied, fmt.Errorf("store %s: wrote %s but not its configuration %s: %v; run again", s.Describe(), s.abs, s.xmlPath, err)
	}
	for _, r := range rows {
		applied.Written = append(applied.Written, r.user.ID)
	}
	return applied, nil
}

// source is one <Source> of the configuration: a sheet and its method.
type source struct {
	sheet, method string
	rows          int
}

// workbook lays the rows out, one sheet per identification method, with
// DataImporter's columns in its documented order: the names (required),
// what finds the user, the UPN, and Active as the export has it, since
// DataImporter makes users without an Active value active. Nothing else
// is written, since every value in the sheet is a value DataImporter sets.
func (s *diStore) workbook(rows []diRow) (*excelize.File, []source, error) {
	f := excelize.NewFile()
	var sources []source
	first := true
	for _, m := range diMethods {
		var mine []diRow
		for _, r := range rows {
			if r.method == m {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			continue
		}
		sheet := diSheets[m]
		if first {
			f.SetSheetName("Sheet1", sheet)
			first = false
		} else if _, err := f.NewSheet(sheet); err != nil {
			return nil, nil, fmt.Errorf("store %s: %v", s.Describe(), err)
		}
		var header []any
		for _, c := range diColumns {
			switch {
			case c.Name == "EmployeeID" && m != UserByID,
				c.Name == "WindowsUsername" && m != UserByWindowsUsername,
				c.Name == "ExternalIdentifier":
				continue
			}
			header = append(header, c.Name)
		}
		if err := f.SetSheetRow(sheet, "A1", &header); err != nil {
			return nil, nil, fmt.Errorf("store %s: %v", s.Describe(), err)
		}
		for i, r := range mine {
			var vals []any
			for _, h := range header {
				switch h {
				case "FirstName":
					vals = append(vals, r.user.FirstName)
				case "Surname":
					vals = append(vals, r.user.LastName)
				case "EmployeeID", "WindowsUsername":
					vals = append(vals, r.key)
				case "UPN":
					vals = append(vals, r.upn)
				case "Active":
					vals = append(vals, yesNo(r.user.Active))
				}
			}
			// Every value as text: an EmployeeID of digits must stay
			// "00123", not become the number 123.
			for j, v := range vals {
				cell, _ := excelize.CoordinatesToCellName(j+1, i+2)
				if err := f.SetCellStr(sheet, cell, v.(string)); err != nil {
					return nil, nil, fmt.Errorf("store %s: %v", s.Describe(), err)
				}
			}
		}
		sources = append(sources, source{sheet: sheet, method: m, rows: len(mine)})
	}
	if first { // no rows: an empty sheet, so the file is a valid workbook
		f.SetSheetName("Sheet1", diSheets[UserByID])
	}
	return f, sources, nil
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// The XML configuration DataImporter reads, as its documentation shows it
// (tests read it back through these types).
type xmlSources struct {
	XMLName xml.Name    `xml:"Sources"`
	Sources []xmlSource `xml:"Source"`
}

type xmlSource struct {
	Name                     string `xml:"Name,attr"`
	ConnectionString         string `xml:"ConnectionString"`
	ViewName                 string `xml:"ViewName"`
	Content                  string `xml:"Content"`
	UserIdentificationMethod string `xml:"UserIdentificationMethod"`
}

// xmlText escapes element text; quotes stay as they are, so that the
// connection string reads as in Octopus's documentation.
var xmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// xmlAttr escapes an attribute value in double quotes.
var xmlAttr = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

// configuration writes DataImporter's XML configuration: one source per
// sheet, each with its identification method. The Data Source is the
// workbook's absolute path here; if the workbook moves, edit it.
func (s *diStore) configuration(w io.Writer, sources []source, run upnsync.Run) error {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n")
	comment := fmt.Sprintf("Written by upnsync (run %s, %s) with %s: DataImporter adds the UPN column to each user's Windows usernames.",
		run.ID, run.Started.UTC().Format(time.RFC3339), filepath.Base(s.abs))
	fmt.Fprintf(&b, "<!-- %s -->\n<Sources>\n", strings.ReplaceAll(comment, "--", "- -"))
	for _, src := range sources {
		fmt.Fprintf(&b, "  <Source Name=\"%s\">\n", xmlAttr.Replace("upnsync "+src.sheet))
		fmt.Fprintf(&b, "    <ConnectionString>%s</ConnectionString>\n", xmlText.Replace(
			`Provider=Microsoft.ACE.OLEDB.12.0;Data Source=`+s.abs+`;Extended Properties="Excel 12.0 Xml;HDR=YES";`))
		fmt.Fprintf(&b, "    <ViewName>%s</ViewName>\n", xmlText.Replace("["+src.sheet+"$]"))
		b.WriteString("    <Content>User</Content>\n")
		fmt.Fprintf(&b, "    <UserIdentificationMethod>%s</UserIdentificationMethod>\n", src.method)
		b.WriteString("  </Source>\n")
	}
	b.WriteString("</Sources>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// NextSteps explains how to finish the job with DataImporter. See Guide.
func (s *diStore) NextSteps(applied *upnsync.Applied) []string {
	if applied == nil {
		return []string{fmt.Sprintf("With --apply, upnsync writes %s and %s for Octopus's DataImporter; nothing reaches Octopus until DataImporter imports them.", s.abs, s.xmlPath)}
	}
	if len(applied.Written) == 0 {
		return nil
	}
	return []string{
		fmt.Sprintf("Check %s: %s, one sheet per way DataImporter finds them (UserByID: EmployeeID; UserByWindowsUsername: their one Windows username; UserByName: first and last name). DataImporter adds the UPN column to each user's Windows usernames.", s.abs, users(len(applied.Written))),
		fmt.Sprintf("On a machine with DataImporter (ESI.Octopus.DataImporterApp.exe, from the Octopus installation) and the Microsoft Access Database Engine 2016 Redistributable, run DataImporter with the XML configuration file %s, as the Octopus system account, as Octopus's article \"DataImporter - Import Data into Octopus\" describes. If you move the workbook, edit Data Source in the XML file.", s.xmlPath),
		fmt.Sprintf("Export Octopus's users again to %s and run upnsync once more: it should plan no changes. Until then, each run writes the same workbook again.", s.export),
	}
}
