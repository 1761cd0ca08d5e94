package jscompat

import "fmt"

// The attribute sets: every user of a set gets its attributes (some vary with the user).
// Users user-3, user-7, user-8 and user-11 are named in forcedVariations; -jscompat.users
// must stay above 11 for them to be decided.

// richSets and datafileSets are internal/sdkcompat's sets for its two datafiles.
func richSets() []attrSet {
	pass := map[string]any{
		"device": "ios", "app_version": "2.6.1", "age": 30, "country": "US", "is_vip": true,
		"email": "ann@example.com", "plan": "pro", "loyalty_points": 1500.5,
	}
	devices := []string{"ios", "android", "web"}
	versions := []string{"1.9.3", "2.4.9", "2.5.0", "2.5.0-beta.1", "3.1", "10.0.0"}
	countries := []string{"US", "KP", "DE"}
	return []attrSet{
		{"none", fixed(nil)},
		{"all_pass", fixed(pass)},
		{"fail_device", fixed(with(pass, "device", "web"))},
		{"fail_semver", fixed(with(pass, "device", "android", "app_version", "2.4.9"))},
		{"old_app", fixed(with(pass, "app_version", "1.9.3"))},
		{"fail_age_boundary", fixed(with(pass, "age", 17))},
		{"fail_country", fixed(with(pass, "age", 40.0, "country", "KP"))},
		{"fail_vip_and_email", fixed(with(pass, "is_vip", false, "email", "bob@other.org"))},
		{"email_only", fixed(with(pass, "is_vip", false, "email", "carol@example.com"))},
		{"no_plan_low_loyalty", fixed(with(pass, "plan", nil, "loyalty_points", 50))},
		{"partial", fixed(map[string]any{"device": "android", "app_version": "3.0.0", "plan": "free"})},
		{"type_mismatch", fixed(map[string]any{"device": "ios", "app_version": 3, "age": "30", "is_vip": "true", "loyalty_points": true, "plan": ""})},
		{"undeclared", fixed(map[string]any{"device": "ios", "app_version": "2.5.0", "undeclared_attr": "x", "is_vip": true})},
		{"varied", func(i int) map[string]any {
			m := map[string]any{
				"device":         devices[i%3],
				"app_version":    versions[i%len(versions)],
				"age":            i % 90,
				"country":        countries[(i/3)%3],
				"is_vip":         i%5 == 0,
				"loyalty_points": float64((i*37)%6000) + 0.25,
			}
			if i%7 != 0 {
				m["email"] = fmt.Sprintf("u%d@%s", i, []string{"example.com", "other.org"}[i%2])
			}
			if i%4 != 0 {
				m["plan"] = []string{"free", "pro", "team"}[i%3]
			}
			return m
		}},
		{"bucketing_id", func(i int) map[string]any {
			return with(pass, "$opt_bucketing_id", fmt.Sprintf("account-%d", i%97))
		}},
		{"bucketing_id_not_string", func(i int) map[string]any {
			return with(pass, "$opt_bucketing_id", i%97)
		}},
	}
}

func datafileSets() []attrSet {
	beta := map[string]any{"is_beta": true, "plan": "pro", "country": "DE", "age": 33}
	return []attrSet{
		{"none", fixed(nil)},
		{"beta", fixed(beta)},
		{"not_beta", fixed(with(beta, "is_beta", false))},
		{"beta_as_string", fixed(with(beta, "is_beta", "true"))},
		{"undeclared", fixed(map[string]any{"is_beta": true, "favourite_color": "blue"})},
		{"varied", func(i int) map[string]any {
			return map[string]any{"is_beta": i%3 == 0, "age": float64(i % 80), "plan": []string{"free", "pro"}[i%2]}
		}},
		{"bucketing_id", func(i int) map[string]any {
			return with(beta, "$opt_bucketing_id", fmt.Sprintf("household-%d", i%53))
		}},
	}
}

// jsFeaturesNeverChosen: rules of testdata/js_features.json the SDK may never choose.
var jsFeaturesNeverChosen = map[string]bool{
	// Experiments not Running (the JS SDK decides only Running ones).
	"exp_paused": true, "exp_not_started": true, "exp_archived": true, "exp_launched": true,
	// Holdouts not Running; local holdouts without includedRules (skipped).
	"draft_holdout": true, "concluded_holdout": true, "lh_paused": true, "lh_invalid": true, "lh_no_rules": true,
	// A feature rollout ("type": "fr") takes every user: its flag's everyone-else rule is
	// never reached, its variation is served through the experiment.
	"fr_everyone": true,
	// Audiences on an ODP segment (qualified): no user has segments here.
	"exp_miss": true, "miss_everyone": true,
}

// featureSets are the sets for testdata/js_features.json: each audience's conditions
// pass, fail at a boundary, meet a missing or mistyped attribute.
func featureSets() []attrSet {
	pass := map[string]any{
		"device": "ios", "app_version": "2.5.0", "age": 30, "country": "US", "is_vip": true,
		"email": "ann@example.com", "plan": "pro", "loyalty_points": 1500.5,
	}
	devices := []string{"ios", "android", "web"}
	versions := []string{"1.9.3", "2.0.0", "2.5.0", "2.5.0-beta.1", "2.5.0+build.7", "3.0", "3.1", "10.0.0", "10.0.1", "2.x"}
	countries := []string{"US", "DE", "KP", "FR"}
	return []attrSet{
		{"none", fixed(nil)},
		{"all_pass", fixed(pass)},
		{"team_plan", fixed(with(pass, "plan", "team"))},
		{"de_web", fixed(with(pass, "country", "DE", "device", "web"))},
		{"kp_android", fixed(with(pass, "country", "KP", "device", "android", "is_vip", false))},
		{"old_app_minor", fixed(with(pass, "app_version", "1.9.3", "age", 17))},
		{"new_app_senior", fixed(with(pass, "app_version", "3.1", "age", 65))},
		{"prerelease", fixed(with(pass, "app_version", "2.5.0-beta.1", "email", "x@other.org", "is_vip", false))},
		{"fractional_age", fixed(with(pass, "age", 30.5, "loyalty_points", 100))},
		{"boundaries", fixed(with(pass, "age", 18, "loyalty_points", 5000, "app_version", "3.0"))},
		{"type_mismatch", fixed(map[string]any{"device": "ios", "app_version": 2, "age": "30", "is_vip": "true", "loyalty_points": true, "country": 1})},
		{"null_values", fixed(map[string]any{"device": "android", "plan": nil, "country": nil, "age": 40})},
		{"huge_number", fixed(with(pass, "loyalty_points", 1e16, "age", 9007199254740993))},
		{"undeclared", fixed(map[string]any{"device": "web", "favourite_color": "blue", "plan": "team"})},
		{"varied", func(i int) map[string]any {
			m := map[string]any{
				"device":         devices[i%3],
				"app_version":    versions[i%len(versions)],
				"age":            i % 90,
				"country":        countries[(i/3)%len(countries)],
				"is_vip":         i%5 == 0,
				"loyalty_points": float64((i*37)%6000) + 0.25,
			}
			if i%7 != 0 {
				m["email"] = fmt.Sprintf("u%d@%s", i, []string{"example.com", "other.org"}[i%2])
			}
			if i%4 != 0 {
				m["plan"] = []string{"free", "pro", "team"}[i%3]
			}
			return m
		}},
		{"bucketing_id", func(i int) map[string]any {
			return with(pass, "$opt_bucketing_id", fmt.Sprintf("household-%d", i%53))
		}},
		{"bucketing_id_not_string", func(i int) map[string]any {
			return with(pass, "$opt_bucketing_id", i%53)
		}},
	}
}

// euSets are the sets for testdata/js_eu_cmab.json.
func euSets() []attrSet {
	return []attrSet{
		{"none", fixed(nil)},
		{"gold", fixed(map[string]any{"tier": "gold", "score": 80, "region_code": "FR"})},
		{"silver_low", fixed(map[string]any{"tier": "silver", "score": 20})},
		{"score_string", fixed(map[string]any{"tier": "silver", "score": "80"})},
		{"varied", func(i int) map[string]any {
			return map[string]any{"tier": []string{"gold", "silver", "bronze"}[i%3], "score": (i * 13) % 100, "region_code": "DE"}
		}},
	}
}
