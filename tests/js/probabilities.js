// Feed a text to a model with rjs-bridge's runtime and print, as JSON, the
// tokens fed and the next-token probabilities after each one.
//
//   node tests/js/probabilities.js MODEL.json TEXT
"use strict";

const fs = require("fs");
const path = require("path");
const RjsBridge = require(path.join(__dirname, "../../bridge/web/runtime.js"));

const [modelPath, text] = process.argv.slice(2);
const model = RjsBridge.load(JSON.parse(fs.readFileSync(modelPath, "utf8")));
const { tokens, skipped } = model.encode(text);
const probs = tokens.map((t) => {
  model.feedToken(t);
  return Array.from(model.distribution());
});
process.stdout.write(
  JSON.stringify({ describe: model.describe(), tokens, skipped, probs })
);
