package directory

import upnsync "github.com/upnsync/upnsync/sync"

// Where the NetBIOS domain names of a directory's people come from: the
// names rule M2 matches DOMAIN\name entries with. Reports and the log name
// the source, so that a guess is never silent.
const (
	// NetBIOSFromOption: --netbios-domain, for every person.
	NetBIOSFromOption = "option"
	// NetBIOSFromDirectory: the nETBIOSName of each domain's crossRef in
	// the Partitions container (AD), read when the connection is made.
	NetBIOSFromDirectory = "directory"
	// NetBIOSFromDN: the first DC= label of each DN, upper-cased
	// (DC=octopus-qc gives OCTOPUS-QC): a guess, right for most domains,
	// wrong for those whose NetBIOS name differs.
	NetBIOSFromDN = "dn"
)

// NetBIOSSource says where the NetBIOS names of d's people came from; ask
// it after a read (an LDAP directory reads the Partitions container when
// it connects). "" is a directory whose people carry none (Entra ID) or
// not one of this package's.
func NetBIOSSource(d upnsync.Directory) string {
	var option string
	switch d := d.(type) {
	case *ldapDirectory:
		if d.opts.NetBIOSDomain == "" && len(d.dec.domains.netbios) > 0 {
			return NetBIOSFromDirectory
		}
		option = d.opts.NetBIOSDomain
	case *ldifDirectory:
		option = d.dec.netbios
	case *csvDirectory:
		option = d.opts.NetBIOSDomain
	case *xlsxDirectory:
		option = d.opts.NetBIOSDomain
	default:
		return ""
	}
	if option != "" {
		return NetBIOSFromOption
	}
	return NetBIOSFromDN
}
