package jscompat

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

// generateDatafile makes a random datafile from a seed, so parity is measured on files
// nobody tuned: random flags with experiments (any status, some in a mutually exclusive
// group, some feature rollouts), rollouts (targeted rules below 100% traffic, an
// everyone-else rule), typed and legacy audiences with every match type under
// and/or/not, forcedVariations, global holdouts (with includedFlags/excludedFlags), local
// holdouts on experiments and delivery rules, and variation keys drawn from a small pool
// so rules of a flag share them. The same seed always gives the same datafile.
func generateDatafile(seed int64) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), 0x6a73636f6d706174))
	next := 50000000 + r.IntN(1000)*10000
	id := func() string { next++; return fmt.Sprint(next) }
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }

	attrKeys := []string{"device", "app_version", "age", "country", "is_vip", "score"}
	var attributes []map[string]any
	for _, k := range attrKeys {
		attributes = append(attributes, map[string]any{"id": id(), "key": k})
	}
	leaf := func() map[string]any {
		c := map[string]any{"type": "custom_attribute"}
		switch r.IntN(9) {
		case 0:
			c["name"], c["match"], c["value"] = "device", "exact", pick("ios", "android", "web")
		case 1:
			c["name"], c["match"] = pick(attrKeys...), "exists"
		case 2:
			c["name"], c["match"], c["value"] = "country", "substring", pick("U", "D", "K")
		case 3:
			c["name"], c["match"], c["value"] = "age", pick("gt", "ge", "lt", "le"), 10+r.IntN(60)
		case 4:
			c["name"], c["match"], c["value"] = "score", pick("gt", "ge", "lt", "le", "exact"), float64(r.IntN(1000))/10
		case 5:
			c["name"], c["match"] = "app_version", pick("semver_eq", "semver_gt", "semver_ge", "semver_lt", "semver_le")
			c["value"] = pick("1.0", "2.0.0", "2.5", "2.5.0-beta", "3.0.1", "10")
		case 6:
			c["name"], c["match"], c["value"] = "is_vip", "exact", r.IntN(2) == 0
		case 7:
			c["name"], c["value"] = "country", pick("US", "DE") // legacy: no match, exact
		default:
			c = map[string]any{"name": "odp.audiences", "type": "third_party_dimension", "match": "qualified", "value": "seg"}
		}
		return c
	}
	var tree func(depth int) any
	tree = func(depth int) any {
		if depth == 0 || r.IntN(3) == 0 {
			return leaf()
		}
		op := pick("and", "or", "not")
		n := 1
		if op != "not" {
			n = 1 + r.IntN(3)
		}
		out := []any{op}
		for range n {
			out = append(out, tree(depth-1))
		}
		return out
	}
	var typed, legacy []map[string]any
	var audIDs []string
	for i := range 6 {
		a := map[string]any{"id": id(), "name": fmt.Sprintf("aud_%d", i)}
		conds := []any{"and", []any{"or", tree(2)}}
		if r.IntN(3) == 0 {
			b, _ := json.Marshal(conds)
			a["conditions"] = string(b)
			legacy = append(legacy, a)
		} else {
			a["conditions"] = conds
			typed = append(typed, a)
		}
		audIDs = append(audIDs, a["id"].(string))
	}
	audience := func(e map[string]any) {
		switch r.IntN(6) {
		case 0, 5: // everyone
			e["audienceIds"] = []string{}
			e["audienceConditions"] = []any{}
		case 1: // audienceIds only
			ids := []string{audIDs[r.IntN(len(audIDs))], audIDs[r.IntN(len(audIDs))]}
			e["audienceIds"] = ids
		case 2: // a single audience id as the whole condition
			a := audIDs[r.IntN(len(audIDs))]
			e["audienceIds"] = []string{a}
			e["audienceConditions"] = a
		default:
			a, b := audIDs[r.IntN(len(audIDs))], audIDs[r.IntN(len(audIDs))]
			e["audienceIds"] = []string{a, b}
			e["audienceConditions"] = []any{pick("and", "or"), a, []any{"not", b}}
		}
	}
	keys := []string{"on", "off", "control", "treatment", "v1", "v2"}
	variations := func(n int, end int) ([]map[string]any, []map[string]any) {
		var vs, ta []map[string]any
		used := map[string]bool{}
		for i := range n {
			k := keys[r.IntN(len(keys))]
			for used[k] {
				k = keys[r.IntN(len(keys))]
			}
			used[k] = true
			vid := id()
			vs = append(vs, map[string]any{"id": vid, "key": k, "featureEnabled": r.IntN(3) != 0, "variables": []any{}})
			ta = append(ta, map[string]any{"entityId": vid, "endOfRange": end * (i + 1) / n})
		}
		return vs, ta
	}
	rule := func(key string, status string, nVar, end int) map[string]any {
		vs, ta := variations(nVar, end)
		e := map[string]any{"id": id(), "key": key, "status": status, "variations": vs, "trafficAllocation": ta,
			"forcedVariations": map[string]any{}}
		e["layerId"] = id()
		audience(e)
		return e
	}
	statuses := []string{"Running", "Running", "Running", "Paused", "Not started", "Archived", "Launched"}
	var experiments, groupExps, rollouts, flags, allRules []map[string]any
	var flagIDs []string
	nFlags := 3 + r.IntN(4)
	for f := range nFlags {
		fid := id()
		flagIDs = append(flagIDs, fid)
		expIDs := []string{}
		for e := range r.IntN(4) {
			ex := rule(fmt.Sprintf("f%d_exp%d", f, e), statuses[r.IntN(len(statuses))], 1+r.IntN(3), 2000+r.IntN(8001))
			if r.IntN(4) == 0 {
				ex["forcedVariations"] = map[string]any{userID(r.IntN(12)): ex["variations"].([]map[string]any)[0]["key"]}
			}
			if r.IntN(6) == 0 {
				ex["type"] = "fr"
			}
			expIDs = append(expIDs, ex["id"].(string))
			allRules = append(allRules, ex)
			if r.IntN(4) == 0 {
				groupExps = append(groupExps, ex)
			} else {
				experiments = append(experiments, ex)
			}
		}
		roID := ""
		if r.IntN(8) != 0 {
			roID = id()
			var rules []map[string]any
			for i := range r.IntN(3) {
				rules = append(rules, rule(fmt.Sprintf("f%d_targeted%d", f, i), "Running", 1, 1000+r.IntN(9001)))
			}
			every := rule(fmt.Sprintf("f%d_everyone", f), "Running", 1, 10000-r.IntN(3)*2500)
			if r.IntN(2) == 0 {
				every["audienceIds"], every["audienceConditions"] = []string{}, []any{}
			}
			rules = append(rules, every)
			for _, x := range rules {
				x["layerId"] = x["id"]
			}
			allRules = append(allRules, rules...)
			rollouts = append(rollouts, map[string]any{"id": roID, "experiments": rules})
		}
		flags = append(flags, map[string]any{"id": fid, "key": fmt.Sprintf("flag_%d", f), "experimentIds": expIDs,
			"rolloutId": roID, "variables": []any{}})
	}
	var groups []map[string]any
	if len(groupExps) > 0 {
		var ta []map[string]any
		for i, e := range groupExps {
			ta = append(ta, map[string]any{"entityId": e["id"], "endOfRange": 9000 * (i + 1) / len(groupExps)})
		}
		groups = append(groups, map[string]any{"id": id(), "policy": "random", "trafficAllocation": ta, "experiments": groupExps})
	}
	holdout := func(key, status string, end int) map[string]any {
		vid := id()
		h := map[string]any{"id": id(), "key": key, "status": status,
			"variations":        []map[string]any{{"id": vid, "key": "off", "featureEnabled": false, "variables": []any{}}},
			"trafficAllocation": []map[string]any{{"entityId": vid, "endOfRange": end}}}
		audience(h)
		return h
	}
	var holdouts, localHoldouts []map[string]any
	for i := range r.IntN(3) {
		h := holdout(fmt.Sprintf("holdout_%d", i), pick("Running", "Running", "Draft"), 300+r.IntN(2000))
		switch r.IntN(3) {
		case 0:
			h["includedFlags"] = []string{flagIDs[r.IntN(len(flagIDs))]}
		case 1:
			h["excludedFlags"] = []string{flagIDs[r.IntN(len(flagIDs))]}
		}
		holdouts = append(holdouts, h)
	}
	for i := range r.IntN(3) {
		if len(allRules) == 0 {
			break
		}
		h := holdout(fmt.Sprintf("local_holdout_%d", i), pick("Running", "Running", "Paused"), 500+r.IntN(3000))
		h["includedRules"] = []any{allRules[r.IntN(len(allRules))]["id"], allRules[r.IntN(len(allRules))]["id"]}
		localHoldouts = append(localHoldouts, h)
	}
	df := map[string]any{
		"version": "4", "accountId": id(), "projectId": id(), "revision": fmt.Sprint(1 + r.IntN(500)),
		"sdkKey": fmt.Sprintf("Generated%d", seed), "environmentKey": "production",
		"anonymizeIP": r.IntN(2) == 0, "sendFlagDecisions": r.IntN(3) != 0,
		"attributes": attributes, "events": []map[string]any{{"id": id(), "key": "purchase", "experimentIds": []any{}}},
		"audiences": append(legacy, map[string]any{"id": "$opt_dummy_audience", "name": "dummy",
			"conditions": `["or", {"match": "exact", "name": "$opt_dummy_attribute", "type": "custom_attribute", "value": "$opt_dummy_value"}]`}),
		"typedAudiences": typed, "variables": []any{}, "integrations": []any{},
		"experiments": orEmpty(experiments), "groups": orEmpty(groups), "featureFlags": flags, "rollouts": orEmpty(rollouts),
		"holdouts": orEmpty(holdouts), "localHoldouts": orEmpty(localHoldouts),
	}
	switch r.IntN(3) {
	case 0:
		df["botFiltering"] = true
	case 1:
		df["botFiltering"] = false
	}
	if r.IntN(4) == 0 {
		df["region"] = "EU"
	}
	b, err := json.MarshalIndent(df, "", " ")
	if err != nil {
		panic(err)
	}
	return b
}

func orEmpty(xs []map[string]any) []map[string]any {
	if xs == nil {
		return []map[string]any{}
	}
	return xs
}

// generatedSets gives users of a generated datafile random attributes drawn from the
// values the generator's conditions test (seeded, so runs repeat).
func generatedSets(seed int64) []attrSet {
	random := func(salt uint64) func(i int) map[string]any {
		return func(i int) map[string]any {
			r := rand.New(rand.NewPCG(uint64(seed)^salt, uint64(i)))
			m := map[string]any{}
			if r.IntN(5) != 0 {
				m["device"] = []string{"ios", "android", "web"}[r.IntN(3)]
			}
			if r.IntN(5) != 0 {
				m["app_version"] = []string{"1.0", "2.0.0", "2.5.0", "2.5.0-beta", "3.0.1", "10.2", "1.2.3.4"}[r.IntN(7)]
			}
			if r.IntN(5) != 0 {
				m["age"] = r.IntN(80)
			}
			if r.IntN(5) != 0 {
				m["country"] = []string{"US", "DE", "KP", "UK"}[r.IntN(4)]
			}
			if r.IntN(3) != 0 {
				m["is_vip"] = r.IntN(2) == 0
			}
			switch r.IntN(4) {
			case 0:
				m["score"] = float64(r.IntN(1000)) / 10
			case 1:
				m["score"] = r.IntN(100)
			case 2:
				m["score"] = "50"
			}
			if r.IntN(10) == 0 {
				m["$opt_bucketing_id"] = fmt.Sprintf("b-%d", r.IntN(40))
			}
			return m
		}
	}
	return []attrSet{{"none", fixed(nil)}, {"random_a", random(1)}, {"random_b", random(2)}, {"random_c", random(3)}}
}
