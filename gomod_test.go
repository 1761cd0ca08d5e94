package experimentationexporter

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/modfile"
)

// TestGoModHasNoOTelSDKClient keeps the OpenTelemetry Go SDK's logs client and its
// exporters out of the exporter's module: the test tooling that emits with them lives in
// testbed/, its own module.
func TestGoModHasNoOTelSDKClient(t *testing.T) {
	data, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	f, err := modfile.ParseLax("go.mod", data, nil)
	require.NoError(t, err)
	for _, r := range f.Require {
		p := r.Mod.Path
		if p == "go.opentelemetry.io/otel/sdk/log" || strings.HasPrefix(p, "go.opentelemetry.io/otel/exporters/") {
			t.Errorf("go.mod requires %s %s: test tooling belongs in testbed/go.mod", p, r.Mod.Version)
		}
	}
}
