/*
 * rjs-bridge's JavaScript runtime: runs a character-level recurrent language
 * model exported by rjs-bridge, in a browser or in Node, with no dependencies.
 *
 * It loads both JSON formats rjs-bridge writes:
 *
 * - rjs-bridge's own format ("format": "rjs-bridge-model", described in
 *   docs/bridge-format.md): LSTM, GRU and tanh RNN, with matrices as JSON
 *   numbers (kept as Float64Array) or base64 float32 (kept as Float32Array);
 * - RecurrentJS's model format (LSTM only), brought back to the checkpoint's
 *   token order so that a seed samples the same text from either file.
 *
 * Per layer and gate, pre-activation = W_x x + W_h h + b, with
 *   lstm: c' = sig(forget) c + sig(input) tanh(candidate); h' = sig(output) tanh(c')
 *   gru:  r = sig(reset), z = sig(update),
 *         g = tanh(W_x x + W_h (r h) + b) for the candidate; h' = z g + (1 - z) h
 *   rnn:  h' = tanh(hidden)
 * and the next-token distribution softmax(W_d h_top + b_d). Every sum is in
 * float64, whatever precision the weights arrive in.
 *
 * The sampler is the one rjs-bridge's Python side uses, so that a seed gives
 * the same text in both: p = softmax(logits / T) in float64, a uniform number
 * u from mulberry32, and the first token (in index order) whose running sum
 * of p exceeds u.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.RjsBridge = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const FORMAT = "rjs-bridge-model";
  const GATES = {
    lstm: ["input", "forget", "output", "candidate"],
    gru: ["reset", "update", "candidate"],
    rnn: ["hidden"],
  };
  // RecurrentJS's letter for each LSTM gate, in GATES.lstm order.
  const RJS_LETTERS = ["i", "f", "o", "c"];

  class ModelError extends Error {
    constructor(message) {
      super(message);
      this.name = "ModelError";
    }
  }

  // ---- Matrices ---------------------------------------------------------

  // A row-major matrix; a vector is a matrix of one column.
  function matrix(rows, cols, data) {
    return { rows: rows, cols: cols, data: data };
  }

  const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

  function base64Bytes(text) {
    if (typeof Buffer === "function") {
      const b = Buffer.from(text, "base64");
      return new Uint8Array(b.buffer, b.byteOffset, b.length);
    }
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  function float32FromBase64(text, count, where) {
    const bytes = base64Bytes(text);
    if (bytes.length !== count * 4) {
      throw new ModelError(
        `${where}: ${bytes.length} bytes of float32 data, expected ${count * 4}`
      );
    }
    if (LITTLE_ENDIAN) {
      // A copy, so that the array is aligned and owns its buffer.
      return new Float32Array(bytes.slice().buffer);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  function flatNumbers(data, count, where) {
    const flat = Array.isArray(data) && Array.isArray(data[0]) ? data.flat() : data;
    if (!Array.isArray(flat) || flat.length !== count) {
      const found = Array.isArray(flat) ? `${flat.length} numbers` : typeof flat;
      throw new ModelError(`${where}: ${found}, expected ${count} numbers`);
    }
    const out = Float64Array.from(flat);
    return out;
  }

  // A bridge-format matrix ({encoding, shape, data}) of the expected shape.
  function bridgeMatrix(m, rows, cols, where) {
    if (m === null || typeof m !== "object") {
      throw new ModelError(`${where}: missing, expected a matrix`);
    }
    const shape = m.shape;
    const expected = cols === null ? [rows] : [rows, cols];
    if (
      !Array.isArray(shape) ||
      shape.length !== expected.length ||
      shape.some((n, i) => n !== expected[i])
    ) {
      throw new ModelError(
        `${where}: shape ${JSON.stringify(shape)}, expected ${JSON.stringify(expected)}`
      );
    }
    const count = rows * (cols === null ? 1 : cols);
    let data;
    if (m.encoding === "float32-base64") {
      data = float32FromBase64(m.data, count, where);
    } else if (m.encoding === "numbers") {
      data = flatNumbers(m.data, count, where);
    } else {
      throw new ModelError(
        `${where}: encoding ${JSON.stringify(m.encoding)}, expected "numbers" or "float32-base64"`
      );
    }
    return matrix(rows, cols === null ? 1 : cols, data);
  }

  // ---- Loading rjs-bridge's format --------------------------------------

  function fromBridge(json) {
    if (json.version !== 1) {
      throw new ModelError(`version ${json.version}, expected 1`);
    }
    const kind = json.kind;
    if (!Object.prototype.hasOwnProperty.call(GATES, kind)) {
      throw new ModelError(`kind ${JSON.stringify(kind)}, expected lstm, gru or rnn`);
    }
    if (json.token_unit !== "byte" && json.token_unit !== "char") {
      throw new ModelError(
        `token_unit ${JSON.stringify(json.token_unit)}, expected "byte" or "char"`
      );
    }
    const tokens = json.tokens;
    if (!Array.isArray(tokens) || tokens.length === 0) {
      throw new ModelError("tokens: expected a non-empty list");
    }
    const isToken =
      json.token_unit === "byte"
        ? (t) => Number.isInteger(t) && t >= 0 && t <= 255
        : (t) => typeof t === "string" && Array.from(t).length === 1;
    tokens.forEach((t, i) => {
      if (!isToken(t)) {
        const expected = json.token_unit === "byte" ? "a byte value" : "one character";
        throw new ModelError(`tokens[${i}]: ${JSON.stringify(t)}, expected ${expected}`);
      }
      if (tokens.indexOf(t) !== i) {
        throw new ModelError(`tokens[${i}]: ${JSON.stringify(t)} again`);
      }
    });
    const vocabulary = tokens.length;
    if (!Array.isArray(json.layers) || json.layers.length === 0) {
      throw new ModelError("layers: expected a non-empty list");
    }
    if (!json.decoder || typeof json.decoder !== "object") {
      throw new ModelError("decoder: missing");
    }

    let embedding = null;
    let inputSize = vocabulary;
    if (json.embedding !== null && json.embedding !== undefined) {
      const shape = json.embedding.shape || [];
      inputSize = shape[1];
      embedding = bridgeMatrix(json.embedding, vocabulary, inputSize, "embedding");
    }

    const layers = json.layers.map((layer, l) => {
      const where = `layers[${l}]`;
      const hidden = layer.hidden_size;
      if (!Number.isInteger(hidden) || hidden < 1) {
        throw new ModelError(`${where}.hidden_size: ${hidden}, expected a size`);
      }
      if (layer.input_size !== inputSize) {
        throw new ModelError(
          `${where}.input_size: ${layer.input_size}, expected ${inputSize}`
        );
      }
      const gates = {};
      for (const name of GATES[kind]) {
        const gate = (layer.gates || {})[name];
        if (!gate) throw new ModelError(`${where}.gates.${name}: missing`);
        const at = `${where}.gates.${name}`;
        gates[name] = {
          x: bridgeMatrix(gate.x, hidden, inputSize, `${at}.x`),
          h: bridgeMatrix(gate.h, hidden, hidden, `${at}.h`),
          b: bridgeMatrix(gate.b, hidden, null, `${at}.b`),
        };
      }
      inputSize = hidden;
      return { inputSize: layer.input_size, hiddenSize: hidden, gates: gates };
    });

    const top = layers[layers.length - 1].hiddenSize;
    const decoder = {
      w: bridgeMatrix(json.decoder.w, vocabulary, top, "decoder.w"),
      b: bridgeMatrix(json.decoder.b, vocabulary, null, "decoder.b"),
    };
    const source = json.source || {};
    return {
      format: FORMAT,
      kind: kind,
      tokenUnit: json.token_unit,
      tokens: tokens.slice(),
      embedding: embedding,
      layers: layers,
      decoder: decoder,
      encoding: encodingOf(json),
      source: {
        file: source.file,
        program: source.program,
        parameters: source.parameters,
        tensorClasses: source.tensor_classes,
      },
    };
  }

  function encodingOf(json) {
    const seen = new Set();
    const note = (m) => m && m.encoding && seen.add(m.encoding);
    note(json.embedding);
    for (const layer of json.layers) {
      for (const gate of Object.values(layer.gates)) {
        note(gate.x);
        note(gate.h);
        note(gate.b);
      }
    }
    note(json.decoder.w);
    note(json.decoder.b);
    return Array.from(seen).sort().join(", ");
  }

  // ---- Loading RecurrentJS's format -------------------------------------

  // A RecurrentJS R.Mat as saved: {n, d, w}, w a list or (as the demo's
  // JSON.stringify of a Float64Array gives) an object keyed "0", "1", ...
  function rjsMatrix(mats, name, rows, cols) {
    const m = mats[name];
    if (!m) throw new ModelError(`model.${name}: missing`);
    if (m.n !== rows || m.d !== cols) {
      throw new ModelError(
        `model.${name}: ${m.n} x ${m.d}, expected ${rows} x ${cols}`
      );
    }
    const count = rows * cols;
    if (Array.isArray(m.w) && m.w.length !== count) {
      throw new ModelError(`model.${name}.w: ${m.w.length} values, expected ${count}`);
    }
    const data = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const v = m.w === null || m.w === undefined ? undefined : m.w[i];
      if (typeof v !== "number") {
        throw new ModelError(`model.${name}.w[${i}]: not a number`);
      }
      data[i] = v;
    }
    return matrix(rows, cols, data);
  }

  function pickRows(m, rows) {
    const data = new Float64Array(rows.length * m.cols);
    rows.forEach((r, i) => {
      data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
    });
    return matrix(rows.length, m.cols, data);
  }

  // An inert token 0 (no character, never predicted) has an output bias of
  // -1e300 in rjs-bridge's exports; anything this low has probability 0.
  const INERT_BIAS = -1e299;

  // The character of each RecurrentJS token (undefined for a token 0 without
  // one), checked against letterToIndex.
  function rjsLetters(json, size) {
    const letters = new Array(size).fill(undefined);
    for (const [key, letter] of Object.entries(json.indexToLetter || {})) {
      if (!/^[0-9]+$/.test(key) || Number(key) >= size) {
        throw new ModelError(`indexToLetter has key "${key}", expected a token below ${size}`);
      }
      if (typeof letter !== "string" || Array.from(letter).length !== 1) {
        throw new ModelError(`indexToLetter["${key}"]: expected one character`);
      }
      letters[Number(key)] = letter;
    }
    for (const [letter, token] of Object.entries(json.letterToIndex || {})) {
      if (letters[token] !== letter) {
        throw new ModelError(
          `letterToIndex[${JSON.stringify(letter)}] is ${token}, which indexToLetter disagrees with`
        );
      }
    }
    for (let t = 1; t < size; t++) {
      if (letters[t] === undefined) {
        throw new ModelError(`indexToLetter: no character for token ${t}`);
      }
    }
    if (new Set(letters).size !== letters.length) {
      throw new ModelError("indexToLetter gives one character twice");
    }
    return letters;
  }

  // The RecurrentJS tokens in the checkpoint's order: as rjs-bridge's exports
  // record it (checkpoint_order); else, when Wil is a one-hot lookup
  // (char-rnn), by the column of each row's 1; else the file's own order.
  function rjsCheckpointOrder(json, wil, real) {
    const recorded = json.checkpoint_order;
    if (Array.isArray(recorded)) {
      const sorted = recorded.slice().sort((a, b) => a - b);
      if (sorted.length !== real.length || sorted.some((t, i) => t !== real[i])) {
        throw new ModelError(
          "checkpoint_order: expected each token that has a character exactly once"
        );
      }
      return recorded.slice();
    }
    const n = real.length;
    if (wil.cols === n) {
      const order = new Array(n).fill(-1);
      let oneHot = true;
      for (const t of real) {
        const row = wil.data.subarray(t * n, (t + 1) * n);
        const ones = [];
        for (let j = 0; j < n && oneHot; j++) {
          if (row[j] === 1) ones.push(j);
          else if (row[j] !== 0) oneHot = false;
        }
        if (!oneHot || ones.length !== 1 || order[ones[0]] !== -1) {
          oneHot = false;
          break;
        }
        order[ones[0]] = t;
      }
      if (oneHot) return order;
    }
    return real;
  }

  function isIdentity(m) {
    if (m.rows !== m.cols) return false;
    for (let r = 0; r < m.rows; r++) {
      for (let c = 0; c < m.cols; c++) {
        if (m.data[r * m.cols + c] !== (r === c ? 1 : 0)) return false;
      }
    }
    return true;
  }

  // A RecurrentJS LSTM, tokens brought back to the checkpoint's order so
  // that a seed samples the same text as from the checkpoint.
  function fromRecurrentJS(json) {
    if (json.generator !== "lstm") {
      throw new ModelError(
        `generator ${JSON.stringify(json.generator)}: only RecurrentJS LSTMs ("lstm") run`
      );
    }
    const mats = json.model || {};
    const sizes = json.hidden_sizes;
    if (!Array.isArray(sizes) || sizes.length === 0 || sizes.some((n) => !(n >= 1))) {
      throw new ModelError("hidden_sizes: expected a non-empty list of sizes");
    }
    if (!mats.Wil) throw new ModelError("model.Wil: missing");
    const size = mats.Wil.n;
    const top = sizes[sizes.length - 1];
    const wil = rjsMatrix(mats, "Wil", size, json.letter_size);
    const whd = rjsMatrix(mats, "Whd", size, top);
    const bd = rjsMatrix(mats, "bd", size, 1);

    const letters = rjsLetters(json, size);
    const real = [];
    for (let t = 0; t < size; t++) if (letters[t] !== undefined) real.push(t);
    if (letters[0] === undefined) {
      const predicted = whd.data.subarray(0, top).some((v) => v !== 0) || bd.data[0] > INERT_BIAS;
      if (predicted) {
        throw new ModelError(
          "token 0 has no character but can be predicted: RecurrentJS's own " +
            "START/END token stands for no text, so it cannot be sampled as text"
        );
      }
    }
    const order = rjsCheckpointOrder(json, wil, real);
    let embedding = pickRows(wil, order);
    // rjs-bridge writes each char-rnn byte as the Latin-1 character of the
    // same value; a one-hot model with no character beyond U+00FF is such a
    // byte model.
    const bytes = isIdentity(embedding) && order.every((t) => letters[t].codePointAt(0) < 256);
    const tokens = order.map((t) => (bytes ? letters[t].codePointAt(0) : letters[t]));
    if (bytes) embedding = null;

    let inputSize = json.letter_size;
    const layers = sizes.map((hidden, d) => {
      const gates = {};
      GATES.lstm.forEach((name, g) => {
        const letter = RJS_LETTERS[g];
        gates[name] = {
          x: rjsMatrix(mats, `W${letter}x${d}`, hidden, inputSize),
          h: rjsMatrix(mats, `W${letter}h${d}`, hidden, hidden),
          b: rjsMatrix(mats, `b${letter}${d}`, hidden, 1),
        };
      });
      const layer = { inputSize: inputSize, hiddenSize: hidden, gates: gates };
      inputSize = hidden;
      return layer;
    });
    return {
      format: "recurrentjs",
      kind: "lstm",
      tokenUnit: bytes ? "byte" : "char",
      tokens: tokens,
      embedding: embedding,
      layers: layers,
      decoder: { w: pickRows(whd, order), b: pickRows(bd, order) },
      encoding: "numbers",
      source: {},
    };
  }

  // ---- Arithmetic --------------------------------------------------------

  function sigmoid(v) {
    return 1 / (1 + Math.exp(-v));
  }

  // out[r] = b[r] + W_x x + W_h h, with x a Float64Array or, for the one-hot
  // input of a model without embedding, the index of its 1.
  function preActivation(gate, x, h, out) {
    const wx = gate.x.data;
    const wh = gate.h.data;
    const b = gate.b.data;
    const nx = gate.x.cols;
    const nh = gate.h.cols;
    for (let r = 0; r < out.length; r++) {
      let sum = 0;
      if (typeof x === "number") {
        sum = wx[r * nx + x];
      } else {
        const row = r * nx;
        for (let j = 0; j < nx; j++) sum += wx[row + j] * x[j];
      }
      const row = r * nh;
      for (let j = 0; j < nh; j++) sum += wh[row + j] * h[j];
      out[r] = sum + b[r];
    }
    return out;
  }

  // ---- The model ---------------------------------------------------------

  class Model {
    constructor(net) {
      this.net = net;
      this.kind = net.kind;
      this.tokenUnit = net.tokenUnit;
      this.tokens = net.tokens;
      this.vocabularySize = net.tokens.length;
      this.hiddenSizes = net.layers.map((l) => l.hiddenSize);
      this.inputSize = net.embedding ? net.embedding.cols : this.vocabularySize;
      this.index = new Map(net.tokens.map((t, i) => [t, i]));
      this.reset();
    }

    /** What the model is, for people: kind, sizes, vocabulary, source. */
    describe() {
      let parameters = 0;
      const count = (m) => (parameters += m.rows * m.cols);
      if (this.net.embedding) count(this.net.embedding);
      for (const layer of this.net.layers) {
        for (const gate of Object.values(layer.gates)) {
          count(gate.x);
          count(gate.h);
          count(gate.b);
        }
      }
      count(this.net.decoder.w);
      count(this.net.decoder.b);
      return {
        format: this.net.format,
        kind: this.kind,
        hiddenSizes: this.hiddenSizes.slice(),
        inputSize: this.inputSize,
        vocabularySize: this.vocabularySize,
        tokenUnit: this.tokenUnit,
        encoding: this.net.encoding,
        parameters: parameters,
        source: Object.assign({}, this.net.source),
      };
    }

    /** Back to the zero state, before any token: the next token is uniform. */
    reset() {
      this.h = this.net.layers.map((l) => new Float64Array(l.hiddenSize));
      this.c = this.net.layers.map((l) => new Float64Array(l.hiddenSize));
      this.scores = new Float64Array(this.vocabularySize);
      this.fed = 0;
    }

    /**
     * The token indices of ``text``, and the characters left out because
     * the vocabulary lacks them (for a byte model: lacks any of their UTF-8
     * bytes), each listed once.
     */
    encode(text) {
      const tokens = [];
      const skipped = [];
      const utf8 = new TextEncoder();
      for (const ch of text) {
        const units = this.tokenUnit === "byte" ? Array.from(utf8.encode(ch)) : [ch];
        const found = units.map((unit) => this.index.get(unit));
        if (found.every((t) => t !== undefined)) {
          tokens.push(...found);
        } else if (!skipped.includes(ch)) {
          skipped.push(ch);
        }
      }
      return { tokens: tokens, skipped: skipped };
    }

    /** Feed every token of ``text`` once; returns what ``encode`` gives. */
    feed(text) {
      const encoded = this.encode(text);
      for (const t of encoded.tokens) this.feedToken(t);
      return encoded;
    }

    /** Advance the state by one token (an index into ``tokens``). */
    feedToken(token) {
      if (!Number.isInteger(token) || token < 0 || token >= this.vocabularySize) {
        throw new RangeError(`token ${token} is not in 0..${this.vocabularySize - 1}`);
      }
      const net = this.net;
      let x = net.embedding
        ? net.embedding.data.subarray(token * this.inputSize, (token + 1) * this.inputSize)
        : token;
      if (net.embedding && !(x instanceof Float64Array)) x = Float64Array.from(x);

      net.layers.forEach((layer, l) => {
        const h = this.h[l];
        const n = layer.hiddenSize;
        const g = layer.gates;
        const next = new Float64Array(n);
        if (this.kind === "lstm") {
          const i = preActivation(g.input, x, h, new Float64Array(n));
          const f = preActivation(g.forget, x, h, new Float64Array(n));
          const o = preActivation(g.output, x, h, new Float64Array(n));
          const u = preActivation(g.candidate, x, h, new Float64Array(n));
          const c = this.c[l];
          for (let r = 0; r < n; r++) {
            c[r] = sigmoid(f[r]) * c[r] + sigmoid(i[r]) * Math.tanh(u[r]);
            next[r] = sigmoid(o[r]) * Math.tanh(c[r]);
          }
        } else if (this.kind === "gru") {
          const reset = preActivation(g.reset, x, h, new Float64Array(n));
          const z = preActivation(g.update, x, h, new Float64Array(n));
          const rh = new Float64Array(n);
          for (let r = 0; r < n; r++) rh[r] = sigmoid(reset[r]) * h[r];
          const u = preActivation(g.candidate, x, rh, new Float64Array(n));
          for (let r = 0; r < n; r++) {
            const zr = sigmoid(z[r]);
            next[r] = zr * Math.tanh(u[r]) + (1 - zr) * h[r];
          }
        } else {
          preActivation(g.hidden, x, h, next);
          for (let r = 0; r < n; r++) next[r] = Math.tanh(next[r]);
        }
        this.h[l] = next;
        x = next;
      });

      const w = net.decoder.w;
      const b = net.decoder.b.data;
      for (let k = 0; k < this.vocabularySize; k++) {
        let sum = 0;
        const row = k * w.cols;
        for (let j = 0; j < w.cols; j++) sum += w.data[row + j] * x[j];
        this.scores[k] = sum + b[k];
      }
      this.fed += 1;
    }

    /** The next token's scores (logits); all zero before any token. */
    logits() {
      return this.scores.slice();
    }

    /** The next token's probabilities at ``temperature`` (default 1). */
    distribution(temperature) {
      return softmax(this.scores, temperature === undefined ? 1 : temperature);
    }

    /**
     * The next token: the most probable with ``argmax`` (the first of equals;
     * the temperature does not matter), else drawn from the distribution at
     * ``temperature`` with ``random``, a function giving u in [0, 1).
     */
    sample(options) {
      const o = options || {};
      checkScores(this.scores);
      if (o.argmax) return argmax(this.scores);
      return draw(this.distribution(o.temperature === undefined ? 1 : o.temperature), o.random());
    }

    /** Sample a token, feed it, and return it. */
    step(options) {
      const token = this.sample(options);
      this.feedToken(token);
      return token;
    }

    /** A decoder of generated tokens to text: ``push(token)`` gives what
     * can be shown so far, ``end()`` the rest. Byte tokens are decoded as
     * UTF-8, holding back an incomplete sequence until it completes. */
    textDecoder() {
      const tokens = this.tokens;
      if (this.tokenUnit === "char") {
        return { push: (t) => tokens[t], end: () => "" };
      }
      const utf8 = new TextDecoder("utf-8");
      const one = new Uint8Array(1);
      return {
        push: (t) => {
          one[0] = tokens[t];
          return utf8.decode(one, { stream: true });
        },
        end: () => utf8.decode(),
      };
    }
  }

  // ---- The sampler shared with Python -------------------------------------

  // No distribution lies in scores that are not all finite, and a draw from
  // them would be arbitrary: say so, as the Python sampler does.
  function checkScores(scores) {
    const found = [];
    if (scores.some(Number.isNaN)) found.push("NaN");
    if (scores.some((v) => v === Infinity || v === -Infinity)) found.push("infinity");
    if (found.length) {
      throw new RangeError(
        `the model's scores include ${found.join(" and ")}: its weights are too large ` +
          "for double arithmetic, so there is no distribution to sample from",
      );
    }
  }

  function softmax(scores, temperature) {
    const z = new Float64Array(scores.length);
    let max = -Infinity;
    for (let i = 0; i < z.length; i++) {
      z[i] = scores[i] / temperature;
      if (z[i] > max) max = z[i];
    }
    let sum = 0;
    for (let i = 0; i < z.length; i++) {
      z[i] = Math.exp(z[i] - max);
      sum += z[i];
    }
    for (let i = 0; i < z.length; i++) z[i] /= sum;
    return z;
  }

  function argmax(scores) {
    let best = 0;
    for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
    return best;
  }

  // The first token whose running sum of p exceeds u; if rounding leaves the
  // total at or below u, the last token that can be drawn at all.
  function draw(p, u) {
    let sum = 0;
    let last = 0;
    for (let i = 0; i < p.length; i++) {
      sum += p[i];
      if (sum > u) return i;
      if (p[i] > 0) last = i;
    }
    return last;
  }

  /** mulberry32: uniform numbers in [0, 1) from a 32-bit state, seed mod 2^32. */
  function mulberry32(seed) {
    let s;
    if (typeof seed === "bigint") {
      s = Number(BigInt.asUintN(32, seed));
    } else {
      const n = seed === undefined ? 0 : seed;
      if (!Number.isSafeInteger(n)) {
        throw new RangeError(`seed ${seed} is not an integer (use a BigInt beyond 2^53)`);
      }
      s = ((n % 4294967296) + 4294967296) % 4294967296;
    }
    return function () {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** A Model from a parsed JSON export of either format. */
  function load(json) {
    if (json === null || typeof json !== "object") {
      throw new ModelError("not a model: expected a JSON object");
    }
    if (json.format === FORMAT) return new Model(fromBridge(json));
    if (json.generator !== undefined && json.model !== undefined) {
      return new Model(fromRecurrentJS(json));
    }
    throw new ModelError(
      `not a model rjs-bridge knows: expected "format": "${FORMAT}" or a RecurrentJS model`
    );
  }

  return {
    FORMAT: FORMAT,
    GATES: GATES,
    Model: Model,
    ModelError: ModelError,
    load: load,
    mulberry32: mulberry32,
    softmax: softmax,
    argmax: argmax,
    draw: draw,
  };
});
