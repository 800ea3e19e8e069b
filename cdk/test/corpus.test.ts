// The function's hostile-event corpus (tests/corpus/*.json, driven on the Rust side by
// tests/e2e/corpus.rs) drives these tests too, so the construct's synth-time checks and
// the function's run-time refusals cannot drift apart unnoticed.
//
// Each file is one raw Lambda event with an "_expect" block. For every case about the
// user's properties, the case's ResourceProperties are turned into construct props and
// the user is synthesized; what the construct says (its validation errors, its warnings
// of what a deployment setting lifts, and the findings of the PlantonIamUserChecks nag
// pack, which carries the function's policy judgement) must name everything the
// function's Reason names.
//
// Not checked, by rule:
//   - cases about the event itself (no usable ResponseURL, a missing RequestId, an
//     unreadable or malformed envelope or ResourceProperties): the construct never builds
//     an event; CloudFormation does.
//   - " [truncated]" in an expected Reason: the function cuts its Reason to fit
//     CloudFormation's 4 KB response; the construct's error is not a response.
// Not checked, by case (SKIPS below): properties the construct cannot express or cannot
// validate at synth time. Each is listed with why; a case that is skipped but not listed,
// or listed but no longer skipped, fails the suite.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { App, CfnResource, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { PlantonIamUser, PlantonIamUserChecks, PlantonIamUserProps } from '../lib';
import { CheckFinding } from '../lib/model';
import { TemplateReader } from '../lib/template';

const CORPUS = path.resolve(__dirname, '..', '..', '..', 'tests', 'corpus');
/** What the native model answers for each corpus event (tests/hosts/cases.json). */
const HOST_CASES: Record<string, { ok?: CheckFinding[] }> = JSON.parse(
  fs.readFileSync(path.resolve(CORPUS, '..', 'hosts', 'cases.json'), 'utf8'),
).check;

/** Cases whose properties the construct cannot express or check at synth, and why. */
const SKIPS: Record<string, string> = {
  '09-username-list.json':
    'UserName is a string prop: a list cannot be given (TypeScript and jsii refuse it before the construct runs)',
  '16-path-unresolved-intrinsic.json':
    'an intrinsic (Fn::Sub) as Path is, in CDK, a token: CloudFormation resolves it before the function sees it, so it is not checked at synth (the function refuses only an intrinsic that reaches it unresolved)',
  '23-boundary-role-arn.json':
    'the construct offers no permissionsBoundary: every user gets the deployment\'s boundary, which the function fills in',
  '34-inline-document-string-nested-200.json':
    'a JSON text nested 200 deep is not a policy document: iam.PolicyDocument cannot hold it',
  '35-inline-document-string-lone-surrogate.json':
    'a lone surrogate in a document the construct holds as an object: no JSON (the template\'s, the event\'s, the model\'s request) can carry it, so the construct refuses the properties as a whole ("cannot be sent to the function as JSON"), not InlinePolicies.p alone as the function does for this JSON text',
  '36-inline-policies-string-not-json.json':
    'inlinePolicies is a map of iam.PolicyDocument: a plain string cannot be given',
  '37-keyserial-object.json':
    'an intrinsic (Fn::GetAtt) as KeySerial is, in CDK, a token: resolved by CloudFormation, not checked at synth',
  '38-tags-number.json': 'tags is a map of strings: a number cannot be given',
  '40-keyserial-exponent.json':
    'accessKey.serial is a number: "1e3" cannot be written (the number 1000 renders as "1000", which the function accepts)',
  '41-keyserial-hex.json':
    'accessKey.serial is a number: "0x10" cannot be written (the number 16 renders as "16", which the function accepts)',
  '43-keystatus-trailing-space.json':
    'accessKey.status is an iam.AccessKeyStatus: only Active and Inactive can be written',
  '49-unknown-property-typo.json':
    'an unknown property: the construct renders only the properties it knows, so a misspelt one cannot reach the function (and userName is required by the type)',
  '50-unknown-property-256k-name.json':
    'an unknown property: the construct renders only the properties it knows, so it cannot reach the function',
};

/** A reason whose first entry is one of these is about the event, not the properties. */
const ENVELOPE = /^(Old)?ResourceProperties\b|^Request(Id|Type)\b|^StackId\b|^LogicalResourceId\b|^PhysicalResourceId\b|^ResponseURL\b|could not be read/;
/** The function's Reason cut to CloudFormation's response size: not a rule. */
const RESPONSE_ARTEFACTS = new Set(['[truncated]']);

interface Case {
  readonly file: string;
  readonly expect?: { answer: boolean; reason?: string[] };
  readonly stackId?: string;
  readonly properties?: unknown;
  readonly unreadable?: string;
}

function readCase(file: string): Case {
  let event: unknown;
  try {
    event = JSON.parse(fs.readFileSync(path.join(CORPUS, file), 'utf8'));
  } catch (e) {
    return { file, unreadable: (e as Error).message };
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return { file, unreadable: 'not a JSON object' };
  const e = event as Record<string, unknown>;
  return {
    file,
    expect: e._expect as Case['expect'],
    stackId: typeof e.StackId === 'string' ? e.StackId : undefined,
    properties: e.ResourceProperties,
  };
}

/** Why a case is not about the properties, or undefined when it is. */
function envelopeCase(c: Case): string | undefined {
  if (c.unreadable !== undefined) return `the event is not a readable JSON object (${c.unreadable})`;
  if (!c.expect || c.expect.answer === false) return 'no answer is expected: the case is about the ResponseURL';
  const first = c.expect.reason?.[0];
  if (first === undefined || ENVELOPE.test(first)) return `the function's reason is about the event (${first})`;
  if (c.properties === null || typeof c.properties !== 'object' || Array.isArray(c.properties)) {
    return 'ResourceProperties is not an object';
  }
  return undefined;
}

type Props = Omit<PlantonIamUserProps, 'serviceToken'>;

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v;
}

const canonicalInt = (v: unknown): number | undefined =>
  typeof v === 'string' && /^-?\d+$/.test(v) && String(Number(v)) === v ? Number(v) : undefined;

/**
 * The construct props that render these ResourceProperties, or why there are none.
 * Only values the construct's typed API can hold are mapped; anything else is a skip.
 */
function toProps(rp: Record<string, unknown>, stack: Stack): { props: Props } | { skip: string } {
  const props: Record<string, unknown> = {};
  const accessKey: Record<string, unknown> = {};
  const secret: Record<string, unknown> = {};
  let n = 0;
  const id = (p: string) => `${p}${n++}`;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  for (const [key, value] of Object.entries(rp)) {
    switch (key) {
      case 'ServiceToken':
        break;
      case 'ServiceTimeout': {
        const s = canonicalInt(value);
        if (s === undefined) return { skip: `ServiceTimeout ${JSON.stringify(value)} is not a whole number of seconds` };
        props.serviceTimeout = Duration.seconds(s);
        break;
      }
      case 'UserName':
      case 'Path':
        if (typeof value !== 'string') return { skip: `${key} is ${kind(value)}` };
        props[key === 'UserName' ? 'userName' : 'path'] = value;
        break;
      case 'ManagedPolicyArns':
        if (!strings(value)) return { skip: `${key} is not a list of strings` };
        props.managedPolicies = value.map((arn) => iam.ManagedPolicy.fromManagedPolicyArn(stack, id('Policy'), arn));
        break;
      case 'Groups':
        if (!strings(value)) return { skip: `${key} is not a list of strings` };
        props.groups = value.map((g) => iam.Group.fromGroupName(stack, id('Group'), g));
        break;
      case 'InlinePolicies': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return { skip: `${key} is ${kind(value)}` };
        const docs: Record<string, iam.PolicyDocument> = {};
        for (const [name, raw] of Object.entries(value)) {
          let doc = raw;
          if (typeof doc === 'string') {
            try {
              doc = JSON.parse(doc);
            } catch {
              return { skip: `InlinePolicies.${name} is not JSON` };
            }
          }
          if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return { skip: `InlinePolicies.${name} is ${kind(doc)}` };
          if (/\\ud[89a-f][0-9a-f]{2}/i.test(JSON.stringify(doc))) return { skip: `InlinePolicies.${name} holds a lone surrogate` };
          // A single Statement object is held (and rendered) as a list of one: the same
          // document to IAM and to the function.
          const d = doc as Record<string, unknown>;
          if (d.Statement !== null && typeof d.Statement === 'object' && !Array.isArray(d.Statement)) {
            doc = { ...d, Statement: [d.Statement] };
          }
          try {
            docs[name] = iam.PolicyDocument.fromJson(doc);
          } catch (e) {
            return { skip: `InlinePolicies.${name}: iam.PolicyDocument cannot hold it (${(e as Error).message})` };
          }
        }
        props.inlinePolicies = docs;
        break;
      }
      case 'Tags': {
        if (!Array.isArray(value)) return { skip: `${key} is ${kind(value)}` };
        const tags: Record<string, string> = {};
        for (const t of value) {
          if (t === null || typeof t !== 'object' || typeof t.Key !== 'string' || typeof t.Value !== 'string') {
            return { skip: 'a tag is not {Key, Value} strings' };
          }
          if (t.Key in tags) return { skip: `tag ${t.Key} is given twice with the same spelling: a map cannot hold it` };
          tags[t.Key] = t.Value;
        }
        props.tags = tags;
        break;
      }
      case 'DisableAccessKeys':
        if (value !== 'true' && value !== 'false') return { skip: `${key} ${JSON.stringify(value)} is not "true" or "false"` };
        accessKey.enabled = value === 'false';
        break;
      case 'KeySerial': {
        const s = canonicalInt(value);
        if (s === undefined) return { skip: `${key} ${JSON.stringify(value)} is not how a number renders` };
        accessKey.serial = s;
        break;
      }
      case 'RotationDays': {
        const d = canonicalInt(value);
        if (d === undefined || d < 0) return { skip: `${key} ${JSON.stringify(value)} is not a whole number of days` };
        accessKey.rotationInterval = Duration.days(d);
        break;
      }
      case 'KeyStatus':
        if (value !== iam.AccessKeyStatus.ACTIVE && value !== iam.AccessKeyStatus.INACTIVE) {
          return { skip: `${key} ${JSON.stringify(value)} is not an iam.AccessKeyStatus` };
        }
        accessKey.status = value;
        break;
      case 'SecretName':
        if (typeof value !== 'string') return { skip: `${key} is ${kind(value)}` };
        secret.name = value;
        break;
      case 'SecretKmsKeyId':
        if (typeof value !== 'string' || !value.startsWith('arn:')) return { skip: `${key} is not a key ARN` };
        secret.encryptionKey = kms.Key.fromKeyArn(stack, id('Key'), value);
        break;
      case 'AllowedSourceIps':
      case 'AllowedVpcEndpoints':
        if (!strings(value)) return { skip: `${key} is not a list of strings` };
        props[key === 'AllowedSourceIps' ? 'allowedSourceIps' : 'allowedVpcEndpoints'] = value;
        break;
      default:
        return { skip: `${key.slice(0, 40)} is not a property the construct renders` };
    }
  }
  if (typeof props.userName !== 'string') return { skip: 'no UserName: the construct requires one' };
  if (Object.keys(accessKey).length > 0) props.accessKey = accessKey;
  if (Object.keys(secret).length > 0) props.secret = secret;
  return { props: props as unknown as Props };
}

/** The stack the event's StackId names: its account and region (so its partition). */
function stackFor(stackId: string | undefined): Stack {
  const m = /^arn:[^:]+:cloudformation:([^:]+):(\d{12}):stack\//.exec(stackId ?? '');
  const env = m ? { region: m[1], account: m[2] } : undefined;
  return new Stack(new App(), 'Corpus', { env });
}

interface Said {
  /** Everything the construct says about the user: its errors, warnings and the nag pack's findings. */
  readonly all: string[];
  /** The construct's own synth-time errors, without CDK's construct path. */
  readonly construct: string[];
  /** Its warnings of what a setting lifts: `PlantonIamUser Property: rule [setting]`. */
  readonly warnings: string[];
  /** The properties it asked the model about. */
  readonly sent?: unknown;
}

function whatTheConstructSays(stack: Stack, props: Props): Said {
  const all: string[] = [];
  let user: PlantonIamUser;
  try {
    user = new PlantonIamUser(stack, 'User', { serviceToken: 'arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user', ...props });
  } catch (e) {
    return { all: [(e as Error).message], construct: [], warnings: [] };
  }
  const construct: string[] = [];
  try {
    Template.fromStack(stack);
  } catch (e) {
    const message = (e as Error).message;
    all.push(message);
    for (const line of message.split('\n')) {
      const m = /^\s*\[Corpus\/User\] (PlantonIamUser .*)$/.exec(line);
      if (m) construct.push(m[1]);
    }
  }
  // Added during validation, so there even when synthesis then fails.
  const warnings: string[] = [];
  for (const m of user.node.metadata) {
    if (m.type !== 'aws:cdk:warning') continue;
    all.push(String(m.data));
    const w = /^(PlantonIamUser .*) \(lifted by (PLANTON_[A-Z_]+): .*\) \[ack: .*\]$/.exec(String(m.data));
    if (w) warnings.push(`${w[1]} [${w[2]}]`);
  }
  const report = new PlantonIamUserChecks().validateScope(stack);
  for (const v of report.violations) all.push(`${v.ruleName}: ${v.description}`);
  const sent = new TemplateReader(stack).checkRequest(user.resource.node.defaultChild as CfnResource).Properties;
  return { all, construct, warnings, sent };
}

const files = fs
  .readdirSync(CORPUS)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('the function\'s event corpus (tests/corpus): the construct agrees', () => {
  it('has the corpus', () => {
    assert.ok(files.length >= 70, `${files.length} corpus files in ${CORPUS}`);
  });

  it('every listed skip is a corpus file', () => {
    const stale = Object.keys(SKIPS).filter((f) => !files.includes(f));
    assert.deepEqual(stale, [], 'SKIPS names files that are not in tests/corpus');
  });

  const cases = files.map(readCase);
  const envelopes = cases.map((c) => [c.file, envelopeCase(c)] as const).filter(([, why]) => why !== undefined);

  it('the cases about the event itself are not the construct\'s (it never builds an event)', (t) => {
    for (const [file, why] of envelopes) {
      assert.equal(SKIPS[file], undefined, `${file} is about the event (${why}); remove it from SKIPS`);
      t.diagnostic(`${file}: ${why}`);
    }
    assert.ok(envelopes.length < cases.length);
  });

  const exact: string[] = [];
  for (const c of cases) {
    if (envelopeCase(c) !== undefined) continue;
    const file = c.file;
    it(file, (t) => {
      const stack = stackFor(c.stackId);
      const mapped = toProps(c.properties as Record<string, unknown>, stack);
      if ('skip' in mapped) {
        assert.ok(
          SKIPS[file] !== undefined,
          `${file}: the construct cannot express these properties (${mapped.skip}); say why in SKIPS, or make the construct check it`,
        );
        t.skip(SKIPS[file]);
        return;
      }
      assert.equal(SKIPS[file], undefined, `${file} is listed in SKIPS but the construct can express it: check it`);
      const answer = whatTheConstructSays(stack, mapped.props);
      const said = answer.all.join('\n');
      // Where the construct renders the event's very properties, it says exactly what the
      // native model says of them (tests/hosts/cases.json), in the same order: an error for
      // what no setting lifts, a warning naming the setting for the rest. The function
      // stops at refusing guardrails; the construct goes on to the grants (EveryStage),
      // so then it says at least what the model says.
      const host = HOST_CASES[`tests/corpus/${file}`];
      if (host?.ok && isDeepStrictEqual(answer.sent, c.properties)) {
        exact.push(file);
        const line = (f: CheckFinding) => `PlantonIamUser ${f.property}: ${f.rule}`;
        const errors = host.ok.filter((f) => f.lifted_by === null).map(line);
        const warnings = host.ok.filter((f) => f.lifted_by !== null).map((f) => `${line(f)} [${f.lifted_by}]`);
        if (host.ok.some((f) => f.stage === 'guardrails')) {
          for (const e of errors) assert.ok(answer.construct.includes(e), `${file}: no error ${e}`);
          for (const w of warnings) assert.ok(answer.warnings.includes(w), `${file}: no warning ${w}`);
        } else {
          assert.deepEqual(answer.construct, errors, file);
          assert.deepEqual(answer.warnings, warnings, file);
        }
      }
      assert.ok(said.length > 0, `${file}: the function refuses (${c.expect!.reason!.join(' | ')}), the construct says nothing`);
      for (const part of c.expect!.reason!) {
        if (RESPONSE_ARTEFACTS.has(part)) continue;
        assert.ok(said.includes(part), `${file}: the function's reason names ${JSON.stringify(part)}; the construct said:\n${said.slice(0, 2000)}`);
      }
    });
  }

  it('renders most cases\' very properties, and then says exactly what the model says', (t) => {
    t.diagnostic(`${exact.length} cases compared with tests/hosts/cases.json`);
    assert.ok(exact.length >= 25, `${exact.length} cases rendered as the event has them`);
  });
});
