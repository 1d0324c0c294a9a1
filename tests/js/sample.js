// Generate text from a model with rjs-bridge's runtime, as the page does,
// and print the continuation (UTF-8).
//
//   node tests/js/sample.js MODEL.json '{"prime": "The", "length": 200,
//       "temperature": 0.8, "seed": 7, "argmax": false}'
"use strict";

const fs = require("fs");
const path = require("path");
const RjsBridge = require(path.join(__dirname, "../../bridge/web/runtime.js"));

const [modelPath, settingsJson] = process.argv.slice(2);
const settings = JSON.parse(settingsJson);
const model = RjsBridge.load(JSON.parse(fs.readFileSync(modelPath, "utf8")));
const { skipped } = model.feed(settings.prime || "");
if (skipped.length) throw new Error(`not in the vocabulary: ${skipped.join(" ")}`);
const options = {
  argmax: Boolean(settings.argmax),
  temperature: settings.temperature === undefined ? 1 : settings.temperature,
  random: RjsBridge.mulberry32(BigInt(settings.seed || 0)),
};
const text = model.textDecoder();
let out = "";
for (let i = 0; i < settings.length; i++) out += text.push(model.step(options));
process.stdout.write(out + text.end());
