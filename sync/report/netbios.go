package report

// NetBIOSText is the NetBIOS name a run used and where it came from, for a
// report's header: "CORP (read from the directory)", "OCTOPUS-QC (guessed
// from the DN: ...)"; "" when the run's people carried none.
func NetBIOSText(meta Meta) string {
	if meta.NetBIOS == "" {
		return ""
	}
	switch meta.NetBIOSSource {
	case "":
		return meta.NetBIOS
	case "directory":
		return meta.NetBIOS + " (read from the directory's Partitions container)"
	case "option":
		return meta.NetBIOS + " (--netbios-domain)"
	case "dn":
		return meta.NetBIOS + " (guessed from the DN's first DC= label: if the domain's NetBIOS name differs, give it with --netbios-domain)"
	}
	return meta.NetBIOS + " (" + meta.NetBIOSSource + ")"
}

// optionSource is the source of a NetBIOS name a saved plan's settings
// give: --netbios-domain when set.
func optionSource(netbios string) string {
	if netbios == "" {
		return ""
	}
	return "option"
}
