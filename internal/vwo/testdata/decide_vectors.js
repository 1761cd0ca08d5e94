// Run: npm install vwo-node-sdk@1.73.0; node decide_vectors.js decide_settings.json decide_vectors.json
// Generates internal/vwo/testdata/decide_vectors.json from vwo-node-sdk 1.73.0:
// getVariationName for many users over a settings file covering traffic, weights,
// seeds, groups, whitelisting and pre-segmentation.
'use strict';
const fs = require('fs');
const vwo = require('vwo-node-sdk');
const settings = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const flags = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const client = vwo.launch({ settingsFile: settings, isDevelopmentMode: true, logging: { level: vwo.logging.LogLevelEnum.ERROR } });
const attrSets = [
  {},
  { plan: 'pro', age: 30, country: 'DE', beta: true },
  { plan: 'free', age: 17, country: 'US', beta: false },
  { plan: 'PRO', age: '45', country: 'de', email: 'ann@example.com' },
  { plan: 'enterprise', age: 21.5, country: 'FR', email: 'bob@corp.io', qa: 'yes' },
];
const users = [];
for (let i = 0; i < 400; i++) users.push(`user-${i}`);
users.push('José', 'Zoë-ü', '用户-7', 'emoji-😀', 'qa-tester', '');
const out = [];
for (const c of settings.campaigns) {
  users.forEach((u, i) => {
    if (u === '') return;
    const attrs = attrSets[i % attrSets.length];
    const v = client.getVariationName(c.key, u, { customVariables: attrs, variationTargetingVariables: attrs });
    out.push({ campaign: c.key, user: u, attributes: attrs, variation: v === undefined ? null : v });
  });
}
fs.writeFileSync(process.argv[3], '[\n' + out.map(o => JSON.stringify(o)).join(',\n') + '\n]\n');
