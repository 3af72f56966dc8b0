package sync

// upnTable remembers, for every UPN the planner has seen, where its first
// holder went (a ref). It holds one entry per directory person, so it is
// the one structure of the planner that grows with the directory rather
// than the store: 8 bytes a slot, a 32-bit fingerprint of the UPN's hash
// and the packed ref, instead of a map's 16 bytes and control word. A hit
// is confirmed (Planner.findSeen) against the UPN the ref leads to, so a
// fingerprint collision never merges two UPNs.
type upnTable struct {
	slots []uint64 // fingerprint<<32 | kind<<refKindShift | idx; 0 is empty
	n     int
}

const (
	refKindShift = 29
	refIdxMask   = 1<<refKindShift - 1
)

func packRef(r ref) uint32 { return uint32(r.kind)<<refKindShift | uint32(r.idx)&refIdxMask }

func unpackRef(v uint32) ref {
	return ref{kind: refKind(v >> refKindShift), idx: int32(v & refIdxMask)}
}

func (t *upnTable) home(fp uint32) int { return int(uint64(fp) * uint64(len(t.slots)) >> 32) }

func (t *upnTable) at(slot int) ref { return unpackRef(uint32(t.slots[slot])) }

// set points an existing slot at a new ref.
func (t *upnTable) set(slot int, r ref) {
	t.slots[slot] = t.slots[slot]&^0xffffffff | uint64(packRef(r))
}

// add records a UPN not in the table.
func (t *upnTable) add(h uint64, r ref) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	t.put(uint64(uint32(h>>32))<<32 | uint64(packRef(r)))
	t.n++
}

func (t *upnTable) put(s uint64) {
	for i := t.home(uint32(s >> 32)); ; {
		if t.slots[i] == 0 {
			t.slots[i] = s
			return
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

func (t *upnTable) grow() {
	old := t.slots
	// By half, not double: at a million people that leaves the table a
	// third smaller on average.
	t.slots = make([]uint64, max(1024, len(old)+len(old)/2))
	for _, s := range old {
		if s != 0 {
			t.put(s)
		}
	}
}
