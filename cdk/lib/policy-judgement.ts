// The function's policy judgement (crates/planton-model/src/judgement.rs), ported line for line so that
// an author learns at synth time what the deployed function will refuse. The data (the
// escalation table and the AWS managed policies it refuses) is generated from the
// function's own files (scripts/gen-policy-data.js); the tests run both the function's
// policy corpus (tests/policies) and its event corpus (tests/corpus) through this copy.
import {
  DEFAULT_DENIED_POLICY_ARNS,
  IAM_PERMISSIONS_MANAGEMENT,
  OTHER_ESCALATION,
  REFUSED_AWS_MANAGED_POLICIES,
  SPELLING,
} from './policy-data';

/** One reason to refuse a policy (crates/planton-model/src/judgement.rs `Finding`). */
interface Finding {
  readonly statement: number;
  readonly pattern: string;
  readonly action: string;
  readonly resource: string;
  readonly unreadable?: string;
}

const ANY_SERVICE_PROBE = 'planton-probe-no-such-service:planton-probe-no-such-action';
const ANY_IAM_PROBE = 'iam:planton-probe-no-such-action';
const PASS_ROLE = 'iam:passrole';
const PASSED_TO_SERVICE_OPERATORS = [
  'StringEquals',
  'StringEqualsIgnoreCase',
  'StringLike',
  'ForAnyValue:StringEquals',
  'ForAnyValue:StringEqualsIgnoreCase',
  'ForAnyValue:StringLike',
];
/** How many findings a refusal names (crates/planton-model/src/guardrails.rs `escalation`). */
const SHOWN_FINDINGS = 3;

class StatementError extends Error {}

/** serde_json's compact rendering of a value, as the function's messages quote it. */
function json(v: unknown): string {
  return JSON.stringify(v) ?? 'null';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function oneOrMany(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function display(f: Finding): string {
  if (f.unreadable !== undefined) {
    return `statement ${f.statement} could not be read (${f.unreadable}), so it counts as granting every action`;
  }
  let what: string;
  if (f.action === '*') {
    what = f.pattern.startsWith('NotAction ') ? 'every action it does not list' : 'every action';
  } else if (f.action === 'iam:*') {
    what = 'every IAM action';
  } else {
    what = f.action;
  }
  const asWritten = (text: string, prefix: string) => (text.startsWith(prefix) ? text : json(text));
  return `statement ${f.statement}: ${asWritten(f.pattern, 'NotAction ')} grants ${what} on ${asWritten(f.resource, 'NotResource ')}`;
}

/** Rust's `str::trim`: Unicode White_Space at both ends. */
function trim(s: string): string {
  return s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

function patterns(value: unknown, element: string): Array<[string, string]> {
  return oneOrMany(value).map((v) => {
    if (typeof v !== 'string') throw new StatementError(`${element} holds ${json(v)}, not a string`);
    const trimmed = trim(v);
    if (trimmed === '' || !/^[\x21-\x7e]+$/.test(trimmed)) {
      throw new StatementError(`${element} ${json(v)} is not an action name or pattern`);
    }
    return [v, trimmed.replace(/[A-Z]/g, (c) => c.toLowerCase())];
  });
}

interface Target {
  readonly text: string;
  readonly broad: boolean;
}

function targets(resource: unknown, notResource: unknown): Target[] {
  if (resource !== undefined && notResource !== undefined) throw new StatementError('it has both Resource and NotResource');
  if (resource === undefined && notResource === undefined) throw new StatementError('it has neither Resource nor NotResource');
  const [value, element] = resource !== undefined ? [resource, 'Resource'] : [notResource, 'NotResource'];
  const names: string[] = [];
  for (const v of oneOrMany(value)) {
    if (typeof v === 'string' && trim(v) !== '') {
      names.push(v);
    } else {
      throw new StatementError(`${element} holds ${json(v)}, not a resource name or pattern`);
    }
  }
  if (element === 'NotResource') return [{ text: `NotResource ${json(value)}`, broad: true }];
  return names.map((name) => ({ text: name, broad: !isSingleName(name) }));
}

function isSingleName(resource: string): boolean {
  return !/[*?]/.test(resource) && !resource.includes('${');
}

function limitsPassedToService(condition: unknown): boolean {
  if (!isObject(condition)) return false;
  return Object.entries(condition).some(([operator, block]) => {
    if (!PASSED_TO_SERVICE_OPERATORS.includes(operator) || !isObject(block)) return false;
    return Object.entries(block).some(
      ([key, value]) => key.toLowerCase() === 'iam:passedtoservice' && namesServices(value, operator.endsWith('StringLike')),
    );
  });
}

function namesServices(value: unknown, like: boolean): boolean {
  const values = oneOrMany(value);
  return (
    values.length > 0 &&
    values.every((v) => typeof v === 'string' && !v.includes('${') && !(like && /[*?]/.test(v)))
  );
}

/** IAM's action wildcards on lower-case ASCII: `*` any run, `?` one character. */
export function glob(pattern: string, text: string): boolean {
  let pi = 0;
  let ti = 0;
  let star: [number, number] | undefined;
  while (ti < text.length) {
    if (pi < pattern.length && (pattern[pi] === '?' || pattern[pi] === text[ti])) {
      pi++;
      ti++;
    } else if (pi < pattern.length && pattern[pi] === '*') {
      star = [pi, ti];
      pi++;
    } else if (star) {
      pi = star[0] + 1;
      ti = star[1] + 1;
      star = [star[0], star[1] + 1];
    } else {
      return false;
    }
  }
  return [...pattern.slice(pi)].every((c) => c === '*');
}

function spelling(action: string): string {
  return SPELLING.find((s) => s.toLowerCase() === action) ?? action;
}

function judgeStatement(index: number, st: unknown, push: (f: Finding) => void): void {
  if (!isObject(st)) throw new StatementError('it is not an object');
  const effect = st.Effect;
  if (effect === 'Deny') return;
  if (effect === undefined) throw new StatementError('it has no Effect');
  if (effect !== 'Allow') throw new StatementError(`Effect is ${json(effect)}, not "Allow" or "Deny"`);
  const ts = targets(st.Resource, st.NotResource);
  const grant = (pattern: string, action: string, anyResource: boolean) => {
    for (const t of ts.filter((x) => anyResource || x.broad)) {
      push({ statement: index, pattern, action, resource: t.text });
    }
  };
  const action = st.Action;
  const notAction = st.NotAction;
  if (action !== undefined && notAction !== undefined) throw new StatementError('it has both Action and NotAction');
  if (action === undefined && notAction === undefined) throw new StatementError('it has neither Action nor NotAction');
  if (notAction !== undefined) {
    patterns(notAction, 'NotAction');
    grant(`NotAction ${json(notAction)}`, '*', true);
    return;
  }
  const passedToService = limitsPassedToService(st.Condition);
  for (const [written, pattern] of patterns(action, 'Action')) {
    if (glob(pattern, ANY_SERVICE_PROBE)) {
      grant(written, '*', true);
    } else if (glob(pattern, ANY_IAM_PROBE)) {
      grant(written, 'iam:*', true);
    } else {
      for (const a of [...IAM_PERMISSIONS_MANAGEMENT, ...OTHER_ESCALATION]) {
        if (glob(pattern, a) && (a !== PASS_ROLE || !passedToService)) grant(written, spelling(a), false);
      }
    }
  }
}

/** Every finding, deduplicated, in document order (crates/planton-model/src/judgement.rs `judge_all`). */
function judgeAll(doc: unknown): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  const push = (f: Finding) => {
    const key = json([f.statement, f.pattern, f.action, f.resource, f.unreadable ?? null]);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(f);
    }
  };
  const unreadable = (statement: number, why: string): Finding => ({
    statement,
    pattern: '',
    action: '*',
    resource: '*',
    unreadable: why,
  });
  if (!isObject(doc)) {
    push(unreadable(0, 'the document is not a JSON object'));
    return out;
  }
  const st = doc.Statement;
  let statements: unknown[];
  if (st === undefined) {
    push(unreadable(0, 'the document has no Statement'));
    return out;
  } else if (Array.isArray(st)) {
    statements = st;
  } else if (isObject(st)) {
    statements = [st];
  } else {
    push(unreadable(0, 'Statement is neither an object nor a list'));
    return out;
  }
  statements.forEach((s, i) => {
    try {
      judgeStatement(i, s, push);
    } catch (e) {
      if (!(e instanceof StatementError)) throw e;
      push(unreadable(i, e.message));
    }
  });
  return out;
}

/**
 * What a policy document grants that lets its holder raise its own privilege, worded
 * as the function words it (crates/planton-model/src/guardrails.rs `escalation`), or undefined.
 * A document given as JSON text is parsed first, as the function does.
 */
export function escalation(document: unknown): string | undefined {
  let doc = document;
  if (typeof doc === 'string') {
    try {
      doc = JSON.parse(doc);
    } catch (e) {
      return `the policy document is not valid JSON: ${(e as Error).message}`;
    }
  }
  const findings = judgeAll(doc);
  if (findings.length === 0) return undefined;
  const shown = findings.slice(0, SHOWN_FINDINGS).map(display).join('; ');
  const rest = findings.length - SHOWN_FINDINGS;
  return rest > 0 ? `${shown} (and ${rest} more)` : shown;
}

/** Every finding, worded one per entry. */
export function findings(document: unknown): string[] {
  return judgeAll(document).map(display);
}

const REFUSED_BY_NAME = new Map(Object.entries(REFUSED_AWS_MANAGED_POLICIES).map(([k, v]) => [k.toLowerCase(), v]));

/**
 * Why the function refuses to attach this managed policy ARN under its default
 * configuration, worded as the function words it, or undefined when nothing is known
 * against it at synth time: the default denied list (PLANTON_DENIED_POLICY_ARNS), then
 * the AWS managed policies its judgement refuses (by name, whatever the path; IAM names
 * are case-insensitive). A customer managed policy is judged by its document where the
 * app declares it, not here.
 */
export function managedPolicyRefusal(arn: string): string | undefined {
  if (DEFAULT_DENIED_POLICY_ARNS.some((d) => d.toLowerCase() === arn.toLowerCase())) {
    return `${arn} may not be attached through this function (PLANTON_DENIED_POLICY_ARNS)`;
  }
  const m = /^arn:[^:]+:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn);
  const first = m ? REFUSED_BY_NAME.get(m[1].toLowerCase()) : undefined;
  return first === undefined ? undefined : `${arn}: ${first}`;
}
