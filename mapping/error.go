package mapping

import (
	"fmt"
	"strings"
)

// Error is every error this package returns about a mapping file. Callers
// and tests read Line to point the administrator at the offending element;
// the message always ends with what to do about it.
type Error struct {
	File string
	// Line is 1-based; 0 when the error concerns the file as a whole (it is
	// missing, a folder, unreadable or too large) and no line is meaningful.
	Line int
	Msg  string
	// Err is the underlying operating-system error, if any, so callers can
	// still test errors.Is(err, fs.ErrNotExist) and the like.
	Err error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(file string, line int, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// shellQuote makes a path safe to paste into the command an error message
// suggests; Windows paths with spaces are the common case.
func shellQuote(path string) string {
	if path != "" && !strings.ContainsAny(path, " \t\"'`$&|;<>()*?![]{}") {
		return path
	}
	return `"` + strings.ReplaceAll(path, `"`, `\"`) + `"`
}

// addUPNHint is shared by every message that ends with "switch UPN sync on".
func addUPNHint(file string) string {
	return "run `upnsync mapping add-upn " + shellQuote(file) + "` to add " + upnElement
}

const upnElement = `<attribute LDAPAttribute="userPrincipalName" OctopusAttribute="UPN"/>`
