// The visit screen: one section per screen with a progress bar, live skip logic, then a last
// step that lists what is missing and finishes the visit into the outbox. Every change is saved
// on the phone as it happens. Nothing here names the app: the screen stays plain while in use.

import { announce, fill, h } from "./dom.js";
import { formatNumber, formatTime, label, t } from "./i18n.js";
import { bodyAnswers, check, compile, progress } from "./form.js";
import { kindOf, prepare, releaseUrls } from "./evidence.js";
import { check as judgeFile, limits } from "./sniff.js";
import { renderQuestion } from "./questions.js";
import * as outbox from "./outbox.js";
import * as db from "./db.js";
import * as store from "./store.js";

const POSITION_TIMEOUT_MS = 10000;

/** The position now, or null (refused, unavailable, too slow). */
export function geolocate() {
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy: Math.min(100000, p.coords.accuracy || 0), at: new Date(p.timestamp || Date.now()).toISOString() }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout: POSITION_TIMEOUT_MS, maximumAge: 60000 },
    );
  });
}

/**
 * Show visit `record` (a draft) in `main`. deps: {definition, recommendations (Map),
 * positions (bool), navigate(path), chrome(options)}.
 */
export async function showVisit(main, record, deps) {
  const form = compile(deps.definition);
  const sections = deps.definition.sections;
  const media = new Map((await store.mediaOf(record.uuid)).map((m) => [m.id, m]));
  // Only the tab that holds the visit's lock writes it (editlock.js); another tab shows it read-only.
  const lock = deps.lock || { owned: true };
  const editable = (record.status === "draft" || record.status === "attention") && lock.owned;
  const save = (options) => (lock.owned ? store.saveVisit(record, options) : Promise.resolve());
  const touched = new Set(Object.keys(record.error?.errors || {}));
  let showAll = record.status === "attention";
  let step = Math.min(record.section || 0, sections.length);
  let views = new Map();
  // The form's checks, and a file the server refused: it stays a problem of its question until it
  // is removed (sent again, it would be refused again).
  const evaluate = () => {
    const found = check(form, record);
    for (const ids of Object.values(record.evidence || {})) {
      for (const id of ids) {
        const m = media.get(id);
        if (m?.refused) (found.errors[m.question] ||= []).push(m.refused);
      }
    }
    return found;
  };
  let result = evaluate();

  const preparing = new Set();
  const refusals = new Map(); // qid -> the message of a file refused on attach (not kept)
  const ctx = {
    record, media, editable, preparing, refusals, recommendations: deps.recommendations, geolocate,
    progressOf: (m) => (m.done ? m.size : m.offset || 0),
    change(qid, patch) {
      if (!lock.owned) return;
      const a = (record.answers[qid] ||= {});
      Object.assign(a, patch);
      if (a.not_applicable) a.value = null;
      touched.add(qid);
      refusals.delete(qid);
      if (record.error?.errors?.[qid]) delete record.error.errors[qid];
      save().catch(() => {});
      refresh();
    },
    async addFiles(qid, files) {
      for (const file of files) {
        if (!lock.owned) return;
        preparing.add(qid);
        refresh();
        let m;
        try {
          // Judged as the server will judge it (sniff.js): refused here, at its question, at once.
          const verdict = await judgeFile(file);
          if (!verdict.ok) {
            const message = refusalMessage(label(form.questions.get(qid)?.label) || qid, file, verdict);
            refusals.set(qid, message);
            announce(message);
            continue;
          }
          refusals.delete(qid);
          m = await prepare(file, { visit: record.uuid, question: qid, kind: verdict.kind });
        } finally {
          preparing.delete(qid);
          refresh();
        }
        const cited = (record.evidence[qid] ||= []);
        if (cited.some((id) => media.get(id)?.sha256 === m.sha256)) continue; // the same file twice
        media.set(m.id, m);
        cited.push(m.id);
        touched.add(qid);
        refresh();
        if (lock.owned) await store.saveMedia(m, record).catch(() => {}); // a full phone: kept in memory, retried
      }
    },
    removeMedia(m) {
      if (!lock.owned || !window.confirm(t("remove_confirm"))) return;
      record.evidence[m.question] = (record.evidence[m.question] || []).filter((id) => id !== m.id);
      media.delete(m.id);
      save({ now: true }).catch(() => {});
      db.del("media", m.id).catch(() => {});
      refresh();
    },
  };

  const bar = h("progress", { class: "steps", max: sections.length, value: step, "aria-label": "" });
  const stepLabel = h("p", { class: "step-label" });
  const counts = h("p", { class: "muted counts" });
  const saved = h("p", { class: "muted counts", id: "save-state" });
  const showSaved = () => {
    const state = store.saveState();
    saved.textContent = state === "saving" ? t("saving") : state === "saved" ? t("saved") : "";
  };
  store.events.addEventListener("state", showSaved);
  showSaved();
  // A disabled fieldset: every control of a visit edited in another tab is read-only at once.
  const body = h("fieldset", { class: "section-body", disabled: !lock.owned });
  const back = h("button", { type: "button", class: "button secondary", onclick: () => go(step - 1) }, t("back"));
  const next = h("button", { type: "button", class: "button", id: "next" });
  next.addEventListener("click", () => go(step + 1));
  const jump = h("select", { id: "jump", onchange: (event) => go(Number(event.target.value)) });
  const intro = record.kind === "amend" ? h("div", { class: "banner info" }, h("p", {}, t("amend_intro")),
    record.comment ? h("p", {}, h("strong", {}, `${t("comment")}: `), record.comment) : null) : null;
  const elsewhere = lock.owned ? null : h("div", { class: "banner warn", id: "visit-locked", role: "alert" },
    h("p", {}, t("open_elsewhere")),
    h("button", { type: "button", class: "button", id: "take-over", onclick: (event) => {
      event.currentTarget.disabled = true;
      event.currentTarget.textContent = t("taking_over");
      deps.takeOver();
    } }, t("take_over")));
  const serverError = record.error ? h("p", { class: "banner warn", role: "alert" }, t("server_refused"), " ", record.error.message || "") : null;
  fill(main,
    h("div", { class: "visit" },
      h("div", { class: "visit-head" }, stepLabel, bar, counts, saved),
      elsewhere, intro, serverError, body,
      h("nav", { class: "step-nav", "aria-label": t("jump") }, back, next),
      h("p", { class: "jump" }, h("label", { for: "jump" }, t("jump")), jump)));

  function refresh() {
    result = evaluate();
    for (const [qid, view] of views) {
      const serverErrors = record.error?.errors?.[qid] || [];
      const refused = refusals.has(qid) ? [refusals.get(qid)] : [];
      view.update({ asked: result.asked.get(qid), errors: [...refused, ...(result.errors[qid] || []), ...serverErrors],
        showErrors: showAll || touched.has(qid) || serverErrors.length > 0 || refused.length > 0 });
    }
    const p = progress(form, record, result.asked);
    counts.textContent = t("answered_of", { n: p.done, total: p.total });
    if (step === sections.length) drawFinish();
  }

  function go(target, focusQid = null) {
    step = Math.max(0, Math.min(sections.length, target));
    if (lock.owned) {
      record.section = step;
      save().catch(() => {});
    }
    draw();
    window.scrollTo(0, 0);
    if (focusQid && views.has(focusQid)) views.get(focusQid).focus();
    else body.querySelector("h2")?.focus();
  }

  function draw() {
    releaseUrls();
    views = new Map();
    bar.value = step;
    back.disabled = step === 0;
    next.hidden = step === sections.length;
    next.textContent = step === sections.length - 1 ? t("review") : t("next");
    fill(jump, sections.map((s, i) => h("option", { value: i, selected: i === step }, `${i + 1}. ${label(s.title)}`)),
      h("option", { value: sections.length, selected: step === sections.length }, t("review")));
    if (step === sections.length) {
      stepLabel.textContent = t("review");
      deps.chrome({ title: t("review") });
      drawFinish();
      return;
    }
    const section = sections[step];
    stepLabel.textContent = t("section_of", { n: step + 1, total: sections.length });
    deps.chrome({ title: label(section.title) });
    bar.setAttribute("aria-label", stepLabel.textContent);
    const list = section.questions.map((q) => {
      const view = renderQuestion(q, ctx);
      views.set(q.id, view);
      return view.el;
    });
    fill(body, h("h2", { tabindex: "-1" }, label(section.title)), list);
    refresh();
  }

  function drawFinish() {
    const problems = Object.entries(result.errors);
    // What the server refused is listed too: never an all-clear next to a refusal.
    const serverProblems = Object.entries(record.error?.errors || {}).filter(([qid, messages]) => messages.length && !result.errors[qid]);
    const item = ([qid, messages]) => {
      const q = form.questions.get(qid);
      const index = sections.findIndex((s) => s.id === form.sectionOf.get(qid));
      if (!q || index < 0) return h("li", {}, messages.join(" "));
      // The section is named by its title: a bare "1." before each item read as list numbering.
      return h("li", {}, h("a", { href: `#q-${qid}`, onclick: (event) => { event.preventDefault(); showAll = true; go(index, qid); } },
        label(q.label)), h("span", { class: "muted" }, ` (${label(sections[index].title)})`), " — ", messages.join(" "));
    };
    const toggle = h("input", { type: "checkbox", id: "positions", checked: deps.positions(),
      onchange: (event) => deps.setPositions(event.target.checked) });
    const finish = h("button", { type: "button", class: "button big", id: "finish", disabled: !editable }, t("finish"));
    finish.addEventListener("click", () => finishVisit(finish));
    fill(body,
      h("h2", { tabindex: "-1" }, t("review")),
      record.started_at ? h("p", { class: "muted" }, t("started", { time: formatTime(record.started_at) })) : null,
      problems.length
        ? h("div", { class: "problems", role: "alert" }, h("p", {}, t("finish_problems")), h("ul", {}, problems.map(item)))
        : null,
      serverProblems.length
        ? h("div", { class: "problems server-problems", role: "alert" }, h("p", {}, t("server_problems")), h("ul", {}, serverProblems.map(item)))
        : null,
      problems.length || serverProblems.length || record.error ? null : h("p", { class: "ok" }, t("finish_ok")),
      // Only the end position is still to come here; the start was decided before "Start visit".
      record.kind === "amend" ? null
        : h("label", { class: "choice", for: "positions" }, toggle, h("span", {}, t("position_end_toggle"))),
      h("p", { class: "muted" }, t("finish_note")),
      finish);
  }

  async function finishVisit(button) {
    if (!editable) return;
    showAll = true;
    result = evaluate();
    if (Object.keys(result.errors).length) {
      drawFinish();
      body.querySelector(".problems a")?.focus();
      return;
    }
    button.disabled = true;
    if (record.kind !== "amend") {
      record.ended_at ||= new Date().toISOString();
      if (deps.positions() && !record.position_end) {
        button.textContent = t("position_wait");
        record.position_end = await geolocate();
      }
    }
    const shaOf = (id) => media.get(id)?.sha256;
    record.body = {
      uuid: record.uuid,
      ...(record.assignment !== null ? { assignment: record.assignment }
        : { assignment: null, office: record.office, form_key: record.form_key, form_version: record.form_version }),
      started_at: record.started_at,
      ended_at: record.ended_at,
      position_start: strip(record.position_start),
      position_end: strip(record.position_end),
      answers: bodyAnswers(form, record, shaOf),
      device: deps.device(),
    };
    if (!lock.owned) return; // another tab took over meanwhile: it finishes the visit
    record.status = "outbox";
    record.error = null;
    record.finished_at = new Date().toISOString();
    delete record.timers;
    try {
      await save({ now: true });
    } catch {
      button.disabled = false; // the phone is full: the banner says so; nothing was lost
      return;
    }
    announce(t("status_outbox"));
    outbox.kick();
    deps.navigate("/app/visits");
  }

  draw();
  return () => {
    store.events.removeEventListener("state", showSaved);
    releaseUrls();
  };
}

const sizeText = (bytes) => (bytes >= 1073741824 ? `${formatNumber(bytes / 1073741824, 1)} GB`
  : bytes >= 1048576 ? `${formatNumber(bytes / 1048576, 1)} MB` : `${formatNumber(Math.max(1, Math.round(bytes / 1024)))} KB`);

/** "x.pdf" cannot be evidence for "question": why, in the inspector's language. */
function refusalMessage(question, file, verdict) {
  let reason;
  if (verdict.code === "empty_file") reason = t("file_empty");
  else if (verdict.code === "type_not_allowed") {
    const mime = /\(([^()]+\/[^()]+)\)/.exec(verdict.detected || "");
    reason = t("file_type_refused", { detected: mime ? mime[1] : t("unknown_type"), accepted: limits()?.accepted || "" });
  } else {
    reason = t("file_too_large", { size: sizeText(file.size), kind: t(`kind_${verdict.kind || kindOf(file)}`), limit: sizeText(verdict.limit) });
  }
  return t("file_not_accepted", { file: file.name || "", question, reason });
}

function strip(position) {
  if (!position) return null;
  const { lat, lon, accuracy = null, at = null } = position;
  return { lat, lon, accuracy, at };
}
