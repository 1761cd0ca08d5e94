// Package dedup remembers the impressions an exporter already sent, so a repeat of the
// same exposure within a window is not sent again (README "Impressions once"). It keeps a
// 64-bit hash per key (no visitor id in memory), at most MaxKeys of them, forgetting the
// least recently seen first: then a repeat is sent again, a first exposure never lost.
package dedup // import "github.com/experimentationexporter/experimentationexporter/internal/dedup"

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"time"
)

// Config is the dedup section.
type Config struct {
	// Window: an impression whose key was already sent within it (by event time) is not
	// sent again. 0 turns dedup off.
	Window time.Duration `mapstructure:"window"`
	// MaxKeys bounds memory: the least recently seen keys are forgotten first.
	MaxKeys int `mapstructure:"max_keys"`
}

// DefaultMaxKeys is max_keys' default.
const DefaultMaxKeys = 1_000_000

// Validate checks the section.
func (c *Config) Validate() error {
	var errs []error
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("dedup::window must not be negative, got %s", c.Window))
	}
	if c.Window > 0 && c.MaxKeys < 1 {
		errs = append(errs, fmt.Errorf("dedup::max_keys must be at least 1 when dedup::window is set, got %d", c.MaxKeys))
	}
	return errors.Join(errs...)
}

// entry is one remembered key: 32 bytes, plus the map's ~16 per key.
type entry struct {
	key        uint64
	sent       int64 // event time (Unix ns) of the impression sent for this key's window
	prev, next int32 // the recency list: most recent at head
}

// Set remembers keys. It is safe for concurrent use; all methods are O(1).
type Set struct {
	window int64
	max    int
	seed   maphash.Seed

	mu         sync.Mutex
	index      map[uint64]int32
	entries    []entry
	head, tail int32 // -1 when empty
}

// New returns a Set, or nil when the config turns dedup off.
func New(c Config) *Set {
	if c.Window <= 0 {
		return nil
	}
	return &Set{window: int64(c.Window), max: c.MaxKeys, seed: maphash.MakeSeed(),
		index: map[uint64]int32{}, head: -1, tail: -1}
}

// Hasher builds a key from its parts without allocating.
type Hasher struct{ h maphash.Hash }

// Start begins a key.
func (s *Set) Start(h *Hasher) { h.h.SetSeed(s.seed); h.h.Reset() }

// String adds a part, separated from the next.
func (h *Hasher) String(p string) { _, _ = h.h.WriteString(p); _ = h.h.WriteByte(0) }

// Bytes adds a part, separated from the next.
func (h *Hasher) Bytes(p []byte) { _, _ = h.h.Write(p); _ = h.h.WriteByte(0) }

// Sum is the key.
func (h *Hasher) Sum() uint64 { return h.h.Sum64() }

// Exposure starts the key of a visitor's exposure in h with the visitor id, and remembers
// the visitor as exposed (SeenVisitor). The caller adds the decision's parts, then asks
// Repeat(h.Sum(), at).
func (s *Set) Exposure(h *Hasher, visitor string) {
	s.Start(h)
	h.String(visitor)
	s.Touch(h.Sum())
}

// SeenVisitor reports whether visitor has a remembered exposure (and refreshes it): a
// conversion of a visitor without one may count for no variation.
func (s *Set) SeenVisitor(visitor string) bool {
	var h Hasher
	s.Start(&h)
	h.String(visitor)
	return s.Seen(h.Sum())
}

// Repeat reports whether the exposure key at event time at (Unix ns) repeats one already
// sent within the window; otherwise it is the one to send and is remembered. An exposure
// earlier than the one sent is the true first: it is sent and starts the window; one at the
// same time is a replay.
func (s *Set) Repeat(key uint64, at int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[key]; ok {
		e := &s.entries[i]
		s.touch(i)
		switch {
		case at == e.sent:
			return true
		case at < e.sent:
			e.sent = at
			return false
		case at-e.sent < s.window:
			return true
		}
		e.sent = at
		return false
	}
	s.insert(key, at)
	return false
}

// Seen reports whether key was remembered (and refreshes it); Touch remembers it.
func (s *Set) Seen(key uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.index[key]
	if ok {
		s.touch(i)
	}
	return ok
}

// Touch remembers key (a visitor's presence).
func (s *Set) Touch(key uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.index[key]; ok {
		s.touch(i)
		return
	}
	s.insert(key, 0)
}

// Len is the number of remembered keys.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index)
}

func (s *Set) insert(key uint64, at int64) {
	var i int32
	switch {
	case len(s.index) >= s.max:
		// Forget the least recently seen key and reuse its slot.
		i = s.tail
		s.unlink(i)
		delete(s.index, s.entries[i].key)
	default:
		s.entries = append(s.entries, entry{})
		i = int32(len(s.entries) - 1)
	}
	s.entries[i] = entry{key: key, sent: at, prev: -1, next: -1}
	s.index[key] = i
	s.pushFront(i)
}

func (s *Set) touch(i int32) {
	if s.head == i {
		return
	}
	s.unlink(i)
	s.pushFront(i)
}

func (s *Set) unlink(i int32) {
	e := &s.entries[i]
	if e.prev >= 0 {
		s.entries[e.prev].next = e.next
	} else {
		s.head = e.next
	}
	if e.next >= 0 {
		s.entries[e.next].prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = -1, -1
}

func (s *Set) pushFront(i int32) {
	e := &s.entries[i]
	e.prev, e.next = -1, s.head
	if s.head >= 0 {
		s.entries[s.head].prev = i
	}
	s.head = i
	if s.tail < 0 {
		s.tail = i
	}
}
