// The page's controls: load the embedded model with RjsBridge (inlined just
// before this script), prime it with the typed text, and stream generated
// text into the page a few tokens per animation frame.
(function () {
  "use strict";

  // Time spent generating per frame, so that the page stays responsive with
  // large models and fast with small ones.
  const FRAME_BUDGET_MS = 12;

  const $ = (id) => document.getElementById(id);
  const form = $("controls");
  const output = $("output");
  const primed = $("primed");
  const continuation = $("continuation");
  const status = $("status");
  const generateButton = $("generate");
  const stopButton = $("stop");

  let model = null;
  let unit = "token";
  let run = null;

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function plural(n, word) {
    return `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
  }

  // How a token looks in the vocabulary list: printable characters as they
  // are, the rest by name or code.
  function tokenLabel(token) {
    const names = { "\n": "\\n", "\t": "\\t", "\r": "\\r", " ": "space" };
    const ch = typeof token === "number" ? String.fromCharCode(token) : token;
    if (names[ch]) return { text: names[ch], special: true };
    const code = ch.codePointAt(0);
    if (code < 0x20 || code === 0x7f || (typeof token === "number" && code >= 0x80)) {
      return { text: "\\x" + code.toString(16).padStart(2, "0"), special: true };
    }
    return { text: ch, special: false };
  }

  function showVocabulary() {
    const list = $("vocabulary");
    for (const token of model.tokens) {
      const label = tokenLabel(token);
      const chip = document.createElement("span");
      chip.textContent = label.text;
      if (label.special) chip.className = "special";
      list.appendChild(chip);
    }
  }

  function readSettings() {
    const temperature = Number($("temperature").value);
    const length = Number($("length").value);
    const seedText = $("seed").value.trim();
    const argmax = form.elements.mode.value === "argmax";
    if (!argmax && !(temperature > 0 && Number.isFinite(temperature))) {
      throw new Error("The temperature must be a number above 0.");
    }
    if (!Number.isInteger(length) || length < 1 || length > 100000) {
      throw new Error("The length must be a whole number from 1 to 100,000.");
    }
    if (!argmax && !/^-?[0-9]+$/.test(seedText)) {
      throw new Error("The seed must be a whole number.");
    }
    return {
      prime: $("prime").value,
      temperature: temperature,
      length: length,
      seed: argmax ? null : BigInt(seedText),
      argmax: argmax,
    };
  }

  function setRunning(running) {
    output.dataset.state = running ? "running" : output.dataset.state;
    generateButton.disabled = running;
    stopButton.disabled = !running;
  }

  function finish(state, message) {
    if (run && run.decoder) run.text.appendData(run.decoder.end());
    run = null;
    setRunning(false);
    output.dataset.state = state;
    say(message);
  }

  function start(event) {
    event.preventDefault();
    if (!model || run) return;
    let settings;
    try {
      settings = readSettings();
    } catch (e) {
      say(e.message, true);
      return;
    }

    const encoded = model.encode(settings.prime);
    if (encoded.skipped.length) {
      // As char-rnn's sampler and rjs-bridge sample do: a start the model
      // cannot read is refused, not shortened.
      const shown = encoded.skipped.map((ch) => JSON.stringify(ch)).join(" ");
      say(`Not in this model's vocabulary, so it cannot start with them: ${shown}.`, true);
      return;
    }
    model.reset();
    primed.textContent = settings.prime;
    continuation.textContent = "";
    const text = document.createTextNode("");
    continuation.appendChild(text);
    run = {
      settings: settings,
      primeTokens: encoded.tokens,
      fed: 0,
      made: 0,
      text: text,
      decoder: model.textDecoder(),
      options: {
        argmax: settings.argmax,
        temperature: settings.temperature,
        random: settings.argmax ? null : RjsBridge.mulberry32(settings.seed),
      },
      started: performance.now(),
    };
    setRunning(true);
    say("Reading the start…");
    requestAnimationFrame(frame);
  }

  function frame() {
    const r = run;
    if (!r) return;
    const until = performance.now() + FRAME_BUDGET_MS;
    let chunk = "";
    try {
      while (r.fed < r.primeTokens.length && performance.now() < until) {
        model.feedToken(r.primeTokens[r.fed++]);
      }
      while (
        r.fed === r.primeTokens.length &&
        r.made < r.settings.length &&
        performance.now() < until
      ) {
        chunk += r.decoder.push(model.step(r.options));
        r.made += 1;
      }
    } catch (e) {
      finish("error", "");
      say(`Generation failed: ${e.message}`, true);
      return;
    }
    if (chunk) r.text.appendData(chunk);

    if (r.made < r.settings.length) {
      if (r.fed === r.primeTokens.length) say(`Generating… ${plural(r.made, unit)}`);
      requestAnimationFrame(frame);
      return;
    }
    const seconds = (performance.now() - r.started) / 1000;
    const how = r.settings.argmax
      ? "argmax"
      : `temperature ${r.settings.temperature}, seed ${r.settings.seed}`;
    finish("done", `Generated ${plural(r.made, unit)} in ${seconds.toFixed(2)} s (${how}).`);
  }

  function stop() {
    if (!run) return;
    finish("stopped", `Stopped after ${plural(run.made, unit)}.`);
  }

  form.addEventListener("submit", start);
  $("prime").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  stopButton.addEventListener("click", stop);
  form.addEventListener("change", () => {
    form.classList.toggle("argmax", form.elements.mode.value === "argmax");
  });

  try {
    model = RjsBridge.load(JSON.parse($("model").textContent));
    unit = model.tokenUnit === "byte" ? "byte" : "character";
    showVocabulary();
    say("Ready.");
  } catch (e) {
    generateButton.disabled = true;
    output.dataset.state = "error";
    say(`This page's model cannot be loaded: ${e.message}`, true);
  }
})();
