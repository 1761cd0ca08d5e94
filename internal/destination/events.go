package destination

// Events are encoded events (or any byte strings) laid end to end in one buffer, each
// followed by a comma, so the events [i, j) of a request body are one contiguous slice
// (minus the last comma): batching, splitting and sending copy bytes and never re-encode.
type Events struct {
	Data []byte
	Ends []int // Ends[i] is the offset just past event i's comma
}

// End closes the event just appended to Data.
func (e *Events) End() {
	e.Data = append(e.Data, ',')
	e.Ends = append(e.Ends, len(e.Data))
}

// Len is the number of events.
func (e *Events) Len() int { return len(e.Ends) }

func (e *Events) start(i int) int {
	if i == 0 {
		return 0
	}
	return e.Ends[i-1]
}

// Event returns event i.
func (e *Events) Event(i int) []byte { return e.Data[e.start(i) : e.Ends[i]-1] }

// Range returns events [i, j) separated by commas.
func (e *Events) Range(i, j int) []byte {
	if j <= i {
		return nil
	}
	return e.Data[e.start(i) : e.Ends[j-1]-1]
}

// Slice returns events [i, j) in memory of their own, so later appends to either cannot
// overwrite the other.
func (e *Events) Slice(i, j int) Events {
	off := e.start(i)
	out := Events{Data: append([]byte(nil), e.Data[off:e.start(j)]...), Ends: make([]int, j-i)}
	for k := i; k < j; k++ {
		out.Ends[k-i] = e.Ends[k] - off
	}
	return out
}

// Append adds every event of o.
func (e *Events) Append(o *Events) {
	off := len(e.Data)
	e.Data = append(e.Data, o.Data...)
	for _, end := range o.Ends {
		e.Ends = append(e.Ends, end+off)
	}
}

// EndAll closes events a builder appended back to back since offset start, the i-th
// ending at ends[i] (offsets in Data).
func (e *Events) EndAll(start int, ends []int) {
	if len(ends) == 1 {
		e.End()
		return
	}
	events := append([]byte(nil), e.Data[start:]...)
	e.Data = e.Data[:start]
	prev := start
	for _, end := range ends {
		e.Data = append(e.Data, events[prev-start:end-start]...)
		e.End()
		prev = end
	}
}
