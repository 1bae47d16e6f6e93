// One question of the form on screen: its control for the question type, "not applicable",
// a note, evidence, the timer of duration questions, and its error message right next to it.

import { captureButtons, mediaList } from "./evidence.js";
import { h, uid } from "./dom.js";
import { formatTime, has, label, t } from "./i18n.js";
import { MEDIA_TYPES, NUMBER_TYPES, evidenceKinds, missingEvidence, typedValue } from "./form.js";

/**
 * Build question `q`; returns {el, update(view)} where view = {asked, errors, showErrors}.
 * ctx: {record, media (Map), change(qid, patch), addFiles(qid, files), removeMedia(m),
 *       recommendations (Map qid -> [text]), progressOf(m), geolocate()}
 */
export function renderQuestion(q, ctx) {
  const id = `q-${q.id}`;
  const answer = () => ctx.record.answers[q.id] || {};
  const errorId = uid("err");
  const hintId = uid("hint");
  const describedBy = [q.hint ? hintId : null, errorId].filter(Boolean).join(" ");
  const error = h("p", { class: "error", id: errorId, hidden: true });
  const title = [label(q.label), q.required && !MEDIA_TYPES.includes(q.type) && q.type !== "note" ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null];
  let control = null;
  let inputs = [];
  let labelEl;
  const grouped = ["yes_no", "single_choice", "multi_choice"].includes(q.type) || MEDIA_TYPES.includes(q.type) || q.type === "geopoint";
  if (grouped) {
    labelEl = h("legend", { class: "q-label" }, title);
  } else {
    labelEl = h("label", { class: "q-label", for: `${id}-input` }, title);
  }
  const hint = q.hint ? h("p", { class: "hint", id: hintId }, label(q.hint)) : null;
  const recs = (ctx.recommendations.get(q.id) || []).map((text) => h("p", { class: "rec" }, h("strong", {}, `${t("recommendation")}: `), text));

  if (q.type === "yes_no" || q.type === "single_choice" || q.type === "multi_choice") {
    const options = q.type === "yes_no" ? [{ id: "yes", label: t("yes") }, { id: "no", label: t("no") }]
      : q.choices.map((c) => ({ id: c.id, label: label(c.label) }));
    const multi = q.type === "multi_choice";
    const current = answer().value;
    inputs = options.map((o) => h("input", {
      type: multi ? "checkbox" : "radio", name: id, value: o.id, id: `${id}-${o.id}`,
      checked: multi ? Array.isArray(current) && current.includes(o.id) : current === o.id,
      "aria-describedby": describedBy,
      onchange: () => {
        const value = multi ? inputs.filter((i) => i.checked).map((i) => i.value) : o.id;
        ctx.change(q.id, { value });
      },
    }));
    control = h("div", { class: `choices${q.type === "yes_no" ? " pair" : ""}` },
      options.map((o, i) => h("label", { class: "choice", for: `${id}-${o.id}` }, inputs[i], h("span", {}, o.label))));
  } else if (NUMBER_TYPES.includes(q.type)) {
    const input = h("input", {
      type: "text", id: `${id}-input`, inputmode: q.type === "integer" ? "numeric" : "decimal", autocomplete: "off",
      value: answer().value ?? "", "aria-describedby": describedBy, class: "number",
      oninput: (event) => ctx.change(q.id, { value: event.target.value }),
    });
    inputs = [input];
    const unit = q.type === "duration_min" ? t("minutes") : unitLabel(q.unit);
    control = h("div", { class: "number-row" }, input, unit ? h("span", { class: "unit", "aria-hidden": "true" }, unit) : null);
    if (q.type === "duration_min") control = h("div", {}, control, timer(q, ctx, input));
  } else if (q.type === "time") {
    inputs = [h("input", { type: "time", id: `${id}-input`, value: answer().value ?? "", "aria-describedby": describedBy,
      oninput: (event) => ctx.change(q.id, { value: event.target.value }) })];
    control = inputs[0];
  } else if (q.type === "text") {
    inputs = [h("textarea", { id: `${id}-input`, rows: 4, maxlength: 5000, "aria-describedby": describedBy,
      oninput: (event) => ctx.change(q.id, { value: event.target.value }) })];
    inputs[0].value = answer().value ?? "";
    control = inputs[0];
  } else if (q.type === "geopoint") {
    const shown = h("p", { class: "muted" });
    const show = () => {
      const v = answer().value;
      shown.textContent = v ? t("position_recorded", { m: Math.round(v.accuracy ?? 0) }) : "";
    };
    show();
    control = h("div", {}, h("button", { type: "button", class: "button secondary", onclick: async () => {
      shown.textContent = t("position_wait");
      const pos = await ctx.geolocate();
      if (pos) ctx.change(q.id, { value: { lat: pos.lat, lon: pos.lon, accuracy: pos.accuracy } });
      show();
    } }, t("record_position")), shown);
  } else if (q.type === "note") {
    control = null;
  }

  let naBox = null;
  if (q.not_applicable) {
    naBox = h("input", { type: "checkbox", id: `${id}-na`, checked: Boolean(answer().not_applicable),
      onchange: (event) => {
        if (event.target.checked) {
          for (const input of inputs) {
            if (input.type === "radio" || input.type === "checkbox") input.checked = false;
            else input.value = "";
          }
        }
        ctx.change(q.id, { not_applicable: event.target.checked });
      } });
  }
  const noteArea = h("textarea", { id: `${id}-note`, rows: 3, maxlength: 2000,
    oninput: (event) => ctx.change(q.id, { note: event.target.value }) });
  noteArea.value = answer().note || "";
  const note = h("details", { class: "note", open: Boolean(answer().note) || undefined },
    h("summary", {}, t("note")), h("label", { for: `${id}-note`, class: "visually-hidden" }, `${t("note")}: ${label(q.label)}`), noteArea);
  const kinds = evidenceKinds(q);
  const evidenceHint = h("p", { class: "warn-text", hidden: true });
  const evidenceList = h("div", {});
  const evidence = kinds.length ? h("div", { class: "evidence" },
    captureButtons(kinds, { qid: q.id, onFiles: (files) => ctx.addFiles(q.id, files) }), evidenceHint, evidenceList) : null;

  const Wrapper = grouped ? "fieldset" : "div";
  const el = h(Wrapper, { class: "q", id, dataset: { qid: q.id, type: q.type } },
    labelEl, hint, recs, control,
    naBox ? h("label", { class: "choice na", for: `${id}-na` }, naBox, h("span", {}, t("not_applicable"))) : null,
    error, evidence, q.type === "note" ? null : note);
  if (grouped && describedBy) el.setAttribute("aria-describedby", describedBy);

  function update({ asked, errors, showErrors }) {
    el.hidden = !asked;
    const a = answer();
    for (const input of inputs) input.disabled = Boolean(a.not_applicable && q.not_applicable);
    const messages = showErrors ? errors || [] : [];
    error.hidden = !messages.length;
    error.textContent = messages.join(" ");
    for (const input of inputs) input.setAttribute("aria-invalid", messages.length ? "true" : "false");
    if (evidence) {
      const items = (ctx.record.evidence[q.id] || []).map((mid) => ctx.media.get(mid)).filter(Boolean);
      evidenceList.replaceChildren(mediaList(items, { editable: ctx.editable, onRemove: ctx.removeMedia, progressOf: ctx.progressOf }),
        ctx.preparing.has(q.id) ? h("p", { class: "muted" }, t("preparing")) : "");
      const missing = a.not_applicable ? [] : missingEvidence(q, typedValue(q, a.value), new Set(items.map((m) => m.kind)));
      evidenceHint.hidden = !missing.length;
      evidenceHint.textContent = missing.map((kind) => t("evidence_needed", { kind: t(`kind_${kind}`) })).join(" ");
      if (missing.length && !note.open) note.open = true;
    }
  }
  return { el, update, focus: () => (inputs[0] || el.querySelector("button, input, textarea") || el).focus() };
}

/** A unit of the form ("cm") in the inspector's language where the app knows it ("см", "sm"). */
export function unitLabel(unit) {
  if (!unit) return unit;
  const key = `unit_${unit.trim().toLowerCase()}`;
  return has(key) ? t(key) : unit;
}

function timer(q, ctx, input) {
  const status = h("span", { class: "muted timer-status", "aria-live": "polite" });
  const start = h("button", { type: "button", class: "button secondary" });
  const draw = () => {
    const since = ctx.record.timers?.[q.id];
    start.textContent = since ? t("timer_stop") : t("timer_start");
    start.setAttribute("aria-pressed", since ? "true" : "false");
    status.textContent = since ? t("timer_running", { time: formatTime(since) }) : "";
  };
  start.addEventListener("click", () => {
    const timers = (ctx.record.timers ||= {});
    if (timers[q.id]) {
      const minutes = Math.max(0, Math.round((Date.now() - Date.parse(timers[q.id])) / 60000));
      delete timers[q.id];
      input.value = String(minutes);
      ctx.change(q.id, { value: String(minutes) });
    } else {
      timers[q.id] = new Date().toISOString();
      ctx.change(q.id, {});
    }
    draw();
  });
  draw();
  return h("div", { class: "timer" }, start, status);
}
