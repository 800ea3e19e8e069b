// The function's own model (crates/planton-model), compiled to WebAssembly
// (crates/planton-model-wasm, built by scripts/build-wasm into lib/planton_model.wasm and
// shipped in the package): the construct's synth-time check and the nag pack's
// judgement are the function's code, not a port. Loaded synchronously at first use.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The module's file, next to this one (lib/ in the package; dist/lib/ in tests). */
export const MODEL_FILE = path.join(__dirname, 'planton_model.wasm');
/** The ABI this host speaks (crates/planton-model-wasm `ABI_VERSION`). */
export const MODEL_ABI = 1;
/** What stands for text only known at deploy time (the version answer's `unresolved`). */
export const UNRESOLVED = '\uE000';

/** The module's answer to `planton_version`. */
export interface ModelVersion {
  readonly version: string;
  readonly abi: number;
  readonly resource_type: string;
  readonly properties: string[];
  readonly ignored_properties: string[];
  readonly attributes: string[];
  readonly unresolved: string;
}

/** What a group of the app holds, as far as the host can tell. */
export interface KnownGroup {
  readonly ManagedPolicyArns?: string[];
  readonly Policies?: Record<string, unknown>;
}

/** A `planton_check` request (crates/planton-model/src/check.rs `Request`). */
export interface CheckRequest {
  /** The properties as the function receives them, unknown text as {@link UNRESOLVED}. */
  readonly Properties: unknown;
  /** The stack's partition, when known. */
  readonly Partition?: string;
  /** Customer managed policy documents by ARN, as the properties write the ARN. */
  readonly ManagedPolicies?: Record<string, unknown>;
  /** Groups by name. */
  readonly Groups?: Record<string, KnownGroup>;
  /**
   * Go on past the guardrails to the grants even when the guardrails refuse (the
   * function stops at the first stage that refuses). A property that breaks its own rule
   * still stops the check before both.
   */
  readonly EveryStage?: boolean;
}

/**
 * Which of the function's checks a refusal comes from, in the order it runs them
 * (crates/planton-model/src/check.rs `Stage`).
 */
export type CheckStage = 'properties' | 'fixed-text' | 'guardrails' | 'grants';

/** One refusal: the function's Reason says `property: rule`. */
export interface CheckFinding {
  readonly property: string;
  readonly rule: string;
  readonly stage: CheckStage;
  /**
   * The deployment setting that can lift the refusal (`PLANTON_DENIED_POLICY_ARNS`,
   * `PLANTON_ALLOW_PRIVILEGED_INLINE`, `PLANTON_TRUSTED_POLICY_ARNS`), or null when no
   * deployment accepts what is refused.
   */
  readonly lifted_by: string | null;
}

/** One grant of a judged document that lets its holder raise its own privilege. */
export interface JudgedGrant {
  readonly statement: number;
  readonly action: string;
  readonly resource: string;
  readonly text: string;
}

/** The judgement of one policy document. */
export interface Judged {
  /** What the function says of the document, null when it grants no escalation. */
  readonly escalation: string | null;
  readonly findings: JudgedGrant[];
}

/** `{"ok": ...}` or `{"error": "..."}`, as the module answers. */
export type Answer<T> = { ok: T; error?: undefined } | { ok?: undefined; error: string };

// Node's WebAssembly global, typed for what this file uses (lib "es2022" has no types for it).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer };
  planton_alloc(len: number): number;
  planton_free(ptr: number, len: number): void;
  planton_version(): bigint;
  planton_check(ptr: number, len: number): bigint;
  planton_judge(ptr: number, len: number): bigint;
}

let loaded: { wasm: Exports; version: ModelVersion } | undefined;

function load(): { wasm: Exports; version: ModelVersion } {
  if (loaded) return loaded;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(MODEL_FILE);
  } catch (e) {
    throw new Error(
      `planton-iam-user-cdk: cannot read the model's WebAssembly module ${MODEL_FILE} (${(e as Error).message}); in a checkout of the repository, run scripts/build-wasm`,
    );
  }
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as Exports;
  const version = unwrap(readAnswer<ModelVersion>(wasm, wasm.planton_version()), 'planton_version');
  if (version.abi !== MODEL_ABI || version.unresolved !== UNRESOLVED) {
    throw new Error(
      `planton-iam-user-cdk: ${MODEL_FILE} speaks ABI ${version.abi} (unresolved ${JSON.stringify(version.unresolved)}); this package speaks ABI ${MODEL_ABI}: rebuild it with scripts/build-wasm`,
    );
  }
  loaded = { wasm, version };
  return loaded;
}

function unwrap<T>(answer: Answer<T>, verb: string): T {
  if (answer.error !== undefined) throw new Error(`planton-iam-user-cdk: the model's ${verb} failed: ${answer.error}`);
  return answer.ok as T;
}

/** Reads and frees the answer packed as `(ptr << 32) | len`. */
function readAnswer<T>(wasm: Exports, packed: bigint): Answer<T> {
  const ptr = Number(packed >> 32n);
  const len = Number(packed & 0xffffffffn);
  const text = Buffer.from(wasm.memory.buffer, ptr, len).toString('utf8');
  wasm.planton_free(ptr, len);
  return JSON.parse(text) as Answer<T>;
}

/** Sends `request` as JSON to a verb; the request's buffer is freed after the call. */
function ask<T>(verb: 'planton_check' | 'planton_judge', request: unknown): Answer<T> {
  const { wasm } = load();
  // JSON.stringify writes a lone surrogate as an escape, which the model refuses as
  // invalid JSON ({"error"}), as the function's JSON reader would.
  const bytes = Buffer.from(JSON.stringify(request), 'utf8');
  const ptr = wasm.planton_alloc(bytes.length);
  try {
    new Uint8Array(wasm.memory.buffer, ptr, bytes.length).set(bytes);
    return readAnswer<T>(wasm, wasm[verb](ptr, bytes.length));
  } finally {
    wasm.planton_free(ptr, bytes.length);
  }
}

/** The module's version answer (loads it on first use). */
export function modelVersion(): ModelVersion {
  return load().version;
}

/**
 * Every refusal the function would answer these properties with under its default
 * settings, in its order (past the guardrails with `EveryStage`), or the model's error
 * when the request cannot be read.
 */
export function check(request: CheckRequest): Answer<CheckFinding[]> {
  return ask<CheckFinding[]>('planton_check', request);
}

/** The judgement of each document, in order. */
export function judge(documents: unknown[]): Judged[];
/** The judgement of each document, by name. */
export function judge(documents: Record<string, unknown>): Record<string, Judged>;
export function judge(documents: unknown[] | Record<string, unknown>): Judged[] | Record<string, Judged> {
  return unwrap(ask<Judged[] | Record<string, Judged>>('planton_judge', { Documents: documents }), 'planton_judge');
}

/** The raw answer to a request (the host-parity test compares it as the module gives it). */
export function askModel(verb: 'check' | 'judge', request: unknown): Answer<unknown> {
  return ask<unknown>(verb === 'check' ? 'planton_check' : 'planton_judge', request);
}
