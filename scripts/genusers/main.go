// Command genusers writes N Active Directory-like users as LDIF for slapadd
// and, optionally, an Octopus users CSV export for the same people with a
// realistic mix of states (already in sync, matched by Windows username or
// e-mail, UPN missing, conflicts). Output is deterministic for a seed and
// streamed: a million users take a few seconds and little memory.
//
//	go run ./scripts/genusers -n 3000 -ldif users.ldif -octopus-csv octopus.csv
//
// Each user record is preceded by a comment "# user SAM objectGUID GUID"
// with the canonical GUID computed here, so tests can check a reader's
// objectGUID decoding against an independent computation.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	regions = []string{"Amsterdam", "Berlin", "Toronto Office", "São Paulo"}
	depts   = []string{"Sales", "Engineering", "Finance", "R&D"}
	firsts  = []string{"Anna", "Ben", "Chloé", "David", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jan",
		"Katarzyna", "Liam", "María", "Noah", "Olivia", "Pieter", "Quentin", "Rosa", "Sofía", "Tom",
		"Ursula", "Vikram", "Wen", "Xavier", "Yusuf", "Zoë", "Ahmed", "Björn", "Carla", "Dmitri",
		"Elif", "François", "Giulia", "Hannah", "Ivan", "Jürgen", "Kofi", "Lucía", "Mohammed", "Nora"}
	lasts = []string{"Smith", "de Vries", "Müller", "García", "Nguyen", "O'Brien", "Kowalski", "Rossi",
		"Jansen", "Schmidt", "Dubois", "Silva", "Yamamoto", "Patel", "Andersson", "Novak", "Öztürk",
		"Johansson", "Fernández", "van der Berg", "Ivanova", "Kim", "Costa", "Meyer", "Łukasik",
		"Brown", "Wilson", "Taylor", "Martin", "Lefèvre", "Ørsted", "Nowak", "Horváth", "Popescu"}
	fold = strings.NewReplacer(
		"á", "a", "à", "a", "â", "a", "ä", "a", "ã", "a", "å", "a", "é", "e", "è", "e", "ê", "e", "ë", "e",
		"í", "i", "ì", "i", "î", "i", "ï", "i", "ó", "o", "ò", "o", "ô", "o", "ö", "o", "õ", "o", "ø", "o",
		"ú", "u", "ù", "u", "û", "u", "ü", "u", "ñ", "n", "ç", "c", "ł", "l", "ß", "ss", "Ø", "O", "Ö", "O",
		"Ł", "L", "É", "E", "Ü", "U", "Ä", "A")
)

type options struct {
	n         int
	base      string
	seed      uint64
	ldifPath  string
	csvPath   string
	netbios   string
	altSuffix string
	// samba writes LDIF for ldapadd into a Samba AD DC: the domain root
	// exists, AD assigns objectGUID, objectCategory, uSNChanged and
	// whenChanged itself, users have no password (userAccountControl 544,
	// or 514/546 when disabled).
	samba bool
	// guids maps sAMAccountName (lower case) to the canonical objectGUID
	// the directory assigned (from -guids-ldif): the Octopus CSV uses them.
	guids map[string]string
	// mix is the Octopus export's mix of states: mixSteady or mixRollout.
	mix string
}

// The Octopus export's mixes. Both draw the same random numbers, so the
// directory (the LDIF) is the same whichever mix the export has.
const (
	// mixSteady: a store upnsync has kept in sync for a while (70% in
	// sync, 10% missing the UPN, 7% matched by Windows username, 5% by
	// e-mail, 4% conflicts, 4.5% without an Octopus user).
	mixSteady = "steady"
	// mixRollout: the first run in an organisation: 91% of the people with
	// a UPN need it (60% matched by objectGUID, 20% by Windows username,
	// 11% by e-mail), 2% in sync, 3% conflicts, 4% without an Octopus user.
	mixRollout = "rollout"
)

func main() {
	var o options
	flag.IntVar(&o.n, "n", 3000, "number of users")
	flag.StringVar(&o.base, "base", "dc=corp,dc=example,dc=com", "domain base DN")
	flag.Uint64Var(&o.seed, "seed", 1, "seed: the same seed gives the same users")
	flag.StringVar(&o.ldifPath, "ldif", "-", "LDIF output file (- for standard output)")
	flag.StringVar(&o.csvPath, "octopus-csv", "", "also write an Octopus users CSV export to this file")
	flag.StringVar(&o.netbios, "netbios", "", "NetBIOS domain name (default: the first DC label, upper-cased)")
	flag.StringVar(&o.altSuffix, "alt-suffix", "example.net", "alternative UPN suffix used by some users")
	flag.StringVar(&o.mix, "mix", mixSteady, "the Octopus export's mix: steady (most users in sync) or rollout (a first run: 91% need their UPN)")
	flag.BoolVar(&o.samba, "samba", false, "write LDIF for ldapadd into a Samba AD DC (no root entry, no objectGUID: AD assigns it)")
	guidsLDIF := flag.String("guids-ldif", "", "an ldapsearch export (sAMAccountName, objectGUID) of the loaded users: the Octopus CSV uses the GUIDs the directory assigned")
	flag.Parse()
	if *guidsLDIF != "" {
		m, err := readGUIDs(*guidsLDIF)
		if err != nil {
			fail("%v", err)
		}
		o.guids = m
	}
	if flag.NArg() > 0 {
		fail("unexpected argument %q (flags: -n -base -seed -ldif -octopus-csv -mix)", flag.Arg(0))
	}
	if o.mix != mixSteady && o.mix != mixRollout {
		fail("-mix must be %s or %s, not %q", mixSteady, mixRollout, o.mix)
	}
	if o.n < 0 {
		fail("-n must be 0 or more")
	}
	stats, err := run(o)
	if err != nil {
		fail("%v", err)
	}
	fmt.Fprintf(os.Stderr, "genusers: %d users (%d disabled, %d without UPN, %d with suffix %s)", o.n, stats.disabled, stats.noUPN, stats.alt, o.altSuffix)
	if o.csvPath != "" {
		fmt.Fprintf(os.Stderr, "; %d Octopus users", stats.octopus)
	}
	fmt.Fprintln(os.Stderr)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "genusers: "+format+"\n", args...)
	os.Exit(1)
}

type stats struct{ disabled, noUPN, alt, octopus int }

func create(path string) (io.Writer, func() error, error) {
	if path == "-" {
		bw := bufio.NewWriterSize(os.Stdout, 1<<20)
		return bw, bw.Flush, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	return bw, func() error {
		if err := bw.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

// dnsOf returns the DNS name of a base made of DC components.
func dnsOf(base string) (string, error) {
	var labels []string
	for _, rdn := range strings.Split(base, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(rdn), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "dc") || v == "" {
			return "", fmt.Errorf("-base %q must be made of DC components only (dc=corp,dc=example,dc=com)", base)
		}
		labels = append(labels, strings.ToLower(strings.TrimSpace(v)))
	}
	return strings.Join(labels, "."), nil
}

func run(o options) (st stats, err error) {
	dns, err := dnsOf(o.base)
	if err != nil {
		return st, err
	}
	if o.netbios == "" {
		o.netbios = strings.ToUpper(strings.SplitN(dns, ".", 2)[0])
	}
	w, closeLDIF, err := create(o.ldifPath)
	if err != nil {
		return st, err
	}
	var cw *csv.Writer
	var closeCSV func() error
	if o.csvPath != "" {
		var f io.Writer
		f, closeCSV, err = create(o.csvPath)
		if err != nil {
			return st, err
		}
		cw = csv.NewWriter(f)
		cw.Write([]string{"ID", "FirstName", "LastName", "Email", "WindowsUsername", "ExternalIdentifier", "Active"})
	}

	g := &gen{o: o, dns: dns, w: &ldifWriter{w: w}, csv: cw, rng: rand.New(rand.NewPCG(o.seed, 0x75706e73796e63))}
	g.structure()
	for i := 0; i < o.n; i++ {
		g.user(i, &st)
	}
	if err := g.w.err; err != nil {
		return st, err
	}
	if err := closeLDIF(); err != nil {
		return st, err
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return st, err
		}
		if err := closeCSV(); err != nil {
			return st, err
		}
		st.octopus = g.octopusID
	}
	return st, nil
}

type gen struct {
	o         options
	dns       string
	w         *ldifWriter
	csv       *csv.Writer
	rng       *rand.Rand
	ous       []string
	octopusID int
}

// structure writes the domain root, the OU tree, a group and computers.
func (g *gen) structure() {
	w := g.w
	if g.o.samba {
		g.sambaStructure()
		return
	}
	dc := strings.SplitN(g.dns, ".", 2)[0]
	w.attr("dn", g.o.base)
	w.attr("objectClass", "top")
	w.attr("objectClass", "dcObject")
	w.attr("objectClass", "organization")
	w.attr("dc", dc)
	w.attr("o", g.o.netbios)
	w.end()

	people := g.peopleTree()
	groups := "ou=Groups," + g.o.base
	g.ou(groups, "Groups")
	w.attr("dn", "cn=Staff,"+groups)
	w.attr("objectClass", "groupOfNames")
	w.attr("cn", "Staff")
	w.attr("member", people)
	w.end()

	// A subordinate referral, like the continuation references AD returns
	// for DomainDnsZones and ForestDnsZones: readers count it, never chase it.
	w.attr("dn", "ou=Partner,"+g.o.base)
	w.attr("objectClass", "referral")
	w.attr("objectClass", "extensibleObject")
	w.attr("ou", "Partner")
	w.attr("ref", "ldap://dc1.partner.example.org/ou=Partner,dc=partner,dc=example,dc=org")
	w.end()

	// Computers carry the user class too, as in AD: the user filter must
	// leave them out (objectCategory computer).
	comps := "ou=Computers," + g.o.base
	g.ou(comps, "Computers")
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("WS%03d", i)
		w.attr("dn", "cn="+name+","+comps)
		w.attr("objectClass", "device")
		w.attr("objectClass", "user")
		w.attr("objectClass", "computer")
		w.attr("cn", name)
		w.attr("sAMAccountName", name+"$")
		w.attr("userAccountControl", "4096")
		w.attr("objectCategory", "computer")
		w.end()
	}
}

// peopleTree writes ou=People with an OU per region and, inside each, one
// per department, records them in g.ous, and returns the People DN.
func (g *gen) peopleTree() string {
	people := "ou=People," + g.o.base
	g.ou(people, "People")
	g.ous = append(g.ous, people)
	for _, r := range regions {
		rdn := "ou=" + escapeRDN(r) + "," + people
		g.ou(rdn, r)
		g.ous = append(g.ous, rdn)
		for _, d := range depts {
			drdn := "ou=" + escapeRDN(d) + "," + rdn
			g.ou(drdn, d)
			g.ous = append(g.ous, drdn)
		}
	}
	return people
}

// sambaStructure writes the OU tree (nested three deep) and computers for
// a Samba AD DC, whose domain root and containers exist already.
func (g *gen) sambaStructure() {
	g.peopleTree()
	// Computers are users too in AD: the user filter must leave them out.
	comps := "ou=Workstations," + g.o.base
	g.ou(comps, "Workstations")
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("WS%03d", i)
		g.w.attr("dn", "cn="+name+","+comps)
		g.w.attr("objectClass", "computer")
		g.w.attr("cn", name)
		g.w.attr("sAMAccountName", name+"$")
		g.w.attr("userAccountControl", "4096")
		g.w.end()
	}
}

func (g *gen) ou(dn, name string) {
	g.w.attr("dn", dn)
	g.w.attr("objectClass", "top")
	g.w.attr("objectClass", "organizationalUnit")
	g.w.attr("ou", name)
	g.w.end()
}

// person is one generated directory user.
type person struct {
	given, sn, sam, upn, mail string
	guid                      string // canonical
	disabled                  bool
}

func asciiName(s string) string {
	s = fold.Replace(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + 'a' - 'A')
		}
	}
	return b.String()
}

func (g *gen) user(i int, st *stats) {
	r := g.rng
	var p person
	var giv, fam string // ASCII forms
	switch i {
	case 0:
		p.given, p.sn, giv, fam = "José", "Müller", "jose", "mueller"
	case 1:
		p.given, p.sn, giv, fam = "芳", "王", "fang", "wang"
	default:
		p.given, p.sn = firsts[r.IntN(len(firsts))], lasts[r.IntN(len(lasts))]
		giv, fam = asciiName(p.given), asciiName(p.sn)
	}
	idx := strconv.Itoa(i)
	sam := giv[:1] + fam
	if len(sam) > 12 {
		sam = sam[:12]
	}
	p.sam = sam + idx
	local := giv + "." + fam + idx
	p.mail = local + "@" + g.dns

	// A GUID: canonical (RFC 4122 order, version 4) and AD's raw order.
	var c [16]byte
	a, b := r.Uint64(), r.Uint64()
	for k := 0; k < 8; k++ {
		c[k] = byte(a >> (8 * k))
		c[8+k] = byte(b >> (8 * k))
	}
	c[6] = c[6]&0x0f | 0x40
	c[8] = c[8]&0x3f | 0x80
	h := hex.EncodeToString(c[:])
	p.guid = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	raw := [16]byte{c[3], c[2], c[1], c[0], c[5], c[4], c[7], c[6],
		c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]}

	roll := r.IntN(1000)
	switch {
	case i == 3 || i > 4 && roll < 10: // 1%: an old account without UPN
		st.noUPN++
	case i == 4 || i > 4 && roll < 40: // 3%: an alternative UPN suffix
		p.upn = local + "@" + g.o.altSuffix
		st.alt++
	case roll < 90: // 5%: capitalised like a person typed it
		p.upn = strings.ToUpper(local[:1]) + local[1:] + "@" + g.dns
	default:
		p.upn = local + "@" + g.dns
	}
	uac := "512"
	if i == 2 || i > 4 && r.IntN(100) < 5 {
		p.disabled = true
		st.disabled++
		uac = "514"
		if i%2 == 1 {
			uac = "66050" // disabled + password never expires
		}
	}

	cn := p.given + " " + p.sn + " (" + p.sam + ")"
	if i%10 == 5 {
		cn = p.sn + ", " + p.given + " (" + p.sam + ")" // "Last, First": an escaped comma in the DN
	}
	ou := g.ous[i%len(g.ous)]
	w := g.w
	if g.o.samba {
		// No password: 544 is a normal account that needs none (0x220),
		// 514 and 546 disabled ones.
		switch uac {
		case "512":
			uac = "544"
		case "66050":
			uac = "546"
		}
		w.attr("dn", "cn="+escapeRDN(cn)+","+g.ous[i%len(g.ous)])
		w.attr("objectClass", "user")
		w.attr("cn", cn)
		w.attr("sn", p.sn)
		w.attr("givenName", p.given)
		w.attr("displayName", p.given+" "+p.sn)
		w.attr("mail", p.mail)
		w.attr("sAMAccountName", p.sam)
		if p.upn != "" {
			w.attr("userPrincipalName", p.upn)
		}
		w.attr("userAccountControl", uac)
		w.end()
		if g.csv != nil {
			p.guid = g.o.guids[strings.ToLower(p.sam)]
			g.octopus(i, &p)
		}
		return
	}
	w.comment("user " + p.sam + " objectGUID " + p.guid)
	w.attr("dn", "cn="+escapeRDN(cn)+","+ou)
	w.attr("objectClass", "top")
	w.attr("objectClass", "person")
	w.attr("objectClass", "organizationalPerson")
	w.attr("objectClass", "inetOrgPerson")
	w.attr("objectClass", "user")
	w.attr("cn", cn)
	w.attr("sn", p.sn)
	w.attr("givenName", p.given)
	w.attr("displayName", p.given+" "+p.sn)
	w.attr("mail", p.mail)
	w.attr("sAMAccountName", p.sam)
	if p.upn != "" {
		w.attr("userPrincipalName", p.upn)
	}
	w.attr("userAccountControl", uac)
	w.attr("objectCategory", "person")
	w.binary("objectGUID", raw[:])
	w.attr("uSNChanged", strconv.Itoa(12000+i))
	w.attr("whenChanged", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i)*time.Minute).Format("20060102150405.0Z"))
	w.end()

	if g.csv != nil {
		g.octopus(i, &p)
	}
}

// octopus writes the Octopus user(s) for one person.
func (g *gen) octopus(i int, p *person) {
	r := g.rng
	active := "true"
	if p.disabled && r.IntN(2) == 0 {
		active = "false"
	}
	domSam := g.o.netbios + `\` + p.sam
	write := func(first, last, email, windows, ext, active string) {
		g.octopusID++
		g.csv.Write([]string{"Users-" + strconv.Itoa(g.octopusID), first, last, email, windows, ext, active})
	}
	roll := r.IntN(1000)
	if i < 5 { // the special people always have an Octopus user
		roll = [...]int{100, 750, 850, 0, 650}[i]
	}
	if p.upn == "" { // nothing to add: matched by GUID, account name only
		write(p.given, p.sn, p.mail, p.sam, p.guid, active)
		return
	}
	if g.o.mix == mixRollout {
		roll = rolloutRoll(roll)
	}
	switch {
	case roll < 700: // in sync: GUID matches, UPN present (sometimes in another case)
		upn := p.upn
		if roll < 70 {
			upn = strings.ToUpper(upn)
		}
		win := p.sam + ";" + upn
		if roll%3 == 0 {
			win = domSam + ";" + upn
		}
		write(p.given, p.sn, p.mail, win, p.guid, active)
	case roll < 800: // 10%: GUID matches, UPN missing
		win := p.sam
		if roll%2 == 0 {
			win = domSam
		}
		write(p.given, p.sn, p.mail, win, p.guid, active)
	case roll < 870: // 7%: no GUID yet, matched by Windows username
		win := p.sam
		if roll%2 == 0 {
			win = strings.ToUpper(domSam)
		}
		write(p.given, p.sn, p.mail, win, "", active)
	case roll < 920: // 5%: matched by e-mail only
		write(p.given, p.sn, strings.ToUpper(p.mail[:1])+p.mail[1:], "", "", active)
	case roll < 935: // conflict: the UPN is in another user's list
		write(p.given, p.sn, p.mail, p.sam, p.guid, active)
		write("Old", "Account", "", "old"+p.sam+";"+p.upn, "", "false")
	case roll < 950: // conflict: two Octopus users share the e-mail (ambiguous)
		write(p.given, p.sn, p.mail, "", "", active)
		write(p.given, p.sn+" (2)", p.mail, "", "", "true")
	case roll < 955: // conflict: the list is too long to take the UPN
		var b strings.Builder
		b.WriteString(p.sam)
		for k := 0; b.Len() < 235; k++ {
			b.WriteString(";alias" + strconv.Itoa(k) + "." + p.sam)
		}
		write(p.given, p.sn, p.mail, b.String()[:min(b.Len(), 250)], p.guid, active)
	default: // no Octopus user: unmatched
	}
	if i%100 == 50 { // Octopus-only users (service desk accounts)
		write("Service", "Desk "+strconv.Itoa(i), "", "svc-desk"+strconv.Itoa(i), "", "true")
	}
}

// rolloutRoll maps a roll of the steady mix (0-999) onto the same states
// with the rollout's shares: 91% need the UPN (600 by objectGUID, 200 by
// Windows username, 110 by e-mail), 2% in sync, 3% conflicts, 4% without
// an Octopus user. Each state keeps its own sub-cases (a domain-qualified
// account name on even rolls, and so on).
func rolloutRoll(roll int) int {
	switch {
	case roll < 600: // GUID matches, UPN missing
		return 700 + roll%100
	case roll < 800: // matched by Windows username
		return 800 + roll%70
	case roll < 910: // matched by e-mail
		return 870 + roll%50
	case roll < 930: // in sync
		return roll % 700
	case roll < 945: // the UPN is in another user's list
		return 920 + roll%15
	case roll < 955: // two users share the e-mail
		return 935 + roll%15
	case roll < 960: // the list is too long
		return 950 + roll%5
	}
	return 955 + roll%45 // no Octopus user
}

// readGUIDs reads sAMAccountName and objectGUID pairs from an ldapsearch
// LDIF export and returns canonical GUIDs by lower-case account name. The
// canonical form swaps the byte order of the first three groups.
func readGUIDs(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	text := strings.ReplaceAll(string(data), "\n ", "") // unfold
	for n, rec := range strings.Split(text, "\n\n") {
		var sam, guid string
		for _, line := range strings.Split(rec, "\n") {
			switch {
			case strings.HasPrefix(strings.ToLower(line), "samaccountname: "):
				sam = strings.ToLower(line[len("samaccountname: "):])
			case strings.HasPrefix(strings.ToLower(line), "objectguid:: "):
				b, err := base64.StdEncoding.DecodeString(line[len("objectguid:: "):])
				if err != nil || len(b) != 16 {
					return nil, fmt.Errorf("%s: record %d: objectGUID %q is not 16 bytes of base64", path, n+1, line)
				}
				c := []byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]}
				c = append(c, b[8:]...)
				h := hex.EncodeToString(c)
				guid = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
			}
		}
		if sam != "" && guid != "" {
			m[sam] = guid
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s holds no sAMAccountName with an objectGUID", path)
	}
	return m, nil
}

// escapeRDN escapes an RDN value (RFC 4514).
func escapeRDN(v string) string {
	var b strings.Builder
	for k := 0; k < len(v); k++ {
		c := v[k]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case k == 0 && (c == ' ' || c == '#'), k == len(v)-1 && c == ' ':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ldifWriter writes attribute lines, base64-encoding values that are not
// LDIF SAFE-STRINGs (non-ASCII, leading space/colon/less-than, trailing
// space).
type ldifWriter struct {
	w   io.Writer
	buf []byte
	err error
}

func safe(v string) bool {
	if v == "" {
		return true
	}
	if c := v[0]; c == ' ' || c == ':' || c == '<' {
		return false
	}
	if v[len(v)-1] == ' ' {
		return false
	}
	for k := 0; k < len(v); k++ {
		if c := v[k]; c == 0 || c == '\n' || c == '\r' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (l *ldifWriter) attr(name, v string) {
	l.buf = append(l.buf, name...)
	if safe(v) {
		l.buf = append(l.buf, ": "...)
		l.buf = append(l.buf, v...)
	} else {
		l.buf = append(l.buf, ":: "...)
		l.buf = base64.StdEncoding.AppendEncode(l.buf, []byte(v))
	}
	l.buf = append(l.buf, '\n')
}

func (l *ldifWriter) binary(name string, v []byte) {
	l.buf = append(l.buf, name...)
	l.buf = append(l.buf, ":: "...)
	l.buf = base64.StdEncoding.AppendEncode(l.buf, v)
	l.buf = append(l.buf, '\n')
}

func (l *ldifWriter) comment(s string) {
	l.buf = append(l.buf, "# "...)
	l.buf = append(l.buf, s...)
	l.buf = append(l.buf, '\n')
}

func (l *ldifWriter) end() {
	l.buf = append(l.buf, '\n')
	if l.err == nil {
		_, l.err = l.w.Write(l.buf)
	}
	l.buf = l.buf[:0]
}
