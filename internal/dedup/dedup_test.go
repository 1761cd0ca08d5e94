package dedup

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sec = int64(time.Second)

func TestRepeatWithinTheWindowByEventTime(t *testing.T) {
	s := New(Config{Window: time.Hour, MaxKeys: 10})
	assert.False(t, s.Repeat(1, 100*sec), "first: sent")
	assert.True(t, s.Repeat(1, 100*sec), "a replay with the same event time")
	assert.True(t, s.Repeat(1, 100*sec+3599*sec), "within the window")
	assert.False(t, s.Repeat(1, 100*sec+3600*sec), "a window later: sent again")
	assert.True(t, s.Repeat(1, 100*sec+3601*sec), "the new window")
	assert.False(t, s.Repeat(1, 50*sec), "a late record earlier than the one sent is the true first")
	assert.True(t, s.Repeat(1, 60*sec), "within the window of the earlier one")
	assert.False(t, s.Repeat(2, 60*sec), "another key")
}

func TestLeastRecentlySeenForgottenFirst(t *testing.T) {
	s := New(Config{Window: time.Hour, MaxKeys: 3})
	for k := uint64(1); k <= 3; k++ {
		require.False(t, s.Repeat(k, sec))
	}
	assert.True(t, s.Repeat(1, sec), "seen again: now the most recent")
	assert.False(t, s.Repeat(4, sec), "a fourth key evicts the least recently seen (2)")
	assert.Equal(t, 3, s.Len())
	assert.True(t, s.Repeat(1, sec), "1 was kept")
	assert.True(t, s.Repeat(3, sec), "3 was kept")
	assert.False(t, s.Repeat(2, sec), "2 was forgotten: a repeat is sent again, never a first lost")
}

func TestVisitorPresence(t *testing.T) {
	s := New(Config{Window: time.Minute, MaxKeys: 10})
	assert.False(t, s.Seen(7))
	s.Touch(7)
	assert.True(t, s.Seen(7))
}

func TestOffAndValidation(t *testing.T) {
	assert.Nil(t, New(Config{}))
	assert.EqualError(t, (&Config{Window: -time.Second}).Validate(), "dedup::window must not be negative, got -1s")
	assert.EqualError(t, (&Config{Window: time.Second}).Validate(), "dedup::max_keys must be at least 1 when dedup::window is set, got 0")
	assert.NoError(t, (&Config{}).Validate())
}

func TestHasherSeparatesParts(t *testing.T) {
	s := New(Config{Window: time.Minute, MaxKeys: 10})
	key := func(parts ...string) uint64 {
		var h Hasher
		s.Start(&h)
		for _, p := range parts {
			h.String(p)
		}
		return h.Sum()
	}
	assert.Equal(t, key("u1", "exp", "var"), key("u1", "exp", "var"))
	assert.NotEqual(t, key("u1", "ex", "pvar"), key("u1", "exp", "var"))
	assert.NotEqual(t, key("u1", "exp", "var"), key("u2", "exp", "var"))
}

func TestConcurrentUse(t *testing.T) {
	s := New(Config{Window: time.Hour, MaxKeys: 1000})
	var wg sync.WaitGroup
	sent := make([]int, 8)
	for g := range 8 {
		wg.Go(func() {
			for k := range uint64(2000) {
				if !s.Repeat(k%500, sec) {
					sent[g]++
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range sent {
		total += n
	}
	assert.Equal(t, 500, total, "each key sent once whatever the interleaving")
}

// BenchmarkRepeat: a hit, a miss, and the memory of a million keys.
func BenchmarkRepeat(b *testing.B) {
	s := New(Config{Window: time.Hour, MaxKeys: DefaultMaxKeys})
	for k := range uint64(DefaultMaxKeys) {
		s.Repeat(k, sec)
	}
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.Repeat(uint64(i%DefaultMaxKeys), sec)
		}
	})
	b.Run("miss_evicting", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.Repeat(uint64(DefaultMaxKeys+i), sec)
		}
	})
}
