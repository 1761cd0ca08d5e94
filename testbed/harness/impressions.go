package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// Impression is what the real-client checks compare of one Optimizely decision and
// its event: everything but the timestamp and uuid.
type Impression struct {
	CampaignID   string
	ExperimentID string
	VariationID  string // "" for null
	RuleKey      string
	RuleType     string
	VariationKey string
	Enabled      bool
	EntityID     string
	EventKey     string
}

// EvalKey is (visitor_id, flag_key): the apps evaluate each pair once.
type EvalKey struct{ User, Flag string }

type wireDecision struct {
	CampaignID   string  `json:"campaign_id"`
	ExperimentID string  `json:"experiment_id"`
	VariationID  *string `json:"variation_id"`
	Metadata     struct {
		FlagKey      string `json:"flag_key"`
		RuleKey      string `json:"rule_key"`
		RuleType     string `json:"rule_type"`
		VariationKey string `json:"variation_key"`
		Enabled      bool   `json:"enabled"`
	} `json:"metadata"`
}

type wireEvent struct {
	EntityID string `json:"entity_id"`
	Key      string `json:"key"`
}

// Compared as sent.
func toImpression(d wireDecision, ev wireEvent) Impression {
	vid := ""
	if d.VariationID != nil {
		vid = *d.VariationID
	}
	return Impression{CampaignID: d.CampaignID, ExperimentID: d.ExperimentID, VariationID: vid,
		RuleKey: d.Metadata.RuleKey, RuleType: d.Metadata.RuleType, VariationKey: d.Metadata.VariationKey,
		Enabled: d.Metadata.Enabled, EntityID: ev.EntityID, EventKey: ev.Key}
}

// ReadExpect reads testbed/e2e/goclient's -expect file: the impressions the Optimizely SDK
// sent, by evaluation, and the number of evaluations per flag.
func ReadExpect(path string) (map[EvalKey]Impression, map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	want, evals := map[EvalKey]Impression{}, map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			User         string         `json:"user"`
			Flag         string         `json:"flag"`
			VariationKey string         `json:"variation_key"`
			SDKDecisions []wireDecision `json:"sdk_decisions"`
			SDKEvent     *wireEvent     `json:"sdk_event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		evals[line.Flag]++
		switch {
		case len(line.SDKDecisions) == 0:
			continue
		case len(line.SDKDecisions) > 1 || line.SDKEvent == nil:
			return nil, nil, fmt.Errorf("an SDK impression without one decision and one event: %s", sc.Text())
		case line.VariationKey != line.SDKDecisions[0].Metadata.VariationKey:
			return nil, nil, fmt.Errorf("the OpenFeature variant is not the SDK's decision: %s", sc.Text())
		}
		want[EvalKey{line.User, line.Flag}] = asJavaScriptSDK(toImpression(line.SDKDecisions[0], *line.SDKEvent))
	}
	return want, evals, sc.Err()
}

// ReceivedImpressions collects the impressions in Optimizely EventBatch bodies, by
// evaluation.
func ReceivedImpressions(bodies [][]byte) (map[EvalKey][]Impression, error) {
	got := map[EvalKey][]Impression{}
	for _, body := range bodies {
		var b struct {
			Visitors []struct {
				ID        string `json:"visitor_id"`
				Snapshots []struct {
					Decisions []wireDecision `json:"decisions"`
					Events    []wireEvent    `json:"events"`
				} `json:"snapshots"`
			} `json:"visitors"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, err
		}
		for _, v := range b.Visitors {
			for _, s := range v.Snapshots {
				if len(s.Decisions) == 0 {
					continue // a conversion
				}
				if len(s.Decisions) != 1 || len(s.Events) != 1 {
					return nil, fmt.Errorf("visitor %s: an impression snapshot with %d decisions and %d events", v.ID, len(s.Decisions), len(s.Events))
				}
				k := EvalKey{v.ID, s.Decisions[0].Metadata.FlagKey}
				got[k] = append(got[k], toImpression(s.Decisions[0], s.Events[0]))
			}
		}
	}
	return got, nil
}

// DiffImpressions compares the SDK's impressions with those that arrived: per
// evaluation the same one, once, and nothing the SDK did not send.
func DiffImpressions(want map[EvalKey]Impression, got map[EvalKey][]Impression) (missing, extra, differ []string) {
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%v (%s %s)", k, w.RuleType, w.RuleKey))
		case len(g) > 1:
			extra = append(extra, fmt.Sprintf("%v arrived %d times", k, len(g)))
		case g[0] != w:
			differ = append(differ, fmt.Sprintf("%v:\n    sdk:     %+v\n    arrived: %+v", k, w, g[0]))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, fmt.Sprintf("%v (%s %s %s), the SDK sent none", k, g[0].RuleType, g[0].RuleKey, g[0].VariationKey))
		}
	}
	return missing, extra, differ
}

// asJavaScriptSDK is a Go SDK impression with its ids as the JavaScript SDK 6.5+ sends
// them, which the exporter follows: go-sdk v2.3.1 sends a holdout's campaign_id and
// entity_id as "" (a holdout has no layerId) and variation_id "$opt_dummy_variation_id";
// the JavaScript SDK sends the holdout's id and null. A known difference of the SDKs.
func asJavaScriptSDK(im Impression) Impression {
	if !numeric(im.VariationID) {
		im.VariationID = ""
	}
	if im.CampaignID == "" {
		im.CampaignID = im.ExperimentID
	}
	if im.EntityID == "" {
		im.EntityID = im.CampaignID
	}
	return im
}

func numeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
