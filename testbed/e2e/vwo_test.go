//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
	"github.com/experimentationexporter/experimentationexporter/testbed/harness"
)

// TestRealNodeClientVWO proves the VWO path end to end with zero mapping: the real
// Node.js OpenFeature app (testbed/e2e/nodeclient/emit.mjs, the OpenTelemetry EventHook) evaluates
// the VWO settings file's campaigns by key (flag key = campaign key, variant = variation
// name), half of the users over OTLP/HTTP protobuf and half over JSON; the exporter
// (destination vwo, testdata/vwo_settings.json) must send exactly one eT 1 event per
// evaluation of a running campaign, with the settings file's ids and VWO's visitor uuid.
//
// emit.mjs's own conversions (--conversions) carry only user.id, experiment.event.key and
// experiment.revenue: no campaign key and no variation name, so for VWO they would all be
// dropped as missing_campaign_id. The conversions come instead from the OpenTelemetry Go
// SDK (testbed/harness.Emitter), named the way a VWO app has to name them: user.id, the
// flag (campaign) key, the variation name, the goal identifier and the revenue.
func TestRealNodeClientVWO(t *testing.T) {
	const users = 100
	binary(t)
	nodeDir := nodeClient(t)
	ids := readVWOSettings(t, repoPath(t, "testdata/vwo_settings.json"))

	// Variations, deterministic per user: homepage-cta by parity, new-checkout by the
	// parity of i/2 (so the two campaigns' arms are independent). Every tenth user also
	// evaluates paused-banner, a PAUSED campaign: skipped, never sent.
	user := func(i int) string { return "vwo-user-" + strconv.Itoa(i) }
	arm := func(n int) string {
		if n%2 == 0 {
			return "Control"
		}
		return "Variation-1"
	}
	homepage := func(i int) string { return arm(i) }
	checkout := func(i int) string { return arm(i / 2) }
	const paused = users / 10

	type eval struct {
		User      string `json:"user"`
		Flag      string `json:"flag"`
		Variation string `json:"variation_key"`
	}
	files := map[string]*bytes.Buffer{"http/protobuf": {}, "http/json": {}}
	protoOf := func(i int) string {
		if i%4 < 2 { // independent of both campaigns' arms
			return "http/protobuf"
		}
		return "http/json"
	}
	for i := 0; i < users; i++ {
		enc := json.NewEncoder(files[protoOf(i)])
		require.NoError(t, enc.Encode(eval{user(i), "homepage-cta", homepage(i)}))
		require.NoError(t, enc.Encode(eval{user(i), "new-checkout", checkout(i)}))
		if i%10 == 0 {
			require.NoError(t, enc.Encode(eval{user(i), "paused-banner", arm(i / 10)}))
		}
	}

	metricsPort, err := harness.FreePort()
	require.NoError(t, err)
	e := newEnv(t, options{vwo: true, batchSize: 50, metricsPort: metricsPort})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// want holds the events that must arrive, by (eT, e, g, u); sId is checked against
	// the time window the record was emitted in.
	type wantEvent struct {
		fields         map[string]any // every key but sId, as decoded with UseNumber
		sIDMin, sIDMax int64
	}
	want := map[string]wantEvent{}
	eventKey := func(eT, e, g any, u string) string { return fmt.Sprintf("%v/%v/%v/%s", eT, e, g, u) }
	addWant := func(fields map[string]any, from, to time.Time) {
		k := eventKey(fields["eT"], fields["e"], fields["g"], fields["u"].(string))
		require.NotContains(t, want, k, "the test wants one event per key")
		want[k] = wantEvent{fields: fields, sIDMin: from.Unix(), sIDMax: to.Unix()}
	}
	num := func(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

	dir := t.TempDir()
	for _, proto := range []string{"http/protobuf", "http/json"} {
		p := filepath.Join(dir, strings.ReplaceAll(proto, "/", "-")+".jsonl")
		require.NoError(t, os.WriteFile(p, files[proto].Bytes(), 0o600))
		from := time.Now()
		cmd := exec.CommandContext(ctx, "node", "emit.mjs", "--otlp", "http://"+e.otlp, "--evaluations", p, "--protocol", proto)
		cmd.Dir = nodeDir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "emit.mjs --protocol %s:\n%s", proto, out)
		to := time.Now()
		t.Logf("%s", bytes.TrimSpace(out))
		for i := 0; i < users; i++ {
			if protoOf(i) != proto {
				continue
			}
			u := vwo.VisitorUUID(vwoAccountID, user(i))
			for _, ev := range []struct{ flag, variation string }{{"homepage-cta", homepage(i)}, {"new-checkout", checkout(i)}} {
				c := ids.campaigns[ev.flag]
				addWant(map[string]any{"eT": num(1), "e": num(c.id), "c": num(c.variations[ev.variation]), "u": u}, from, to)
			}
		}
	}

	// The conversions, from the OpenTelemetry Go SDK: a purchase (REVENUE_TRACKING, 42.5)
	// per user of homepage-cta, and a signup (CUSTOM_GOAL) with a revenue that must not
	// be sent for every fifth user. The visitor is user.id, not feature_flag.context.id.
	const signups = users / 5
	em, err := harness.NewEmitter(ctx, e.otlp, 4*users)
	require.NoError(t, err)
	at := time.Now()
	hp := ids.campaigns["homepage-cta"]
	for i := 0; i < users; i++ {
		conv := func(goal string, revenue float64) {
			em.Record(ctx, "experiment.conversion", at,
				attribute.String("user.id", user(i)),
				attribute.String("feature_flag.key", "homepage-cta"),
				attribute.String("feature_flag.result.variant", homepage(i)),
				attribute.String("experiment.event.key", goal),
				attribute.Float64("experiment.revenue", revenue),
			)
		}
		u := vwo.VisitorUUID(vwoAccountID, user(i))
		conv("purchase", 42.5)
		addWant(map[string]any{"eT": num(2), "e": num(hp.id), "c": num(hp.variations[homepage(i)]),
			"g": num(hp.goals["purchase"]), "r": json.Number("42.5"), "u": u}, at, at)
		if i%5 == 0 {
			conv("signup", 7.25)
			addWant(map[string]any{"eT": num(2), "e": num(hp.id), "c": num(hp.variations[homepage(i)]),
				"g": num(hp.goals["signup"]), "u": u}, at, at)
		}
	}
	require.NoError(t, em.Shutdown(ctx))

	const impressions, conversions = 2 * users, users + signups
	require.Len(t, want, impressions+conversions)
	ok := harness.WaitFor(ctx, 20*time.Second, func() bool {
		st := e.api.Stats()
		return st.Impressions >= impressions && st.Conversions >= conversions
	})
	time.Sleep(time.Second) // a little longer, for any event that should not come
	st := e.api.Stats()
	t.Logf("%d evaluations (%d of a paused campaign) and %d conversions emitted; the exporter sent %d impressions, %d conversions, %d events in all in %d requests (%d rejected)",
		impressions+paused, paused, conversions, st.Impressions, st.Conversions, st.Events, st.Requests, st.Rejected)
	assert.True(t, ok, "the events API received %d of %d impressions and %d of %d conversions within 20s",
		st.Impressions, impressions, st.Conversions, conversions)
	assert.Zero(t, st.Rejected, "requests the events API rejected")
	assert.Equal(t, impressions, st.Impressions)
	assert.Equal(t, conversions, st.Conversions)
	assert.Equal(t, impressions+conversions, st.Events, "no other events (custom dimensions are off)")

	// Every request: the VWO batch-events path, the account, the sdk key as env and as
	// Authorization; every event exactly as wanted.
	seen := map[string]bool{}
	var extra, differ []string
	client := 0
	for _, r := range e.api.Requests() {
		if !r.Accepted() {
			t.Errorf("rejected: %d %s", r.Status, r.Error)
			continue
		}
		assert.Equal(t, eventsapi.VWOPath, r.Path)
		assert.Equal(t, strconv.Itoa(vwoAccountID), r.Query.Get("a"))
		assert.Equal(t, vwoSDKKey, r.Query.Get("env"))
		assert.Equal(t, vwoSDKKey, r.Header.Get("Authorization"))
		var body struct {
			Ev []map[string]any `json:"ev"`
		}
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.UseNumber()
		require.NoError(t, dec.Decode(&body), "%s", r.Body)
		for _, ev := range body.Ev {
			text, _ := json.Marshal(ev)
			if _, has := ev["visitor_ua"]; has {
				client++
			} else if _, has := ev["visitor_ip"]; has {
				client++
			}
			u, _ := ev["u"].(string)
			k := eventKey(ev["eT"], ev["e"], ev["g"], u)
			w, wanted := want[k]
			if !wanted || seen[k] {
				extra = append(extra, string(text))
				continue
			}
			seen[k] = true
			sID, err := strconv.ParseInt(fmt.Sprint(ev["sId"]), 10, 64)
			if err != nil || sID < w.sIDMin || sID > w.sIDMax {
				differ = append(differ, fmt.Sprintf("%s: sId not in [%d, %d]", text, w.sIDMin, w.sIDMax))
				continue
			}
			got := map[string]any{}
			for k, v := range ev {
				if k != "sId" {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, w.fields) {
				wantText, _ := json.Marshal(w.fields)
				differ = append(differ, fmt.Sprintf("%s, want %s (and sId)", text, wantText))
			}
		}
	}
	var miss []string
	for k, w := range want {
		if !seen[k] {
			text, _ := json.Marshal(w.fields)
			miss = append(miss, string(text))
		}
	}
	assert.Zero(t, client, "events with visitor_ua or visitor_ip: the records carry neither")
	report(t, "events missing", miss)
	report(t, "events extra (or duplicated)", extra)
	report(t, "events that differ", differ)

	// The exporter's own count: what it built, what it skipped (the paused campaign),
	// and that it dropped nothing.
	var metrics string
	var lines []string
	mok := harness.WaitFor(ctx, 10*time.Second, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		metrics = string(b)
		return strings.Contains(metrics, fmt.Sprintf(`otelcol_exporter_experimentation_events_built{event_type="conversion",exporter="experimentation"} %d`, conversions))
	})
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "otelcol_exporter_experimentation_events_") || strings.HasPrefix(l, "otelcol_exporter_experimentation_records_skipped") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	t.Logf("the exporter's counters:\n  %s", strings.Join(lines, "\n  "))
	assert.True(t, mok, "events_built{conversion} %d on /metrics", conversions)
	for _, w := range []string{
		fmt.Sprintf(`otelcol_exporter_experimentation_events_built{event_type="impression",exporter="experimentation"} %d`, impressions),
		fmt.Sprintf(`otelcol_exporter_experimentation_events_built{event_type="conversion",exporter="experimentation"} %d`, conversions),
		fmt.Sprintf(`otelcol_exporter_experimentation_records_skipped{exporter="experimentation",reason="campaign_not_running"} %d`, paused),
	} {
		assert.Contains(t, metrics, w+"\n")
	}
	assert.NotContains(t, metrics, "otelcol_exporter_experimentation_events_dropped{", "no event dropped")
}

// vwoIDs are the ids of testdata/vwo_settings.json, read independently of the exporter.
type vwoIDs struct {
	campaigns map[string]vwoCampaign // by key
}

type vwoCampaign struct {
	id         int64
	variations map[string]int64 // by name
	goals      map[string]int64 // by identifier
}

func readVWOSettings(t *testing.T, path string) vwoIDs {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var s struct {
		AccountID int64 `json:"accountId"`
		Campaigns []struct {
			ID         int64  `json:"id"`
			Key        string `json:"key"`
			Variations []struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"variations"`
			Goals []struct {
				ID         int64  `json:"id"`
				Identifier string `json:"identifier"`
			} `json:"goals"`
		} `json:"campaigns"`
	}
	require.NoError(t, json.Unmarshal(raw, &s))
	require.EqualValues(t, vwoAccountID, s.AccountID, "the settings file's account")
	out := vwoIDs{campaigns: map[string]vwoCampaign{}}
	for _, c := range s.Campaigns {
		vc := vwoCampaign{id: c.ID, variations: map[string]int64{}, goals: map[string]int64{}}
		for _, v := range c.Variations {
			vc.variations[v.Name] = v.ID
		}
		for _, g := range c.Goals {
			vc.goals[g.Identifier] = g.ID
		}
		out.campaigns[c.Key] = vc
	}
	for _, k := range []string{"homepage-cta", "new-checkout"} {
		c, ok := out.campaigns[k]
		require.True(t, ok, "campaign %s in the settings file", k)
		require.Contains(t, c.variations, "Control")
		require.Contains(t, c.variations, "Variation-1")
	}
	require.Contains(t, out.campaigns["homepage-cta"].goals, "purchase")
	require.Contains(t, out.campaigns["homepage-cta"].goals, "signup")
	return out
}
