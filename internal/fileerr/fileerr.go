// Package fileerr shortens the errors of file operations for messages
// that name the file themselves.
package fileerr

import (
	"errors"
	"os"
)

// Reason is err without the operation and path that an *os.PathError
// repeats ("open /x/y: permission denied" becomes "permission denied"),
// for a message that already names the file; any other error is returned
// as it is.
func Reason(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && pe == err {
		return pe.Err
	}
	return err
}
