package sync

import (
	"fmt"
	"iter"
)

// Changes are a plan's changes, in the order they are reported and
// applied. A first run at a million users plans hundreds of thousands of
// changes, and a Change is close to 400 bytes before its strings: so a
// plan the engine builds keeps each change as a 16-byte record pointing
// into the store's snapshot (the user: id, name, list before, external
// identifier) and into an arena of the people of the read (pending.go),
// and makes one Change at a time when asked. Changes given as values (a
// saved plan, an undo, a test) are kept as they are, after the records.
//
// The zero value holds no change. Changes are read-only once built: a
// copy shares what it was copied from.
type Changes struct {
	recs []changeRec
	set  *changeSet
	vals []Change
	// view rewrites each change At returns (forTerminal's escaping). By
	// value: a Change given by address to a function value would be made
	// on the heap each time.
	view func(Change) Change
}

// ChangesOf returns the changes cs, in that order (the slice is not
// copied).
func ChangesOf(cs ...Change) Changes { return Changes{vals: cs} }

// Len is the number of changes.
func (c Changes) Len() int { return len(c.recs) + len(c.vals) }

// At returns the i-th change. Its strings share the plan's memory; the
// Change itself is made anew on each call.
func (c Changes) At(i int) Change {
	var ch Change
	if i < len(c.recs) {
		ch = c.set.change(c.recs[i])
	} else {
		ch = c.vals[i-len(c.recs)]
	}
	if c.view != nil {
		ch = c.view(ch)
	}
	return ch
}

// All yields each change with its position, in order.
func (c Changes) All() iter.Seq2[int, Change] {
	return func(yield func(int, Change) bool) {
		for i := range c.Len() {
			if !yield(i, c.At(i)) {
				return
			}
		}
	}
}

// Batch returns changes lo to hi-1 as values: a store writes a plan in
// batches, so that only one batch of Change values exists at a time.
func (c Changes) Batch(lo, hi int) []Change {
	out := make([]Change, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, c.At(i))
	}
	return out
}

// Slice returns every change as a value (for the small plans of a saved
// plan or an undo; a plan the engine built is better read with All or
// Batch).
func (c Changes) Slice() []Change {
	if len(c.recs) == 0 && c.view == nil {
		return c.vals
	}
	return c.Batch(0, c.Len())
}

// Append adds changes after the others.
func (c *Changes) Append(cs ...Change) {
	c.vals = append(c.vals, cs...)
}

// Map returns the same changes with f applied to each as At makes it
// (after any function given before).
func (c Changes) Map(f func(Change) Change) Changes {
	if prev := c.view; prev != nil {
		c.view = func(ch Change) Change { return f(prev(ch)) }
	} else {
		c.view = f
	}
	return c
}

// without returns the changes but those drop says to leave out.
func (c Changes) without(drop func(i int) bool) Changes {
	out := Changes{set: c.set, view: c.view}
	for i, r := range c.recs {
		if !drop(i) {
			out.recs = append(out.recs, r)
		}
	}
	for i, v := range c.vals {
		if !drop(len(c.recs) + i) {
			out.vals = append(out.vals, v)
		}
	}
	return out
}

// Format prints the changes as their values (%v, %+v in messages and
// tests).
func (c Changes) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), c.Slice())
}
