package mapping

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteListing shows an administrator how upnsync reads the file (the
// output of `upnsync mapping check FILE`): which mapping, every entry with
// its line, whether UPN sync is on, and which LDAP attributes a run asks
// for. It lists a mapping that fails Validate too; run Validate for the
// verdict.
func (m *Mapping) WriteListing(w io.Writer) error {
	var buf bytes.Buffer
	m.writeListing(&buf)
	// tabwriter pads empty cells; trailing blanks only get in the way of
	// anyone comparing or grepping the output.
	rows := strings.Split(buf.String(), "\n")
	for i, r := range rows {
		rows[i] = strings.TrimRight(r, " ")
	}
	_, err := io.WriteString(w, strings.Join(rows, "\n"))
	return err
}

func (m *Mapping) writeListing(w *bytes.Buffer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "File:\t%s\n", m.File)
	fmt.Fprintf(tw, "User mapping:\t%s at line %d\n", describe("mapping", m.Name), m.Line)
	if len(m.Others) > 0 {
		names := make([]string, len(m.Others))
		for i, n := range m.Others {
			names[i] = strconv.Quote(n)
		}
		fmt.Fprintf(tw, "Ignored mappings:\t%s\n", strings.Join(names, ", "))
	}
	tw.Flush()

	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "LINE\tLDAP ATTRIBUTE\tOCTOPUS ATTRIBUTE\tINDEX\tSEPARATOR")
	for _, a := range m.Attributes {
		idx, sep := "", ""
		if a.HasIndex {
			idx = strconv.Itoa(a.Index)
		}
		if a.Separator != "" {
			sep = strconv.Quote(a.Separator)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", a.Line, a.LDAP, a.Octopus, idx, sep)
	}
	if len(m.Attributes) == 0 {
		fmt.Fprintln(tw, "-\t(no entries)\t\t\t")
	}
	tw.Flush()

	fmt.Fprintln(w)
	if upn, ok := m.UPN(); ok {
		fmt.Fprintf(w, "UPN sync: on (line %d: %s -> UPN)\n", upn.Line, sourceText(upn))
	} else {
		fmt.Fprintf(w, "UPN sync: off: %s\n", addUPNHint(m.File))
	}
	fmt.Fprintf(w, "LDAP attributes read: %s\n", strings.Join(m.Fields().Attributes(), ", "))
}
