package vwocompat

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/experimentationexporter/experimentationexporter/internal/vwo"
)

// The jobs decide.js runs: users with the attributes an app would pass to the SDK, and
// for each user the calls an app makes, derived from a settings file. Deterministic
// for a seed.

// nsSettings is what the job generator and the report need of a settings file.
type nsSettings struct {
	AccountID int64        `json:"accountId"`
	Campaigns []nsCampaign `json:"campaigns"`
	byKey     map[string]*nsCampaign
	byID      map[int64]*nsCampaign
}

type nsCampaign struct {
	// re2Incompatible: its segments or its variations' have a regex operand Go's regexp
	// cannot compile.
	re2Incompatible bool
	ID              int64    `json:"id"`
	Key             string   `json:"key"`
	Type            string   `json:"type"`
	Status          string   `json:"status"`
	PercentTraffic  float64  `json:"percentTraffic"`
	Goals           []nsGoal `json:"goals"`
}

type nsGoal struct {
	ID         int64  `json:"id"`
	Identifier string `json:"identifier"`
	Type       string `json:"type"`
}

func parseNodeSettings(b []byte) (*nsSettings, error) {
	var s nsSettings
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	var raw struct {
		Campaigns []struct {
			Segments   any `json:"segments"`
			Variations []struct {
				Segments any `json:"segments"`
			} `json:"variations"`
		} `json:"campaigns"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	s.byKey = map[string]*nsCampaign{}
	s.byID = map[int64]*nsCampaign{}
	for i := range s.Campaigns {
		c := &s.Campaigns[i]
		c.re2Incompatible = !re2Compatible(raw.Campaigns[i].Segments)
		for _, v := range raw.Campaigns[i].Variations {
			c.re2Incompatible = c.re2Incompatible || !re2Compatible(v.Segments)
		}
		if _, dup := s.byKey[c.Key]; !dup {
			s.byKey[c.Key] = c
		}
		s.byID[c.ID] = c
	}
	return &s, nil
}

// re2Compatible reports whether every regex(...) operand in a segment DSL compiles with
// Go's regexp.
func re2Compatible(dsl any) bool {
	switch x := dsl.(type) {
	case string:
		if strings.HasPrefix(x, "regex(") && strings.HasSuffix(x, ")") {
			_, err := regexp.Compile(x[len("regex(") : len(x)-1])
			return err == nil
		}
	case map[string]any:
		for _, v := range x {
			if !re2Compatible(v) {
				return false
			}
		}
	case []any:
		for _, v := range x {
			if !re2Compatible(v) {
				return false
			}
		}
	}
	return true
}

func (c *nsCampaign) goal(identifier string) *nsGoal {
	for i := range c.Goals {
		if c.Goals[i].Identifier == identifier {
			return &c.Goals[i]
		}
	}
	return nil
}

// nodeUser is a visitor: the SDK options an app passes with every call for it.
// Attribute values are string, int, float64 or bool.
type nodeUser struct {
	ID                          string         `json:"id"`
	CustomVariables             map[string]any `json:"customVariables,omitempty"`
	VariationTargetingVariables map[string]any `json:"variationTargetingVariables,omitempty"`
}

// ambiguous reports whether the user's customVariables and variationTargetingVariables
// differ, so that one attributes map on the record cannot stand for both.
func (u *nodeUser) ambiguous() bool {
	a, _ := json.Marshal(u.CustomVariables)
	b, _ := json.Marshal(u.VariationTargetingVariables)
	if len(u.CustomVariables) == 0 && len(u.VariationTargetingVariables) == 0 {
		return false
	}
	return string(a) != string(b)
}

// attributes is what the app's record carries as experiment.visitor.attributes: both
// maps together (the generator never gives a key two values).
func (u *nodeUser) attributes() map[string]any {
	if len(u.CustomVariables)+len(u.VariationTargetingVariables) == 0 {
		return nil
	}
	m := map[string]any{}
	for k, v := range u.CustomVariables {
		m[k] = v
	}
	for k, v := range u.VariationTargetingVariables {
		m[k] = v
	}
	return m
}

// nodeCall is one SDK call. Campaign is a key (string), a list of keys ([]string) or
// nil (track: every campaign with the goal).
type nodeCall struct {
	Call     string         `json:"call"`
	Campaign any            `json:"campaign"`
	User     string         `json:"user"`
	Goal     string         `json:"goal,omitempty"`
	Options  map[string]any `json:"options,omitempty"`
	TagKey   string         `json:"tagKey,omitempty"`
	TagValue string         `json:"tagValue,omitempty"`
}

type nodeJob struct {
	SettingsFile     string     `json:"settingsFile"`
	Clock            int64      `json:"clock"`
	EventsPerRequest int        `json:"eventsPerRequest"`
	Users            []nodeUser `json:"users"`
	Calls            []nodeCall `json:"calls"`
}

// nodeClock is the frozen time of decide.js, in ms: half a second into a second, so the
// Node SDK's sId (ceil of seconds) and the exporter's (the record's timestamp truncated)
// differ by one.
const nodeClock = 1700000000500

// revenueOptions are the revenue values an app passes, in turn (nil: no revenueValue).
var revenueOptions = []any{"int", 12.5, "7.25", 0, nil, "abc", "0", 0.1 + 0.2, 19.99}

func revenueFor(k int) any {
	v := revenueOptions[k%len(revenueOptions)]
	if v == "int" {
		return 100 + k
	}
	return v
}

// revenueKind names a revenue value for the reports.
func revenueKind(v any, given bool) string {
	if !given {
		return "no revenue"
	}
	switch x := v.(type) {
	case int:
		if x == 0 {
			return "revenue 0"
		}
		return "int revenue"
	case float64:
		return "float revenue"
	case string:
		if _, err := strconv.ParseFloat(x, 64); err != nil {
			return fmt.Sprintf("non-numeric string revenue %q", x)
		}
		if x == "0" {
			return `string revenue "0"`
		}
		return "numeric string revenue"
	}
	return fmt.Sprintf("revenue %T", v)
}

// The attribute pool: what users may carry, with the kinds of values apps send.
var attributePool = []struct {
	key    string
	values []any
}{
	{"plan", []any{"gold", "silver", "free", "GOLD", "Silver"}},
	{"country", []any{"IN", "US", "DE", "in", "India", "BE"}},
	{"email", []any{"anna.%d@vwo.com", "test.%d@vwo.com", "x%d@example.com", "Bob.%d@VWO.com"}},
	{"age", []any{17, 18, 30, 42, 64, 65, 80, "042", "17.5", "65"}},
	{"price", []any{12.5, 9.99, "12.50", 100, 10.5}},
	{"beta", []any{true, false, "true"}},
	{"score", []any{"0", "0.0", 0, "00", 1}},
}

func nodeUserID(i int) string {
	switch i {
	case 0:
		return "Alice"
	case 1:
		return "Varun"
	case 2:
		return "__123__"
	case 3:
		return "We@#dcs3232.f3"
	case 4:
		return "Zoë ☃"
	case 5:
		return "用户-5"
	case 6:
		return "émile"
	case 7:
		return "😀-fan"
	}
	return fmt.Sprintf("user-%03d", i)
}

// personas are users with the attributes the hand-written settings files target, so that
// whitelisting and pre-segmentation are exercised beyond chance: the attributes go to both
// customVariables and variationTargetingVariables.
var personas = []struct {
	prefix string
	n      int
	attrs  map[string]any
}{
	{"gold-in", 24, map[string]any{"plan": "gold", "country": "IN", "age": 42}},
	{"gold-de", 6, map[string]any{"plan": "gold", "country": "DE", "email": "anna.7@vwo.com"}},
	{"silver-adult", 6, map[string]any{"plan": "Silver", "age": 30, "price": 12.5, "email": "test.3@vwo.com"}},
	{"score-zero", 6, map[string]any{"score": "0.0", "price": "12.50", "beta": true}},
}

func makeUsers(n int, seed uint64) []nodeUser {
	r := rand.New(rand.NewPCG(seed, 0x7573657273))
	users := make([]nodeUser, n)
	for i := range users {
		u := nodeUser{ID: nodeUserID(i)}
		if r.IntN(10) > 0 { // a tenth of the users come without attributes
			for _, a := range attributePool {
				if r.IntN(10) >= 7 {
					continue
				}
				v := a.values[r.IntN(len(a.values))]
				if s, ok := v.(string); ok && a.key == "email" {
					v = fmt.Sprintf(s, i)
				}
				inCV, inVTV := r.IntN(10) < 6, r.IntN(10) < 5
				if inCV {
					if u.CustomVariables == nil {
						u.CustomVariables = map[string]any{}
					}
					u.CustomVariables[a.key] = v
				}
				if inVTV {
					if u.VariationTargetingVariables == nil {
						u.VariationTargetingVariables = map[string]any{}
					}
					u.VariationTargetingVariables[a.key] = v
				}
			}
		}
		users[i] = u
	}
	for _, p := range personas {
		for j := range p.n {
			users = append(users, nodeUser{ID: fmt.Sprintf("%s-%02d", p.prefix, j), CustomVariables: copyVars(p.attrs), VariationTargetingVariables: copyVars(p.attrs)})
		}
	}
	return users
}

// makeNodeJob derives the calls an app makes for each user from the settings file: an
// impression call per campaign (activate for VISUAL_AB, getVariationName and
// isFeatureEnabled for FEATURE_TEST, isFeatureEnabled for FEATURE_ROLLOUT), a track per
// campaign goal, track(null) with and without goalTypeToTrack and track([keys]) per goal
// identifier, pushes after an activate, and calls the SDK refuses.
func makeNodeJob(s *nsSettings, settingsFile string, users []nodeUser, seed uint64) nodeJob {
	r := rand.New(rand.NewPCG(seed, 0x766f6e6f6465))
	job := nodeJob{SettingsFile: settingsFile, Clock: nodeClock, EventsPerRequest: 100, Users: users}
	var identifiers []string
	for _, c := range s.Campaigns {
		for _, g := range c.Goals {
			if !slices.Contains(identifiers, g.Identifier) {
				identifiers = append(identifiers, g.Identifier)
			}
		}
	}
	add := func(c nodeCall) { job.Calls = append(job.Calls, c) }
	k := 0 // the revenue counter
	for i, u := range job.Users {
		pushed := false
		for ci, c := range s.Campaigns {
			switch c.Type {
			case "VISUAL_AB":
				add(nodeCall{Call: "activate", Campaign: c.Key, User: u.ID})
				if !pushed && i%5 == 0 {
					pushed = true
					add(nodeCall{Call: "push", User: u.ID, TagKey: "plan", TagValue: "gold"})
					if i%10 == 0 {
						add(nodeCall{Call: "push", User: u.ID, TagKey: "home city", TagValue: "São Paulo/Zürich & co+1"})
					}
				}
			case "FEATURE_TEST":
				add(nodeCall{Call: "getVariationName", Campaign: c.Key, User: u.ID})
				add(nodeCall{Call: "isFeatureEnabled", Campaign: c.Key, User: u.ID})
			case "FEATURE_ROLLOUT":
				add(nodeCall{Call: "isFeatureEnabled", Campaign: c.Key, User: u.ID})
			}
			// Calls the SDK refuses for the campaign type.
			if (i+ci)%11 == 3 {
				switch c.Type {
				case "VISUAL_AB":
					add(nodeCall{Call: "isFeatureEnabled", Campaign: c.Key, User: u.ID})
				case "FEATURE_ROLLOUT":
					add(nodeCall{Call: "getVariationName", Campaign: c.Key, User: u.ID})
				default:
					add(nodeCall{Call: "activate", Campaign: c.Key, User: u.ID})
				}
			}
			for _, g := range c.Goals {
				var opts map[string]any
				if g.Type == vwo.GoalRevenue || (i+ci)%3 == 0 {
					k++
					if v := revenueFor(k); v != nil {
						opts = map[string]any{"revenueValue": v}
					}
				}
				add(nodeCall{Call: "track", Campaign: c.Key, User: u.ID, Goal: g.Identifier, Options: opts})
			}
		}
		for gi, g := range identifiers {
			k++
			opts := map[string]any{}
			if v := revenueFor(k); v != nil {
				opts["revenueValue"] = v
			}
			switch (i + gi) % 4 {
			case 0:
				add(nodeCall{Call: "track", Campaign: nil, User: u.ID, Goal: g, Options: opts})
			case 1:
				opts["goalTypeToTrack"] = []string{vwo.GoalRevenue, vwo.GoalCustom, "ALL"}[(i/4+gi)%3]
				add(nodeCall{Call: "track", Campaign: nil, User: u.ID, Goal: g, Options: opts})
			case 2:
				var keys []string
				for _, c := range s.Campaigns {
					if r.IntN(2) == 0 {
						keys = append(keys, c.Key)
					}
				}
				if r.IntN(4) == 0 {
					keys = append(keys, "no_such_campaign")
				}
				if keys == nil {
					keys = []string{}
				}
				add(nodeCall{Call: "track", Campaign: keys, User: u.ID, Goal: g, Options: opts})
			}
		}
		if i%10 == 9 && len(s.Campaigns) > 0 {
			add(nodeCall{Call: "track", Campaign: s.Campaigns[0].Key, User: u.ID, Goal: "no_such_goal"})
		}
	}
	return job
}

// randomNodeSettings is a settings file drawn at random from everything the Node SDK
// reads for a decision: campaign types and statuses, traffic, weights (uneven, zero, not
// summing to 100), seed flags, pre-segmentation and whitelisting, user lists, groups.
func randomNodeSettings(seed uint64, users []nodeUser) []byte {
	r := rand.New(rand.NewPCG(seed, 0x72616e646f6d))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	chance := func(percent int) bool { return r.IntN(100) < percent }
	userList := func(uuid bool) string {
		var ids []string
		for range 1 + r.IntN(4) {
			id := users[r.IntN(min(len(users), 40))].ID
			if uuid {
				id = vwo.VisitorUUID(12345, id)
			}
			ids = append(ids, id)
		}
		if chance(30) {
			ids = append(ids, "nobody")
		}
		out := ids[0]
		for _, id := range ids[1:] {
			out += pick(",", ", ") + id
		}
		return out
	}
	operands := map[string][]string{
		"plan":    {"gold", "lower(GOLD)", "wildcard(*old)", "wildcard(s*)", "regex(^s)", "free"},
		"country": {"IN", "wildcard(I*)", "lower(in)", "DE", "regex(^(IN|US)$)"},
		"email":   {"wildcard(*@vwo.com)", "regex(^[a-z]+\\.[0-9]+@)", "wildcard(*example*)"},
		"age":     {"gte(18)", "lt(40)", "42", "gt(30.5)", "lte(65)", "17.5"},
		"price":   {"12.5", "gt(10)", "12.50", "lt(100)"},
		"beta":    {"true", "false"},
		"score":   {"0", "0.0", "1"},
	}
	keys := []string{"plan", "country", "email", "age", "price", "beta", "score"}
	var dsl func(depth int, withUsers, uuid bool) map[string]any
	dsl = func(depth int, withUsers bool, uuid bool) map[string]any {
		if depth > 0 && chance(45) {
			switch r.IntN(3) {
			case 0:
				return map[string]any{"not": dsl(depth-1, withUsers, uuid)}
			default:
				op := pick("and", "or")
				var subs []any
				for range 1 + r.IntN(3) {
					subs = append(subs, dsl(depth-1, withUsers, uuid))
				}
				return map[string]any{op: subs}
			}
		}
		if withUsers && chance(50) {
			return map[string]any{"user": userList(uuid)}
		}
		k := keys[r.IntN(len(keys))]
		return map[string]any{"custom_variable": map[string]any{k: operands[k][r.IntN(len(operands[k]))]}}
	}
	goalPool := []string{"purchase", "signup", "checkout", "download", "upgrade"}
	goalType := map[string]string{"purchase": vwo.GoalRevenue, "signup": vwo.GoalCustom, "download": vwo.GoalCustom, "upgrade": vwo.GoalRevenue}

	top := map[string]any{"sdkKey": "d1f2a3b4c5d6e7f8091a2b3c4d5e6f70", "accountId": 12345, "version": 1, "collectionPrefix": ""}
	if chance(25) {
		top["isNB"] = true
	}
	if chance(25) {
		top["isNBv2"] = true
	}
	var campaigns []map[string]any
	n := 3 + r.IntN(6)
	for i := range n {
		id := 1000 + i
		typ := pick("VISUAL_AB", "VISUAL_AB", "VISUAL_AB", "FEATURE_TEST", "FEATURE_TEST", "FEATURE_ROLLOUT")
		c := map[string]any{
			"id": id, "key": fmt.Sprintf("c%d_%s", i, map[string]string{"VISUAL_AB": "ab", "FEATURE_TEST": "ft", "FEATURE_ROLLOUT": "ro"}[typ]),
			"name": fmt.Sprintf("campaign %d", i), "type": typ, "status": "RUNNING",
			"percentTraffic": 100, "isForcedVariationEnabled": false, "segments": map[string]any{},
		}
		if chance(15) {
			c["status"] = "PAUSED"
		}
		if chance(60) {
			c["percentTraffic"] = 1 + r.IntN(99)
		}
		for _, flag := range []string{"isBucketingSeedEnabled", "isOB", "isOBv2"} {
			if chance(35) {
				c[flag] = true
			}
		}
		if chance(40) {
			c["segments"] = dsl(2, false, false)
		}
		var variations []map[string]any
		if typ == "FEATURE_ROLLOUT" {
			variations = append(variations, map[string]any{"id": 1, "name": "website", "changes": map[string]any{}, "weight": 100, "isFeatureEnabled": true})
		} else {
			nv := 2 + r.IntN(3)
			weights := make([]float64, nv)
			switch r.IntN(4) {
			case 0: // equal
				for j := range weights {
					weights[j] = float64(int(10000/nv)) / 100
				}
				weights[nv-1] = 100 - weights[0]*float64(nv-1)
			case 1: // two decimals summing to 100
				left := 10000
				for j := range nv - 1 {
					w := r.IntN(left + 1)
					weights[j] = float64(w) / 100
					left -= w
				}
				weights[nv-1] = float64(left) / 100
			case 2: // one at zero
				for j := range weights {
					weights[j] = float64(100 / (nv - 1))
				}
				weights[r.IntN(nv)] = 0
			default: // not summing to 100
				for j := range weights {
					weights[j] = float64(5 + r.IntN(30))
				}
			}
			for j := range nv {
				name := "Control"
				if j > 0 {
					name = fmt.Sprintf("Variation-%d", j)
				}
				v := map[string]any{"id": j + 1, "name": name, "changes": map[string]any{}, "weight": weights[j]}
				if typ == "FEATURE_TEST" {
					v["isFeatureEnabled"] = j > 0
				}
				variations = append(variations, v)
			}
		}
		if chance(30) {
			c["isForcedVariationEnabled"] = true
			uuid := chance(25)
			if uuid {
				c["isUserListEnabled"] = true
			}
			for _, v := range variations {
				if chance(50) {
					v["segments"] = dsl(1, true, uuid)
				} else {
					v["segments"] = map[string]any{}
				}
			}
		}
		c["variations"] = variations
		goals := []map[string]any{}
		for j, g := range goalPool {
			if chance(45) {
				t := goalType[g]
				if t == "" {
					t = pick(vwo.GoalRevenue, vwo.GoalCustom)
				}
				goals = append(goals, map[string]any{"identifier": g, "id": id*10 + j, "type": t})
			}
		}
		c["goals"] = goals
		if chance(4) {
			c["isMAB"] = true
		}
		campaigns = append(campaigns, c)
	}
	top["campaigns"] = campaigns
	if chance(60) && n >= 4 {
		campaignGroups := map[string]any{}
		groups := map[string]any{}
		perm := r.Perm(n)
		next := 0
		for g := 1; g <= 1+r.IntN(2) && next+2 <= n; g++ {
			size := 2 + r.IntN(2)
			if next+size > n {
				size = n - next
			}
			var members []any
			group := map[string]any{"name": fmt.Sprintf("group %d", g)}
			wt := map[string]any{}
			for _, ci := range perm[next : next+size] {
				id := 1000 + ci
				members = append(members, id)
				campaignGroups[strconv.Itoa(id)] = g
				if chance(80) {
					wt[strconv.Itoa(id)] = 10 + r.IntN(60)
				}
			}
			next += size
			group["campaigns"] = members
			if chance(50) {
				group["et"] = 2
				group["wt"] = wt
				if chance(50) {
					group["p"] = []any{members[r.IntN(len(members))]}
				}
			}
			groups[strconv.Itoa(g)] = group
		}
		top["campaignGroups"] = campaignGroups
		top["groups"] = groups
	}
	b, err := json.MarshalIndent(top, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}
