package vwocompat

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wingify/vwo-go-sdk/pkg/api"
	"github.com/wingify/vwo-go-sdk/pkg/constants"
	"github.com/wingify/vwo-go-sdk/pkg/schema"
)

var update = flag.Bool("update", false, "rewrite the captures in ../eventsapi/testdata")

const captureDir = "../eventsapi/testdata"

// scenario is a set of SDK calls whose events go out in one batch-events request.
type scenario struct {
	name   string
	prefix string // settings file collectionPrefix
	events int    // events the calls queue, which is also the flush size
	run    func(t *testing.T, vwo *api.VWOInstance)
}

func mustActivate(t *testing.T, vwo *api.VWOInstance, campaign, user string) {
	t.Helper()
	if vwo.Activate(campaign, user, nil) == "" {
		t.Fatalf("Activate(%s, %s) gave no variation", campaign, user)
	}
}

func mustTrack(t *testing.T, vwo *api.VWOInstance, campaign, user, goal string, options any) {
	t.Helper()
	res := vwo.Track(campaign, user, goal, options)
	if len(res) != 1 || !res[0].TrackValue {
		t.Fatalf("Track(%s, %s, %s, %v) = %+v", campaign, user, goal, options, res)
	}
}

func revenue(v any) map[string]any { return map[string]any{"revenueValue": v} }

var scenarios = []scenario{
	{name: "activate", events: 2, run: func(t *testing.T, vwo *api.VWOInstance) {
		mustActivate(t, vwo, "checkout_button", "Alice")
		mustActivate(t, vwo, "checkout_button", "Varun")
	}},
	{name: "feature_test_impression", events: 1, run: func(t *testing.T, vwo *api.VWOInstance) {
		if vwo.GetVariationName("new_search", "Alice", nil) == "" {
			t.Fatal("no variation")
		}
		vwo.IsFeatureEnabled("new_search", "Alice", nil)
	}},
	{name: "track_custom_goal", events: 2, run: func(t *testing.T, vwo *api.VWOInstance) {
		mustTrack(t, vwo, "checkout_button", "Alice", "signup", nil)
		// A revenue value given for a custom goal is not sent.
		mustTrack(t, vwo, "new_search", "Alice", "signup", revenue(10))
	}},
	{name: "track_revenue_goal", events: 4, run: func(t *testing.T, vwo *api.VWOInstance) {
		mustTrack(t, vwo, "checkout_button", "Alice", "purchase", revenue(100))
		mustTrack(t, vwo, "checkout_button", "Varun", "purchase", revenue(12.5))
		mustTrack(t, vwo, "checkout_button", "__123__", "purchase", revenue("7.25"))
		mustTrack(t, vwo, "new_search", "We@#dcs3232.f3", "purchase", revenue(float32(19.99)))
	}},
	{name: "push", events: 2, run: func(t *testing.T, vwo *api.VWOInstance) {
		for _, kv := range [][2]string{{"plan", "gold"}, {"home city", "São Paulo/Zürich & co+1"}} {
			if !vwo.Push(kv[0], kv[1], "Alice") {
				t.Fatal("push refused")
			}
		}
	}},
	{name: "mixed_eu", prefix: "eu01", events: 4, run: func(t *testing.T, vwo *api.VWOInstance) {
		mustActivate(t, vwo, "checkout_button", "Alice")
		mustTrack(t, vwo, "checkout_button", "Alice", "purchase", revenue(49))
		mustTrack(t, vwo, "checkout_button", "Alice", "signup", nil)
		vwo.Push("plan", "gold", "Alice")
	}},
}

// TestCaptureGoSDK records the Go SDK's batch-events requests for activate, track
// (custom goal, revenue goal with int, float and string revenue) and push, checks
// that the replica accepts them, and with -update saves them for internal/eventsapi's
// tests.
func TestCaptureGoSDK(t *testing.T) {
	ic := newInterceptor(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sf := settingsFile(t)
			sf.CollectionPrefix = sc.prefix
			vwo := launch(t, sf, sc.events)
			sc.run(t, vwo)
			c := ic.next(t)
			ic.none(t, 100*time.Millisecond)
			c.Scenario = sc.name
			describe(t, c)
			checkShape(t, c, sf, sc.events)
			if c.Status != 200 {
				t.Errorf("replica answered %d %s", c.Status, c.Answer)
			}
			if *update {
				save(t, c, "vwo_go_"+sc.name+".json")
			}
		})
	}
}

func describe(t *testing.T, c Captured) {
	t.Helper()
	var hs []string
	for k, vs := range c.Header {
		hs = append(hs, k+": "+strings.Join(vs, ","))
	}
	t.Logf("%s https://%s%s?%s\nheaders: %s\nbody: %s", c.Method, c.Host, c.Path, c.Query, strings.Join(hs, " | "), c.Body)
}

// checkShape pins what the SDK is known to send, so a change is noticed.
func checkShape(t *testing.T, c Captured, sf schema.SettingsFile, events int) {
	t.Helper()
	wantPath := "/server-side/batch-events"
	if sf.CollectionPrefix != "" {
		wantPath = "/" + sf.CollectionPrefix + wantPath
	}
	if c.Method != "POST" || c.Host != vwoHost || c.Path != wantPath {
		t.Errorf("request line %s %s%s", c.Method, c.Host, c.Path)
	}
	q, err := url.ParseQuery(c.Query)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("a") != "12345" || q.Get("env") != sf.SDKKey || q.Get("sd") != constants.SDKName || q.Get("sv") != constants.SDKVersion {
		t.Errorf("query %s", c.Query)
	}
	if got := c.Header["Authorization"]; len(got) != 1 || got[0] != sf.SDKKey {
		t.Errorf("Authorization %q", got)
	}
	if ct, ok := c.Header["Content-Type"]; ok {
		t.Errorf("Content-Type %q: the SDK was not known to send one", ct)
	}
	var body struct {
		Ev []map[string]any `json:"ev"`
	}
	if err := json.Unmarshal([]byte(c.Body), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Ev) != events {
		t.Errorf("%d events, want %d", len(body.Ev), events)
	}
	for i, ev := range body.Ev {
		if _, ok := ev["visitor_ua"]; ok {
			t.Errorf("ev[%d] has visitor_ua", i)
		}
		if r, ok := ev["r"]; ok {
			if _, isStr := r.(string); !isStr {
				t.Errorf("ev[%d].r = %v: the SDK was known to send a string", i, r)
			}
		}
	}
}

func save(t *testing.T, c Captured, name string) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(captureDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(captureDir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
