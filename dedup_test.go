package experimentationexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/experimentationexporter/experimentationexporter/internal/eventsapi"
)

// traffic is a realistic stream: Zipf-distributed visitors evaluating flags again and
// again (each visitor always gets the same variation), conversions (some before any
// exposure), in pushes that arrive slightly out of event-time order.
type trafficEvent struct {
	at                          time.Time
	visitor, flag, rule, varKey string // impression
	goal                        string // conversion (Optimizely event key / VWO goal)
}

func generateTraffic(seed uint64, visitors, n int, vwo bool) []trafficEvent {
	r := rand.New(rand.NewPCG(seed, seed+1))
	zipf := rand.NewZipf(r, 1.2, 1, uint64(visitors-1))
	type exp struct {
		flag, rule string
		vars       []string
	}
	exps := []exp{
		{"checkout_redesign", "checkout_redesign_ab", []string{"control", "treatment"}},
		{"search_ranking", "search_ranking_v2", []string{"baseline", "learned_ranker"}},
	}
	goals := []string{"purchase", "add_to_cart"}
	if vwo {
		exps = []exp{{"homepage-cta", "", []string{"Control", "Variation-1"}}, {"new-checkout", "", []string{"Control", "Variation-1"}}}
		goals = []string{"signup"}
	}
	base := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	var out []trafficEvent
	for i := range n {
		v := fmt.Sprintf("visitor-%d", zipf.Uint64())
		at := base.Add(time.Duration(i) * 137 * time.Millisecond) // ~20 minutes in all
		if r.IntN(6) == 0 {
			g := goals[r.IntN(len(goals))]
			out = append(out, trafficEvent{at: at, visitor: v, goal: g})
			continue
		}
		e := exps[r.IntN(len(exps))]
		h := 0
		for _, c := range v + e.flag {
			h = h*31 + int(c)
		}
		out = append(out, trafficEvent{at: at, visitor: v, flag: e.flag, rule: e.rule, varKey: e.vars[(h%2+2)%2]})
	}
	// Out of order: records within pushes of 40 arrive shuffled.
	for i := 0; i < len(out); i += 40 {
		part := out[i:min(i+40, len(out))]
		r.Shuffle(len(part), func(a, b int) { part[a], part[b] = part[b], part[a] })
	}
	return out
}

func (e trafficEvent) record(vwo bool) func(plog.LogRecord) {
	return func(lr plog.LogRecord) {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(e.at))
		a := lr.Attributes()
		if e.goal != "" {
			lr.SetEventName("experiment.conversion")
			a.PutStr("user.id", e.visitor)
			a.PutStr("experiment.event.key", e.goal)
			if vwo {
				a.PutStr("experiment.campaign.key", "homepage-cta")
			}
			return
		}
		lr.SetEventName("feature_flag.evaluation")
		a.PutStr("feature_flag.context.id", e.visitor)
		a.PutStr("feature_flag.key", e.flag)
		if e.rule != "" {
			a.PutStr("experiment.rule.key", e.rule)
		}
		a.PutStr("feature_flag.result.variant", e.varKey)
	}
}

// results are what an experimentation platform computes from what it received: unique
// visitors per (experiment, variation) and conversions per (experiment, variation, goal),
// each conversion attributed to the visitor's first exposure before it (Optimizely); VWO
// counts a conversion for the variation it names.
type results struct {
	unique      map[string]int
	conversions map[string]int
	impressions int
}

type sentImpression struct {
	visitor, exp, variation string
	at                      int64
}

func optimizelyResults(t *testing.T, srv *eventsapi.Server) results {
	var imps []sentImpression
	type conv struct {
		visitor, key string
		at           int64
	}
	var convs []conv
	for _, r := range srv.Accepted() {
		var b struct {
			Visitors []struct {
				ID        string `json:"visitor_id"`
				Snapshots []struct {
					Decisions []struct {
						ExperimentID string `json:"experiment_id"`
						VariationID  string `json:"variation_id"`
					} `json:"decisions"`
					Events []struct {
						Key       string `json:"key"`
						Timestamp int64  `json:"timestamp"`
					} `json:"events"`
				} `json:"snapshots"`
			} `json:"visitors"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &b))
		for _, v := range b.Visitors {
			s := v.Snapshots[0]
			if len(s.Decisions) > 0 {
				imps = append(imps, sentImpression{v.ID, s.Decisions[0].ExperimentID, s.Decisions[0].VariationID, s.Events[0].Timestamp})
			} else {
				convs = append(convs, conv{v.ID, s.Events[0].Key, s.Events[0].Timestamp})
			}
		}
	}
	res := results{unique: map[string]int{}, conversions: map[string]int{}, impressions: len(imps)}
	first := map[[2]string]sentImpression{} // (visitor, experiment) → first exposure
	for _, im := range imps {
		k := [2]string{im.visitor, im.exp}
		if f, ok := first[k]; !ok || im.at < f.at {
			first[k] = im
		}
	}
	for _, f := range first {
		res.unique[f.exp+"/"+f.variation]++
	}
	for _, c := range convs {
		for k, f := range first {
			if k[0] == c.visitor && f.at <= c.at {
				res.conversions[f.exp+"/"+f.variation+"/"+c.key]++
			}
		}
	}
	return res
}

func vwoResults(t *testing.T, srv *eventsapi.Server) results {
	res := results{unique: map[string]int{}, conversions: map[string]int{}}
	seen := map[string]bool{}
	for _, r := range srv.Accepted() {
		var b struct {
			Ev []struct {
				ET int    `json:"eT"`
				E  int    `json:"e"`
				C  int    `json:"c"`
				G  int    `json:"g"`
				U  string `json:"u"`
			} `json:"ev"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &b))
		for _, ev := range b.Ev {
			k := fmt.Sprintf("%d/%d", ev.E, ev.C)
			switch ev.ET {
			case 1:
				res.impressions++
				if !seen[k+ev.U] {
					seen[k+ev.U] = true
					res.unique[k]++
				}
			case 2:
				res.conversions[fmt.Sprintf("%s/%d", k, ev.G)]++
			}
		}
	}
	return res
}

// The proof that dedup changes no experiment result: the same traffic with and without
// dedup::window 1h gives the same unique visitors per variation and the same attributed
// conversions, with fewer impressions sent.
func TestDedupKeepsResultsIdentical(t *testing.T) {
	for _, vwo := range []bool{false, true} {
		name := "optimizely"
		if vwo {
			name = "vwo"
		}
		t.Run(name, func(t *testing.T) {
			traffic := generateTraffic(20261206, 300, 6000, vwo)
			run := func(window time.Duration) results {
				srv := replica(t)
				cfg := deliveryConfig(srv)
				if vwo {
					cfg = vwoConfig(srv)
				}
				cfg.BatchSize, cfg.FlushInterval = 500, time.Hour
				cfg.Dedup.Window = window
				exp := startLogs(t, cfg)
				for i := 0; i < len(traffic); i += 40 {
					var fns []func(plog.LogRecord)
					for _, e := range traffic[i:min(i+40, len(traffic))] {
						fns = append(fns, e.record(vwo))
					}
					require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(fns...)))
				}
				require.NoError(t, exp.Shutdown(context.Background()))
				if vwo {
					return vwoResults(t, srv)
				}
				return optimizelyResults(t, srv)
			}
			without, with := run(0), run(time.Hour)
			assert.Equal(t, without.unique, with.unique, "unique visitors per variation")
			assert.Equal(t, without.conversions, with.conversions, "conversions per variation")
			assert.NotEmpty(t, with.conversions)
			assert.Less(t, with.impressions, without.impressions/3, "dedup saves most repeated impressions")
			t.Logf("%s: %d impressions without dedup, %d with (%.0f%% saved); %d variations, %d conversion cells identical",
				name, without.impressions, with.impressions, 100*(1-float64(with.impressions)/float64(without.impressions)),
				len(with.unique), len(with.conversions))
		})
	}
}

// A stream in event-time order sends exactly one impression per key and window, with the
// key's earliest timestamp.
func TestDedupInOrderOneImpressionPerKey(t *testing.T) {
	traffic := generateTraffic(7, 100, 3000, false)
	sort.SliceStable(traffic, func(i, j int) bool { return traffic[i].at.Before(traffic[j].at) })
	srv := replica(t)
	cfg := deliveryConfig(srv)
	cfg.BatchSize, cfg.FlushInterval = 500, time.Hour
	cfg.Dedup.Window = time.Hour
	exp := startLogs(t, cfg)
	earliest := map[string]int64{}
	for i := 0; i < len(traffic); i += 50 {
		var fns []func(plog.LogRecord)
		for _, e := range traffic[i:min(i+50, len(traffic))] {
			fns = append(fns, e.record(false))
			if e.goal == "" {
				k := e.visitor + "/" + e.rule + "/" + e.varKey
				if _, ok := earliest[k]; !ok {
					earliest[k] = e.at.UnixMilli()
				}
			}
		}
		require.NoError(t, exp.ConsumeLogs(context.Background(), logsOf(fns...)))
	}
	require.NoError(t, exp.Shutdown(context.Background()))
	res := optimizelyResults(t, srv)
	assert.Equal(t, len(earliest), res.impressions, "one impression per distinct key")
	sent := map[int64]int{}
	for _, at := range earliest {
		sent[at]++
	}
	for _, r := range srv.Accepted() {
		var b struct {
			Visitors []struct {
				Snapshots []struct {
					Decisions []json.RawMessage `json:"decisions"`
					Events    []struct {
						Timestamp int64 `json:"timestamp"`
					} `json:"events"`
				} `json:"snapshots"`
			} `json:"visitors"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &b))
		for _, v := range b.Visitors {
			if len(v.Snapshots[0].Decisions) > 0 {
				at := v.Snapshots[0].Events[0].Timestamp
				assert.Positive(t, sent[at], "an impression at %d is no key's earliest", at)
				sent[at]--
			}
		}
	}
}
