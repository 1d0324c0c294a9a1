// Unit tests of bridge/web/runtime.js on small models made here; the
// fixtures' exports are tested from tests/test_web.py.
//
//   node --test tests/js/
"use strict";

const assert = require("node:assert/strict");
const path = require("node:path");
const test = require("node:test");

const RjsBridge = require(path.join(__dirname, "../../bridge/web/runtime.js"));

// ---- Small models --------------------------------------------------------

function numbers(shape, values) {
  return { encoding: "numbers", shape: shape, data: values };
}

function float32(shape, values) {
  const bytes = Buffer.from(new Float32Array(values).buffer);
  return { encoding: "float32-base64", shape: shape, data: bytes.toString("base64") };
}

// Weights from mulberry32, in [-1, 1).
function weights(random, count) {
  return Array.from({ length: count }, () => 2 * random() - 1);
}

// A one-layer model of ``kind`` over ``tokens``, hidden size 3.
function smallModel(kind, tokens, options) {
  const o = options || {};
  const encode = o.encode || numbers;
  const random = RjsBridge.mulberry32(o.seed || 1);
  const vocabulary = tokens.length;
  const hidden = 3;
  const width = o.embedding ? 2 : vocabulary;
  const gates = {};
  for (const name of RjsBridge.GATES[kind]) {
    gates[name] = {
      x: encode([hidden, width], weights(random, hidden * width)),
      h: encode([hidden, hidden], weights(random, hidden * hidden)),
      b: encode([hidden], weights(random, hidden)),
    };
  }
  return {
    format: "rjs-bridge-model",
    version: 1,
    kind: kind,
    activation: "tanh",
    token_unit: typeof tokens[0] === "number" ? "byte" : "char",
    tokens: tokens,
    embedding: o.embedding ? encode([vocabulary, width], weights(random, vocabulary * width)) : null,
    layers: [{ input_size: width, hidden_size: hidden, gates: gates }],
    decoder: {
      w: encode([vocabulary, hidden], weights(random, vocabulary * hidden)),
      b: encode([vocabulary], weights(random, vocabulary)),
    },
    source: {
      file: "small.t7",
      sha256: "0".repeat(64),
      program: "char-rnn",
      model_class: "nn.gModule",
      tensor_classes: ["torch.DoubleTensor"],
      parameters: 0,
      options: {},
    },
  };
}

// ---- The sampler ---------------------------------------------------------

test("mulberry32 gives the numbers docs/bridge-format.md lists", () => {
  const zero = RjsBridge.mulberry32(0);
  assert.deepEqual(
    [zero(), zero(), zero(), zero()],
    [0.26642920868471265, 0.0003297457005828619, 0.2232720274478197, 0.1462021479383111]
  );
  const answer = RjsBridge.mulberry32(42);
  assert.deepEqual([answer(), answer()], [0.6011037519201636, 0.44829055899754167]);
});

test("mulberry32 takes the seed mod 2^32", () => {
  const first = (seed) => {
    const random = RjsBridge.mulberry32(seed);
    return [random(), random(), random()];
  };
  assert.deepEqual(first(2 ** 32), first(0));
  assert.deepEqual(first(-1), first(4294967295));
  assert.deepEqual(first(2n ** 64n + 5n), first(5));
  assert.deepEqual(first(-(2n ** 40n)), first(Number(BigInt.asUintN(32, -(2n ** 40n)))));
  assert.deepEqual(first(undefined), first(0));
  assert.throws(() => RjsBridge.mulberry32(1.5), /not an integer/);
});

test("mulberry32 gives multiples of 2^-32 in [0, 1)", () => {
  const random = RjsBridge.mulberry32(42);
  for (let i = 0; i < 10000; i++) {
    const u = random();
    assert.ok(u >= 0 && u < 1);
    assert.equal(Number.isInteger(u * 4294967296), true);
  }
});

test("argmax takes the first of equal scores and ignores the temperature", () => {
  assert.equal(RjsBridge.argmax([0.5, 2, 2, 1]), 1);
  assert.equal(RjsBridge.argmax([-3]), 0);
});

test("softmax divides by the temperature and subtracts the maximum", () => {
  // exp(1000) overflows: only the subtracted maximum keeps these finite.
  assert.deepEqual(Array.from(RjsBridge.softmax([1000, 1000, -Infinity], 1)), [0.5, 0.5, 0]);
  const cold = RjsBridge.softmax([0, Math.log(3)], 0.5);
  assert.ok(Math.abs(cold[1] - 0.9) < 1e-15);
});

test("a draw takes the first running sum above u, else the last possible token", () => {
  assert.equal(RjsBridge.draw([0.25, 0.25, 0.5], 0), 0);
  assert.equal(RjsBridge.draw([0.25, 0.25, 0.5], 0.25), 1);
  assert.equal(RjsBridge.draw([0.25, 0.25, 0.5], 0.75), 2);
  // Sums that round to at most u: the last token of nonzero probability.
  assert.equal(RjsBridge.draw([0.25, 0.5, 0, 0], 0.8), 1);
});

// ---- Loading -------------------------------------------------------------

test("weights keep the precision they arrive in", () => {
  const exact = RjsBridge.load(smallModel("lstm", [10, 65]));
  const compact = RjsBridge.load(smallModel("lstm", [10, 65], { encode: float32 }));
  assert.ok(exact.net.layers[0].gates.input.x.data instanceof Float64Array);
  assert.ok(compact.net.layers[0].gates.input.x.data instanceof Float32Array);
  assert.ok(compact.net.decoder.b.data instanceof Float32Array);
});

test("nested rows of numbers load like a flat list", () => {
  const flat = smallModel("rnn", [10, 65]);
  const nested = smallModel("rnn", [10, 65]);
  const w = nested.decoder.w;
  w.data = [w.data.slice(0, 3), w.data.slice(3, 6)];
  const a = RjsBridge.load(flat);
  const b = RjsBridge.load(nested);
  a.feedToken(1);
  b.feedToken(1);
  assert.deepEqual(a.logits(), b.logits());
});

test("a matrix of the wrong shape is refused, naming it", () => {
  const model = smallModel("gru", [10, 65]);
  model.layers[0].gates.update.h = numbers([3, 2], [1, 2, 3, 4, 5, 6]);
  assert.throws(
    () => RjsBridge.load(model),
    (e) =>
      e instanceof RjsBridge.ModelError &&
      e.message === "layers[0].gates.update.h: shape [3,2], expected [3,3]"
  );
});

test("float32 data of the wrong length is refused, naming the matrix", () => {
  const model = smallModel("lstm", [10, 65], { encode: float32 });
  model.decoder.b.data = Buffer.from(new Float32Array(3).buffer).toString("base64");
  assert.throws(() => RjsBridge.load(model), /^ModelError: decoder\.b: 12 bytes of float32 data, expected 8$/);
});

test("JSON that is no model is refused", () => {
  assert.throws(() => RjsBridge.load({ hello: 1 }), /not a model rjs-bridge knows/);
  assert.throws(() => RjsBridge.load(null), /expected a JSON object/);
  const model = smallModel("lstm", [10]);
  model.kind = "transformer";
  assert.throws(() => RjsBridge.load(model), /kind "transformer", expected lstm, gru or rnn/);
});

// ---- Running -------------------------------------------------------------

test("before any token the next one is uniform, and reset goes back there", () => {
  const model = RjsBridge.load(smallModel("lstm", [10, 65, 66, 67]));
  assert.deepEqual(Array.from(model.distribution()), [0.25, 0.25, 0.25, 0.25]);
  assert.equal(model.sample({ argmax: true }), 0);
  model.feed("AB");
  assert.notDeepEqual(Array.from(model.distribution()), [0.25, 0.25, 0.25, 0.25]);
  model.reset();
  assert.deepEqual(Array.from(model.distribution()), [0.25, 0.25, 0.25, 0.25]);
});

test("the one-hot input and an identity embedding give the same state", () => {
  for (const kind of ["lstm", "gru", "rnn"]) {
    const json = smallModel(kind, [10, 65, 66]);
    const model = RjsBridge.load(json);
    const embedded = JSON.parse(JSON.stringify(json));
    embedded.embedding = numbers([3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const same = RjsBridge.load(embedded);
    model.feed("AB\nA");
    same.feed("AB\nA");
    assert.deepEqual(model.logits(), same.logits(), kind);
  }
});

test("a GRU's candidate reads the reset-gated state", () => {
  // Hand-computed: one hidden unit, one token, all weights chosen.
  const json = smallModel("gru", [65]);
  const one = (v) => numbers([1, 1], [v]);
  json.layers[0] = {
    input_size: 1,
    hidden_size: 1,
    gates: {
      reset: { x: one(0.5), h: one(-1), b: numbers([1], [0.25]) },
      update: { x: one(1), h: one(2), b: numbers([1], [-0.5]) },
      candidate: { x: one(-0.75), h: one(3), b: numbers([1], [0.1]) },
    },
  };
  json.decoder = { w: one(2), b: numbers([1], [0]) };
  const model = RjsBridge.load(json);
  const sig = (v) => 1 / (1 + Math.exp(-v));
  let h = 0;
  for (let step = 0; step < 3; step++) {
    const r = sig(0.5 + -1 * h + 0.25);
    const z = sig(1 + 2 * h - 0.5);
    const g = Math.tanh(-0.75 + 3 * (r * h) + 0.1);
    h = z * g + (1 - z) * h;
    model.feedToken(0);
    assert.equal(model.logits()[0], 2 * h);
  }
});

// ---- Text ----------------------------------------------------------------

test("a byte model reads text as UTF-8 and leaves out characters it lacks", () => {
  const tokens = [10, 0x68, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80];
  const model = RjsBridge.load(smallModel("rnn", tokens));
  // "ü" is C3 BC: it has C3 but not BC, so all of it is left out.
  const encoded = model.encode("hé😀\nxüx");
  assert.deepEqual(encoded.tokens, [1, 2, 3, 4, 5, 6, 7, 0]);
  assert.deepEqual(encoded.skipped, ["x", "ü"]);
});

test("a character model reads code points, not UTF-16 units", () => {
  const model = RjsBridge.load(smallModel("lstm", ["a", "😀", "\n"], { embedding: true }));
  const encoded = model.encode("a😀b\n😀");
  assert.deepEqual(encoded.tokens, [0, 1, 2, 1]);
  assert.deepEqual(encoded.skipped, ["b"]);
  const text = model.textDecoder();
  assert.equal(text.push(1) + text.push(0) + text.end(), "😀a");
});

test("generated bytes show as UTF-8 once each character is whole", () => {
  const tokens = [10, 0x68, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80];
  const model = RjsBridge.load(smallModel("rnn", tokens));
  const text = model.textDecoder();
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 0].map((t) => text.push(t)),
    ["h", "", "é", "", "", "", "😀", "\n"]
  );
  assert.equal(text.end(), "");
  const cut = model.textDecoder();
  assert.equal(cut.push(4) + cut.push(5), "");
  assert.equal(cut.end(), "\ufffd");
  const bad = model.textDecoder();
  assert.equal(bad.push(3) + bad.push(1), "\ufffdh");
});

test("step samples a token, feeds it, and a seed repeats the text", () => {
  const json = smallModel("lstm", [10, 65, 66, 67, 68]);
  const run = (seed) => {
    const model = RjsBridge.load(json);
    model.feed("AB");
    const random = RjsBridge.mulberry32(seed);
    return Array.from({ length: 50 }, () => model.step({ temperature: 0.9, random: random }));
  };
  assert.deepEqual(run(3), run(3));
  assert.notDeepEqual(run(3), run(4));
});

// ---- RecurrentJS's format --------------------------------------------------

// A RecurrentJS LSTM over ``letters`` (token t has letters[t]; undefined for
// an inert token 0), with a one-hot Wil in checkpoint order ``order``.
function recurrentjs(letters, order, options) {
  const o = options || {};
  const random = RjsBridge.mulberry32(9);
  const size = letters.length;
  const n = order.length;
  const mat = (rows, cols, values) => ({ n: rows, d: cols, w: values || weights(random, rows * cols) });
  const wil = new Array(size * n).fill(0);
  order.forEach((t, column) => (wil[t * n + column] = 1));
  const model = { Wil: mat(size, n, wil) };
  for (const g of "ifoc") {
    model[`W${g}x0`] = mat(2, n);
    model[`W${g}h0`] = mat(2, 2);
    model[`b${g}0`] = mat(2, 1);
  }
  model.Whd = mat(size, 2);
  model.bd = mat(size, 1);
  if (letters[0] === undefined) {
    model.Whd.w.fill(0, 0, 2);
    model.bd.w[0] = -1e300;
  }
  const letterToIndex = {};
  const indexToLetter = {};
  letters.forEach((ch, t) => {
    if (ch === undefined) return;
    letterToIndex[ch] = t;
    indexToLetter[String(t)] = ch;
  });
  const json = {
    hidden_sizes: [2],
    generator: "lstm",
    letter_size: n,
    model: model,
    solver: { decay_rate: 0.999, smooth_eps: 1e-8, step_cache: {} },
    letterToIndex: letterToIndex,
    indexToLetter: indexToLetter,
    vocab: letters.slice(1).filter((ch) => ch !== undefined),
  };
  if (o.recorded) json.checkpoint_order = order;
  return json;
}

test("a RecurrentJS model comes back in the checkpoint's order", () => {
  // Checkpoint order "\n", "a", "b"; the export moved "b" to token 0.
  for (const recorded of [true, false]) {
    const json = recurrentjs(["b", "\n", "a"], [1, 2, 0], { recorded: recorded });
    const model = RjsBridge.load(json);
    assert.equal(model.tokenUnit, "byte");
    assert.deepEqual(model.tokens, [10, 97, 98]);
    assert.equal(model.net.embedding, null);
    // Row t of the decoder predicts checkpoint token t.
    assert.deepEqual(Array.from(model.net.decoder.b.data), [
      json.model.bd.w[1],
      json.model.bd.w[2],
      json.model.bd.w[0],
    ]);
  }
});

test("an inert RecurrentJS token 0 is dropped", () => {
  const model = RjsBridge.load(recurrentjs([undefined, "x", "y"], [1, 2]));
  assert.deepEqual(model.tokens, [120, 121]);
  assert.equal(model.vocabularySize, 2);
});

test("RecurrentJS's own START/END token 0 is refused", () => {
  const json = recurrentjs([undefined, "x", "y"], [1, 2]);
  json.model.bd.w[0] = 0.5;
  assert.throws(() => RjsBridge.load(json), /token 0 has no character but can be predicted/);
});

test("a recorded checkpoint order must list every token once", () => {
  const json = recurrentjs(["b", "\n", "a"], [1, 2, 0], { recorded: true });
  json.checkpoint_order = [1, 1, 0];
  assert.throws(() => RjsBridge.load(json), /checkpoint_order: expected each token/);
});

test("RecurrentJS matrices saved as objects keyed by index load too", () => {
  const json = recurrentjs(["\n", "a"], [0, 1]);
  const asObject = JSON.parse(JSON.stringify(json));
  for (const m of Object.values(asObject.model)) m.w = Object.assign({}, m.w);
  const a = RjsBridge.load(json);
  const b = RjsBridge.load(asObject);
  a.feed("a\na");
  b.feed("a\na");
  assert.deepEqual(a.logits(), b.logits());
});

test("tokens must fit the token unit and be distinct", () => {
  const bytes = smallModel("rnn", [10, 300]);
  assert.throws(() => RjsBridge.load(bytes), /^ModelError: tokens\[1\]: 300, expected a byte value$/);
  const chars = smallModel("rnn", ["a", "a"]);
  assert.throws(() => RjsBridge.load(chars), /^ModelError: tokens\[1\]: "a" again$/);
  const pair = smallModel("rnn", ["a", "bc"]);
  assert.throws(() => RjsBridge.load(pair), /tokens\[1\]: "bc", expected one character/);
});
