// Package sharedcomponent shares one component among the pipelines that use the same
// component id, as contrib's internal/sharedcomponent does: the collector creates a
// component once per signal, and a component serving logs and traces must still hold one
// datafile poll and one HTTP client. Unlike contrib's, the component shuts down when the
// last pipeline using it does, so one signal's shutdown cannot cut the other's drain short.
package sharedcomponent // import "github.com/experimentationexporter/experimentationexporter/internal/sharedcomponent"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Map holds the shared components by key (the collector hands every signal of one
// component id the same *Config).
type Map[K comparable, V component.Component] struct {
	mu sync.Mutex
	m  map[K]*Component[K, V]
}

// NewMap returns an empty Map.
func NewMap[K comparable, V component.Component]() *Map[K, V] {
	return &Map[K, V]{m: map[K]*Component[K, V]{}}
}

// Acquire returns the component of key, created by create for its first user. Every
// Acquire is matched by one Shutdown, or by one Release when the user's own creation fails.
func (m *Map[K, V]) Acquire(key K, create func() (V, error)) (*Component[K, V], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.m[key]; ok {
		c.users++
		return c, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	c := &Component[K, V]{Value: v, m: m, key: key, users: 1}
	m.m[key] = c
	return c, nil
}

// Component is one shared component and the count of its users.
type Component[K comparable, V component.Component] struct {
	Value V

	m     *Map[K, V]
	key   K
	users int // guarded by m.mu

	startOnce sync.Once
	startErr  error
}

// Start starts the component for whichever user starts first; the others get its result.
func (c *Component[K, V]) Start(ctx context.Context, host component.Host) error {
	c.startOnce.Do(func() { c.startErr = c.Value.Start(ctx, host) })
	return c.startErr
}

// Shutdown drops one user; the last one shuts the component down.
func (c *Component[K, V]) Shutdown(ctx context.Context) error {
	if !c.Release() {
		return nil
	}
	return c.Value.Shutdown(ctx)
}

// Release drops one user without shutting down and reports whether it was the last.
func (c *Component[K, V]) Release() bool {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.users--
	if c.users > 0 {
		return false
	}
	if c.m.m[c.key] == c {
		delete(c.m.m, c.key)
	}
	return true
}
