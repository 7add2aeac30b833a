// Compare tab: one prompt through the base and the chosen adapters, side by side.
"use strict";

async function loadAdapters() {
  const box = document.getElementById("adapter-choices");
  try {
    const data = await api("/api/adapters");
    if (!data.adapters.length) {
      box.replaceChildren(el("span", { class: "count" }, "no adapters registered (lorakit adapters add DIR)"));
      return;
    }
    box.replaceChildren(...data.adapters.map((a) => el("label", { title: `${a.path}\nbase: ${a.base}` },
      el("input", { type: "checkbox", name: "adapter", value: a.name, checked: true }),
      ` ${a.name}`, el("span", { class: "count" }, a.base ? ` (${a.base})` : ""))));
  } catch (err) {
    box.replaceChildren(el("span", { class: "count" }, err.message));
  }
}

async function runCompare() {
  const button = document.getElementById("run-compare");
  const meta = document.getElementById("compare-meta");
  const body = {
    prompt: document.getElementById("prompt").value,
    system: document.getElementById("system").value,
    adapters: [...checked("adapter")],
    include_base: document.getElementById("use-base").checked,
    max_new_tokens: Number(document.getElementById("max-tokens").value) || 128,
  };
  button.disabled = true;
  const started = Date.now();
  meta.textContent = "generating... (the first run loads the models)";
  const tick = setInterval(() => { meta.textContent = `generating... ${((Date.now() - started) / 1000).toFixed(0)} s`; }, 1000);
  try {
    const data = await api("/api/compare", body);
    meta.textContent = `base ${data.base} · greedy · up to ${data.max_new_tokens} new tokens · ${data.seconds} s for all ${data.outputs.length} in one batch`;
    document.getElementById("outputs").replaceChildren(...data.outputs.map((o) =>
      el("div", { class: `output${o.name === "base" ? " base" : ""}`, "data-name": o.name },
        el("h4", {}, o.name),
        el("div", { class: "text" }, o.text || (o.new_tokens ? "(only blank or special tokens)" : "(stopped at once)")),
        el("div", { class: "meta" }, `${o.new_tokens} new tokens`))));
  } catch (err) {
    meta.textContent = "";
    notice(err.message, "error");
  } finally {
    clearInterval(tick);
    button.disabled = false;
  }
}
