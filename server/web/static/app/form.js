// A form version on the phone: skip logic, constraints and required answers with the same
// semantics as the server (server/scoring/rules.py CompiledForm, server/visits/validation.py),
// so what the phone accepts the server accepts too.

import { parse } from "./expressions.js";
import { label, t } from "./i18n.js";

export const MEDIA_TYPES = ["photo", "video", "audio"];
export const NUMBER_TYPES = ["integer", "decimal", "duration_min"];
const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d$/;
const NUMBER_RE = /^[+-]?(\d+([.,]\d*)?|[.,]\d+)$/;
const MAX_TEXT = 5000;
export const MAX_NOTE = 2000;
export const MAX_EVIDENCE = 20;
const INVALID = Symbol("invalid");

const codePoints = (text) => Array.from(text).length;
// Control characters other than tab and newlines, and lone surrogates (server/validators.py).
const NOT_PLAIN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The definition with expressions parsed once and questions in dependency order. */
export function compile(definition) {
  const form = { definition, questions: new Map(), sectionOf: new Map(), relevant: new Map(), constraint: new Map() };
  for (const section of definition.sections) {
    for (const q of section.questions) {
      form.questions.set(q.id, q);
      form.sectionOf.set(q.id, section.id);
      if (q.relevant) form.relevant.set(q.id, parse(q.relevant));
      if (q.constraint) form.constraint.set(q.id, parse(q.constraint.expr));
    }
  }
  form.order = dependencyOrder(form);
  return form;
}

function dependencyOrder(form) {
  const waiting = new Map();
  for (const [qid, expr] of form.relevant) {
    waiting.set(qid, new Set([...expr.references].filter((ref) => form.questions.has(ref) && ref !== qid)));
  }
  const order = [...form.questions.keys()].filter((qid) => !waiting.get(qid)?.size);
  const dependants = new Map();
  for (const [qid, refs] of waiting) {
    for (const ref of refs) {
      if (!dependants.has(ref)) dependants.set(ref, []);
      dependants.get(ref).push(qid);
    }
  }
  for (let i = 0; i < order.length; i += 1) {
    for (const dependant of dependants.get(order[i]) || []) {
      const refs = waiting.get(dependant);
      refs.delete(order[i]);
      if (!refs.size) order.push(dependant);
    }
  }
  if (order.length !== form.questions.size) throw new Error("relevance cycle");
  return order;
}

/** A typed answer from what the inspector entered: null when empty, INVALID when unusable. */
export function typedValue(q, raw) {
  if (raw === undefined || raw === null || raw === "") return null;
  if (NUMBER_TYPES.includes(q.type)) {
    if (typeof raw === "number") return Number.isFinite(raw) ? raw : INVALID;
    const text = String(raw).trim();
    if (!NUMBER_RE.test(text)) return INVALID;
    return Number(text.replace(",", "."));
  }
  if (q.type === "multi_choice") return Array.isArray(raw) && raw.length ? raw : null;
  return raw;
}

/** Why `value` is not a valid answer to `q` (a translated message), or null. */
export function valueProblem(q, value) {
  if (value === INVALID) return t({ integer: "whole_number", duration_min: "minutes_problem" }[q.type] || "number");
  if (value === null || MEDIA_TYPES.includes(q.type)) return null;
  const choices = (q.choices || []).map((c) => c.id);
  switch (q.type) {
    case "yes_no": return value === "yes" || value === "no" ? null : t("required");
    case "single_choice": return choices.includes(value) ? null : t("required");
    case "multi_choice": return value.every((v) => choices.includes(v)) && new Set(value).size === value.length ? null : t("required");
    case "integer": return Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? null : t("whole_number");
    case "decimal": return Number.isFinite(value) ? null : t("number");
    case "duration_min": return Number.isFinite(value) && value >= 0 ? null : t("minutes_problem");
    case "time": return TIME_RE.test(value) ? null : t("time_problem");
    case "text": return codePoints(value) > MAX_TEXT ? t("too_long") : null;
    case "geopoint": return value && Number.isFinite(value.lat) && Number.isFinite(value.lon) ? null : t("required");
    default: return null;
  }
}

/** Text as the server takes it: no control characters but tab and newlines, no lone surrogates. */
export function plain(text) {
  return String(text ?? "").replace(NOT_PLAIN, "");
}

/** Map qid -> {value (typed, or INVALID), na} from a draft's answers. */
export function answersOf(form, draft) {
  const out = new Map();
  for (const [qid, a] of Object.entries(draft.answers || {})) {
    const q = form.questions.get(qid);
    if (!q) continue;
    const na = Boolean(a.not_applicable && q.not_applicable);
    out.set(qid, { value: na ? null : typedValue(q, a.value), na });
  }
  return out;
}

const usable = (answer) => (answer && answer.value !== INVALID ? answer : undefined);

/** Which questions are asked: a question not asked counts as unanswered for its dependants. */
export function relevance(form, answers) {
  const asked = new Map();
  const effective = (qid) => {
    const answer = usable(answers.get(qid));
    if (!answer || answer.na || !asked.get(qid)) return null;
    return answer.value;
  };
  for (const qid of form.order) {
    const expr = form.relevant.get(qid);
    if (!expr) {
      asked.set(qid, true);
      continue;
    }
    const refs = {};
    for (const ref of expr.references) refs[ref] = effective(ref);
    asked.set(qid, expr.holds(refs));
  }
  return asked;
}

/** The values expressions see: null for unanswered, not applicable or not asked. */
export function values(form, answers, asked) {
  const out = {};
  for (const [qid, a] of answers) {
    if (!form.questions.has(qid)) continue;
    out[qid] = usable(a) && asked.get(qid) && !a.na ? a.value : null;
  }
  return out;
}

/** {errors: {qid: [messages]}, asked} for a draft, judged as the server judges a visit. */
export function check(form, draft) {
  const answers = answersOf(form, draft);
  const asked = relevance(form, answers);
  const vals = values(form, answers, asked);
  const errors = {};
  const fail = (qid, message) => (errors[qid] ||= []).push(message);
  for (const [qid, answer] of answers) {
    if (!asked.get(qid) || answer.na) continue;
    const problem = valueProblem(form.questions.get(qid), answer.value);
    if (problem) fail(qid, problem);
  }
  // A question whose relevance reads an invalid answer cannot be judged until that is fixed.
  const undecided = new Set(Object.keys(errors));
  for (const qid of form.order) {
    const expr = form.relevant.get(qid);
    if (expr && [...expr.references].some((ref) => undecided.has(ref))) undecided.add(qid);
  }
  for (const [qid, q] of form.questions) {
    if (undecided.has(qid) || !asked.get(qid)) continue;
    const answer = answers.get(qid);
    const given = Boolean(answer && (answer.value !== null || answer.na));
    const constraint = form.constraint.get(qid);
    if (constraint && given && !answer.na && ![...constraint.references].some((ref) => undecided.has(ref))
        && !constraint.holds(vals, answer.value)) {
      fail(qid, label(q.constraint.message) || t("required"));
    }
    if (q.required && !MEDIA_TYPES.includes(q.type) && q.type !== "note" && !given) fail(qid, t("required"));
    const raw = draft.answers?.[qid] || {};
    if (raw.note && codePoints(raw.note) > MAX_NOTE) fail(qid, t("too_long"));
    if ((draft.evidence?.[qid] || []).length > MAX_EVIDENCE) fail(qid, t("too_long"));
  }
  return { errors, asked };
}

/** Kinds of evidence the question takes (photo, video, audio). */
export function evidenceKinds(q) {
  const kinds = Object.entries(q.evidence || {}).filter(([, rule]) => rule && rule !== "none").map(([kind]) => kind);
  if (MEDIA_TYPES.includes(q.type) && !kinds.includes(q.type)) kinds.unshift(q.type);
  return kinds;
}

/** Kinds of evidence expected now but not attached (server/visits/checks.py: a flag, not a refusal). */
export function missingEvidence(q, value, attachedKinds) {
  const needed = { ...(q.evidence || {}) };
  if (MEDIA_TYPES.includes(q.type) && q.required) needed[q.type] = "required";
  const missing = [];
  for (const [kind, rule] of Object.entries(needed)) {
    let applies;
    if (rule.startsWith("required_when:")) {
      const wanted = rule.split(":").slice(1).join(":");
      applies = value === wanted || (Array.isArray(value) && value.includes(wanted));
    } else {
      applies = rule === "required";
    }
    if (applies && !attachedKinds.has(kind)) missing.push(kind);
  }
  return missing;
}

/** The answers of the visit body: asked questions only, typed values, evidence by SHA-256. */
export function bodyAnswers(form, draft, shaOf) {
  const answers = answersOf(form, draft);
  const asked = relevance(form, answers);
  const out = [];
  for (const [qid, q] of form.questions) {
    if (q.type === "note" || !asked.get(qid)) continue;
    const raw = draft.answers?.[qid] || {};
    const answer = answers.get(qid) || { value: null, na: false };
    const evidence = [...new Set((draft.evidence?.[qid] || []).map(shaOf).filter(Boolean))];
    const value = MEDIA_TYPES.includes(q.type) || answer.value === INVALID ? null : answer.value;
    const note = plain(raw.note).trim();
    const typed = q.type === "text" && typeof value === "string" ? plain(value) : value;
    if (value === null && !answer.na && !evidence.length && !note) continue;
    out.push({ question: qid, value: typed, not_applicable: answer.na, note, evidence });
  }
  return out;
}

/** How many asked, answerable questions there are and how many have an answer. */
export function progress(form, draft, asked) {
  const answers = answersOf(form, draft);
  let total = 0;
  let done = 0;
  for (const [qid, q] of form.questions) {
    if (q.type === "note" || MEDIA_TYPES.includes(q.type) || !asked.get(qid)) continue;
    total += 1;
    const a = answers.get(qid);
    if (a && (a.na || (a.value !== null && a.value !== INVALID))) done += 1;
  }
  return { total, done };
}
