package sharedcomponent

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

type counting struct {
	starts, shutdowns int
	startErr          error
}

func (c *counting) Start(context.Context, component.Host) error { c.starts++; return c.startErr }
func (c *counting) Shutdown(context.Context) error              { c.shutdowns++; return nil }

func TestOneComponentPerKeyStartedOnceStoppedByTheLastUser(t *testing.T) {
	m := NewMap[string, *counting]()
	created := 0
	create := func() (*counting, error) { created++; return &counting{}, nil }
	logs, err := m.Acquire("a", create)
	require.NoError(t, err)
	traces, err := m.Acquire("a", create)
	require.NoError(t, err)
	other, err := m.Acquire("b", create)
	require.NoError(t, err)
	assert.Same(t, logs, traces)
	assert.NotSame(t, logs, other)
	assert.Equal(t, 2, created)

	host := componenttest.NewNopHost()
	require.NoError(t, logs.Start(context.Background(), host))
	require.NoError(t, traces.Start(context.Background(), host))
	assert.Equal(t, 1, logs.Value.starts)

	require.NoError(t, logs.Shutdown(context.Background()))
	assert.Equal(t, 0, logs.Value.shutdowns, "the traces pipeline still uses it")
	require.NoError(t, traces.Shutdown(context.Background()))
	assert.Equal(t, 1, logs.Value.shutdowns)

	again, err := m.Acquire("a", create)
	require.NoError(t, err)
	assert.NotSame(t, logs, again, "a shut down component is not handed out again")
}

func TestStartErrorReachesEveryUser(t *testing.T) {
	m := NewMap[int, *counting]()
	boom := errors.New("boom")
	a, err := m.Acquire(1, func() (*counting, error) { return &counting{startErr: boom}, nil })
	require.NoError(t, err)
	b, err := m.Acquire(1, nil)
	require.NoError(t, err)
	assert.ErrorIs(t, a.Start(context.Background(), componenttest.NewNopHost()), boom)
	assert.ErrorIs(t, b.Start(context.Background(), componenttest.NewNopHost()), boom)
	assert.Equal(t, 1, a.Value.starts)
}

func TestCreateErrorAndRelease(t *testing.T) {
	m := NewMap[int, *counting]()
	_, err := m.Acquire(1, func() (*counting, error) { return nil, errors.New("bad") })
	require.Error(t, err)
	c, err := m.Acquire(1, func() (*counting, error) { return &counting{}, nil })
	require.NoError(t, err)
	assert.True(t, c.Release(), "the only user")
	assert.Equal(t, 0, c.Value.shutdowns, "Release does not shut down")
}
