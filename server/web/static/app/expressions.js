// Checklist expressions (`relevant`, `constraint.expr`, `critical`): a port of
// server/forms/expressions.py with exactly the same semantics, pinned by
// survey_forms/expression_vectors.json (run in the browser tests). Never eval().
//
// Two places where JavaScript differs from Python and the port compensates:
// - positions are counted in code points (Python's str), not UTF-16 units;
// - strings order by code point, not by UTF-16 unit ('！' < '😀').

export const MAX_LENGTH = 2000;
export const MAX_DEPTH = 50;
const MAX_INTEGER = 2 ** 53 - 1;
const KEYWORDS = new Set(["and", "or", "not", "in", "true", "false", "null"]);
const FUNCTIONS = new Map([["selected", 2], ["count_selected", 1], ["answered", 1]]);
const CONSTANTS = new Map([["true", true], ["false", false], ["null", null]]);
const SPACE = new Set([" ", "\t", "\r", "\n"]);
const OPERATORS = ["==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",", "."];
const COMPARISONS = ["==", "!=", "<", "<=", ">", ">=", "in"];
const ESCAPES = new Set(["\\", "'", '"']);
const HINTS = { "=": " (use '==' to compare)", "!": " (use 'not' or '!=')", "&": " (use 'and')", "|": " (use 'or')" };
const POSTFIX = new Map([[".", "attribute access is not supported"], ["[", "indexing is not supported"],
  ["(", "only selected(), count_selected() and answered() can be called"]]);

const isDigit = (c) => c !== undefined && c >= "0" && c <= "9";
const isNameStart = (c) => c !== undefined && ((c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || c === "_");
const isNameChar = (c) => isNameStart(c) || isDigit(c);

export class ExpressionError extends Error {
  /** A malformed or over-limit expression; `position` is the 0-based code point offset. */
  constructor(message, position) {
    super(`${message} at ${position}`);
    this.reason = message;
    this.position = position;
  }
}

// ---- values ----------------------------------------------------------------------------------

/** Only boolean true is true; null, false, numbers, strings and lists are all false. */
export function truthy(value) {
  return value === true;
}

function kind(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return "number";
  if (typeof value === "string") return "string";
  if (Array.isArray(value)) return "list";
  return "other";
}

function equal(a, b, depth = 0) {
  const k = kind(a);
  if (k !== kind(b) || k === "other") return false;
  if (k === "list") {
    return depth < MAX_DEPTH && a.length === b.length && a.every((x, i) => equal(x, b[i], depth + 1));
  }
  if (k === "null") return true;
  return a === b;
}

/** Code point order, as Python compares strings. */
function compareStrings(a, b) {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(j);
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return (a.length - i > 0 ? 1 : 0) - (b.length - j > 0 ? 1 : 0);
}

function compare(op, a, b) {
  if (op === "==") return equal(a, b);
  if (op === "!=") return !equal(a, b);
  if (op === "in") return kind(b) === "list" ? b.some((item) => equal(a, item)) : null;
  const k = kind(a);
  if (k !== kind(b) || (k !== "number" && k !== "string")) return null;
  const c = k === "string" ? compareStrings(a, b) : (a < b ? -1 : a > b ? 1 : 0);
  return { "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0 }[op];
}

const finite = (value) => (typeof value === "number" && !Number.isFinite(value) ? null : value);

function arith(op, a, b) {
  if (kind(a) !== "number" || kind(b) !== "number" || (op === "/" && b === 0)) return null;
  if (op === "+") return finite(a + b);
  if (op === "-") return finite(a - b);
  if (op === "*") return finite(a * b);
  return finite(a / b);
}

function lookup(answers, id) {
  if (answers instanceof Map) return answers.has(id) ? answers.get(id) ?? null : null;
  return answers && Object.prototype.hasOwnProperty.call(answers, id) ? answers[id] ?? null : null;
}

function run(node, answers, current) {
  switch (node[0]) {
    case "const": return node[1];
    case "list": return node[1].slice();
    case "answer": return lookup(answers, node[1]);
    case "current": return current ?? null;
    case "not": return !truthy(run(node[1], answers, current));
    case "and": return node[1].every((n) => truthy(run(n, answers, current)));
    case "or": return node[1].some((n) => truthy(run(n, answers, current)));
    case "compare": return compare(node[1], run(node[2], answers, current), run(node[3], answers, current));
    case "arith": {
      let value = run(node[1], answers, current);
      for (const [op, operand] of node[2]) value = arith(op, value, run(operand, answers, current));
      return value;
    }
    case "neg": {
      const value = run(node[1], answers, current);
      return kind(value) === "number" ? finite(-value) : null;
    }
    default: return call(node[1], node[2].map((n) => run(n, answers, current)));
  }
}

function call(name, args) {
  const value = args[0];
  const isList = kind(value) === "list";
  if (name === "answered") return !(value === null || value === "" || (isList && value.length === 0));
  if (name === "count_selected") return isList ? value.length : (value === null ? 0 : 1);
  if (value === null) return false;
  return equal(value, args[1]) || (isList && value.some((item) => equal(item, args[1])));
}

// ---- tokenizer and parser ----------------------------------------------------------------------

function scanNumber(cps, i) {
  let j = i;
  while (isDigit(cps[j])) j += 1;
  if (j > i && cps[j] === "." && isDigit(cps[j + 1])) {
    j += 1;
    while (isDigit(cps[j])) j += 1;
  }
  const text = cps.slice(i, j).join("");
  if (!text || isNameChar(cps[j]) || cps[j] === ".") throw new ExpressionError("malformed number", i);
  const value = Number(text);
  if (text.includes(".") ? !Number.isFinite(value) : Math.abs(value) > MAX_INTEGER) {
    throw new ExpressionError("number out of range", i);
  }
  return [{ kind: "number", value, pos: i, text }, j];
}

function scanString(cps, i) {
  const quote = cps[i];
  const out = [];
  let j = i + 1;
  while (j < cps.length) {
    let c = cps[j];
    if (c === quote) return [{ kind: "string", value: out.join(""), pos: i, text: cps.slice(i, j + 1).join("") }, j + 1];
    if (c === "\\" && j + 1 < cps.length) {
      if (!ESCAPES.has(cps[j + 1])) throw new ExpressionError(`unknown escape '${cps[j]}${cps[j + 1]}'`, j);
      c = cps[j + 1];
      j += 1;
    }
    out.push(c);
    j += 1;
  }
  throw new ExpressionError("unterminated string", i);
}

function tokenize(cps) {
  const tokens = [];
  let i = 0;
  while (i < cps.length) {
    const c = cps[i];
    let token;
    if (SPACE.has(c)) {
      i += 1;
      continue;
    }
    if (isDigit(c) || (c === "." && isDigit(cps[i + 1]))) {
      [token, i] = scanNumber(cps, i);
    } else if (c === "'" || c === '"') {
      [token, i] = scanString(cps, i);
    } else if (isNameStart(c)) {
      let j = i + 1;
      while (isNameChar(cps[j])) j += 1;
      const word = cps.slice(i, j).join("");
      token = { kind: KEYWORDS.has(word) ? "keyword" : "name", value: word, pos: i, text: word };
      i = j;
    } else {
      const op = OPERATORS.find((o) => cps.slice(i, i + o.length).join("") === o);
      if (op === undefined) throw new ExpressionError(`unexpected character ${JSON.stringify(c)}${HINTS[c] || ""}`, i);
      token = { kind: "op", value: op, pos: i, text: op };
      i += op.length;
    }
    tokens.push(token);
  }
  tokens.push({ kind: "end", value: null, pos: cps.length, text: "" });
  return tokens;
}

function unexpected(token) {
  if (token.kind === "end") return new ExpressionError("unexpected end of expression", token.pos);
  const what = { name: `name '${token.text}'`, number: `number ${token.text}`, string: "string" }[token.kind];
  return new ExpressionError(`unexpected ${what || `'${token.text}'`}`, token.pos);
}

class Parser {
  constructor(cps) {
    this.tokens = tokenize(cps);
    this.index = 0;
    this.depth = 0;
    this.references = new Set();
    this.usesCurrent = false;
  }

  next() { return this.tokens[this.index]; }

  take() {
    const token = this.tokens[this.index];
    if (token.kind !== "end") this.index += 1;
    return token;
  }

  at(...values) {
    const token = this.tokens[this.index];
    return (token.kind === "op" || token.kind === "keyword") && values.includes(token.value);
  }

  expect(value) {
    if (!this.at(value)) throw unexpected(this.next());
    this.take();
  }

  enter(token) {
    this.depth += 1;
    if (this.depth > MAX_DEPTH) throw new ExpressionError(`nesting deeper than ${MAX_DEPTH}`, token.pos);
  }

  logic(word) {
    const operand = () => (word === "or" ? this.logic("and") : this.negation());
    const operands = [operand()];
    while (this.at(word)) {
      this.take();
      operands.push(operand());
    }
    return operands.length === 1 ? operands[0] : [word, operands];
  }

  negation() {
    if (!this.at("not")) return this.comparison();
    this.enter(this.take());
    const node = ["not", this.negation()];
    this.depth -= 1;
    return node;
  }

  comparison() {
    const left = this.arith("+-");
    if (!this.at(...COMPARISONS)) return left;
    const op = this.take().value;
    const right = this.arith("+-");
    if (this.at(...COMPARISONS)) throw new ExpressionError("comparisons cannot be chained (use 'and')", this.next().pos);
    return ["compare", op, left, right];
  }

  arith(ops) {
    const operand = () => (ops === "+-" ? this.arith("*/") : this.unary());
    const first = operand();
    const rest = [];
    while (this.at(...ops)) rest.push([this.take().value, operand()]);
    return rest.length ? ["arith", first, rest] : first;
  }

  unary() {
    if (!this.at("-")) return this.primary();
    this.enter(this.take());
    const node = ["neg", this.unary()];
    this.depth -= 1;
    return node;
  }

  primary() {
    const token = this.take();
    let node;
    if (token.kind === "number" || token.kind === "string") {
      node = ["const", token.value];
    } else if (token.kind === "keyword" && CONSTANTS.has(token.value)) {
      node = ["const", CONSTANTS.get(token.value)];
    } else if (token.kind === "name" && this.at("(")) {
      node = this.call(token);
    } else if (token.kind === "name") {
      this.references.add(token.value);
      node = ["answer", token.value];
    } else if (token.kind === "op" && token.value === ".") {
      this.usesCurrent = true;
      node = ["current"];
    } else if (token.kind === "op" && token.value === "(") {
      this.enter(token);
      node = this.logic("or");
      this.expect(")");
      this.depth -= 1;
    } else if (token.kind === "op" && token.value === "[") {
      node = ["list", this.listItems()];
    } else {
      throw unexpected(token);
    }
    if (this.at(...POSTFIX.keys())) throw new ExpressionError(POSTFIX.get(this.next().value), this.next().pos);
    return node;
  }

  call(name) {
    if (!FUNCTIONS.has(name.value)) throw new ExpressionError(`unknown function '${name.value}'`, name.pos);
    this.enter(name);
    this.take(); // "("
    const first = this.next();
    const args = [];
    if (!this.at(")")) {
      args.push(this.logic("or"));
      while (this.at(",")) {
        this.take();
        args.push(this.logic("or"));
      }
    }
    this.expect(")");
    this.depth -= 1;
    const arity = FUNCTIONS.get(name.value);
    if (args.length !== arity) {
      throw new ExpressionError(`${name.value}() takes ${arity} argument${arity > 1 ? "s" : ""}, got ${args.length}`, name.pos);
    }
    if (args[0][0] !== "answer" && args[0][0] !== "current") {
      throw new ExpressionError(`${name.value}() takes a question id or '.' first`, first.pos);
    }
    return ["call", name.value, args];
  }

  listItems() {
    const items = [];
    if (!this.at("]")) {
      items.push(this.literal());
      while (this.at(",")) {
        this.take();
        items.push(this.literal());
      }
    }
    this.expect("]");
    return items;
  }

  literal() {
    const token = this.take();
    if (token.kind === "op" && token.value === "-" && this.next().kind === "number") return -this.take().value;
    if (token.kind === "number" || token.kind === "string") return token.value;
    if (token.kind === "keyword" && CONSTANTS.has(token.value)) return CONSTANTS.get(token.value);
    if (token.kind === "name" || (token.kind === "op" && ["(", ".", "[", "-"].includes(token.value))) {
      throw new ExpressionError("list items must be literals", token.pos);
    }
    throw unexpected(token);
  }
}

/** Parse `source`; throws ExpressionError (with the code point offset) if it is not valid. */
export function parse(source) {
  if (typeof source !== "string") throw new TypeError("an expression is a string");
  const cps = Array.from(source);
  if (cps.length > MAX_LENGTH) throw new ExpressionError(`expression longer than ${MAX_LENGTH} characters`, MAX_LENGTH);
  const parser = new Parser(cps);
  const tree = parser.logic("or");
  if (parser.next().kind !== "end") throw unexpected(parser.next());
  return Object.freeze({
    source,
    references: parser.references,
    usesCurrent: parser.usesCurrent,
    /** The raw value: null, a boolean, a number, a string or a list; never throws. */
    evaluate: (answers, current = null) => run(tree, answers, current),
    /** The value as a condition: only boolean true holds. */
    holds: (answers, current = null) => truthy(run(tree, answers, current)),
  });
}
