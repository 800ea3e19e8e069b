#!/usr/bin/env python3
"""Writes the hostile-event corpus next to this script: one raw Lambda payload per file.

Run from anywhere: `python3 tests/corpus/generate.py`. The files are kept in the
repository; this script only exists so the huge and deeply nested ones (and the ones
whose raw text serde_json cannot read into a Value) are reproducible and reviewable.

Every file is raw event text as Lambda would deliver it. The literal RESPONSE_URL is
replaced by the test harness with a local listener URL. The top-level "_expect" field
(ignored by the function) tells tests/corpus.rs what must happen:
  {"answer": true, "reason": [...]}  one FAILED answer whose Reason contains each substring
  {"answer": false}                  no usable ResponseURL: invocation error, nothing PUT
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/corpus/11111111-2222-3333-4444-555555555555"
STACK_CN = "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/corpus/11111111-2222-3333-4444-555555555555"
TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user"
RO = "arn:aws:iam::aws:policy/ReadOnlyAccess"
MISSING = object()  # marks a field removed from the envelope


def answer(*reason):
    return {"answer": True, "reason": list(reason)}


NO_ANSWER = {"answer": False}


def event(nn, expect, props=None, **envelope):
    """A Create event for logical id CorpusNN; `props` become ResourceProperties (with
    the ServiceToken CloudFormation always adds) unless given raw via envelope."""
    e = {
        "_expect": expect,
        "RequestType": "Create",
        "RequestId": f"corpus-{nn}-request",
        "ResponseURL": "RESPONSE_URL",
        "StackId": STACK,
        "ResourceType": "Custom::PlantonIamUser",
        "LogicalResourceId": f"Corpus{nn}",
        "ServiceToken": TOKEN,
    }
    if props is not None:
        e["ResourceProperties"] = {"ServiceToken": TOKEN, **props}
    for k, v in envelope.items():
        if v is MISSING:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def doc(action, resource="*", effect="Allow"):
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": action, "Resource": resource}],
    }


def nested_arrays(depth, leaf='"corpus"'):
    return "[" * depth + leaf + "]" * depth


def nested_objects(depth, leaf='"corpus"'):
    return '{"a":' * depth + leaf + "}" * depth


def raw_event(nn, expect, props_text, request_type="Create", extra=""):
    """An event whose ResourceProperties is given as raw JSON text."""
    return (
        "{\n"
        f'  "_expect": {json.dumps(expect)},\n'
        f'  "RequestType": "{request_type}",\n'
        f'  "RequestId": "corpus-{nn}-request",\n'
        '  "ResponseURL": "RESPONSE_URL",\n'
        f'  "StackId": "{STACK}",\n'
        '  "ResourceType": "Custom::PlantonIamUser",\n'
        f'  "LogicalResourceId": "Corpus{nn}",\n'
        f'  "ServiceToken": "{TOKEN}",\n'
        f"{extra}"
        f'  "ResourceProperties": {props_text}\n'
        "}\n"
    )


# (short name, builder(nn) -> dict or raw str). Numbers follow the order of this list.
CASES = [
    # --- UserName ------------------------------------------------------------------
    ("username-too-long", lambda nn: event(nn, answer("UserName", "1-64", "65 characters"),
        {"UserName": f"corpus-{nn}-" + "x" * (65 - len(f"corpus-{nn}-"))})),
    ("username-slash", lambda nn: event(nn, answer("UserName", "letters, digits and +=,.@_-"),
        {"UserName": f"corpus-{nn}/admin"})),
    ("username-space", lambda nn: event(nn, answer("UserName", "letters, digits and +=,.@_-"),
        {"UserName": f"corpus {nn}"})),
    # Raw UTF-8 in the file (not \u escapes): a Cyrillic "а" posing as a Latin "a".
    ("username-unicode", lambda nn: json.dumps(event(nn, answer("UserName", "letters, digits and +=,.@_-"),
        {"UserName": f"corpus-{nn}-\u00fcs\u00e9r-\u0430dmin"}), indent=2, ensure_ascii=False) + "\n"),
    ("username-empty", lambda nn: event(nn, answer("UserName", "1-64", "0 characters"),
        {"UserName": ""})),
    ("username-arn", lambda nn: event(nn, answer("UserName", "letters, digits and +=,.@_-"),
        {"UserName": f"arn:aws:iam::123456789012:user/corpus-{nn}"})),
    ("username-nul", lambda nn: event(nn, answer("UserName", "letters, digits and +=,.@_-"),
        {"UserName": f"corpus-{nn}\u0000admin"})),
    ("username-1mb", lambda nn: event(nn, answer("UserName", "1-64"),
        {"UserName": f"corpus-{nn}-" + "a" * (1 << 20)})),
    ("username-list", lambda nn: event(nn, answer("UserName", "must be a string", "a list"),
        {"UserName": [f"corpus-{nn}"]})),
    ("username-lone-surrogate", lambda nn: raw_event(nn, answer("ResourceProperties", "could not be read"),
        '{"UserName": "corpus-' + nn + '-\\ud800"}')),
    ("username-duplicate-key", lambda nn: raw_event(nn, answer("UserName", "letters, digits"),
        '{"UserName": "corpus ' + nn + ' first", "UserName": "corpus/' + nn + '/last"}')),
    # --- Path ------------------------------------------------------------------------
    ("path-no-slashes", lambda nn: event(nn, answer("Path", "must be / or start and end with /"),
        {"UserName": f"corpus-{nn}-path", "Path": "service-accounts"})),
    ("path-empty-segment", lambda nn: event(nn, answer("Path", "no empty segment"),
        {"UserName": f"corpus-{nn}-path", "Path": "/service-accounts//ci/"})),
    ("path-space", lambda nn: event(nn, answer("Path", "printable ASCII"),
        {"UserName": f"corpus-{nn}-path", "Path": "/service accounts/"})),
    ("path-too-long", lambda nn: event(nn, answer("Path", "at most 512", "got 600"),
        {"UserName": f"corpus-{nn}-path", "Path": "/" + "p" * 598 + "/"})),
    ("path-unresolved-intrinsic", lambda nn: event(nn, answer("Path", "must be a string", "an object"),
        {"UserName": f"corpus-{nn}-path", "Path": {"Fn::Sub": "/${AWS::StackName}/"}})),
    # --- policy ARNs -----------------------------------------------------------------
    ("arn-wrong-partition", lambda nn: event(nn, answer("ManagedPolicyArns[0]", "partition", "aws-xx"),
        {"UserName": f"corpus-{nn}-arn", "ManagedPolicyArns": ["arn:aws-xx:iam::aws:policy/ReadOnlyAccess"]})),
    ("arn-wrong-service", lambda nn: event(nn, answer("ManagedPolicyArns[1]", "managed policy ARN"),
        {"UserName": f"corpus-{nn}-arn", "ManagedPolicyArns": [RO, "arn:aws:s3:::corpus-bucket/policy/x"]})),
    ("arn-11-digit-account", lambda nn: event(nn, answer("ManagedPolicyArns[0]", "managed policy ARN"),
        {"UserName": f"corpus-{nn}-arn", "ManagedPolicyArns": ["arn:aws:iam::12345678901:policy/corpus"]})),
    ("arn-role-not-policy", lambda nn: event(nn, answer("ManagedPolicyArns[0]", "managed policy ARN"),
        {"UserName": f"corpus-{nn}-arn", "ManagedPolicyArns": ["arn:aws:iam::123456789012:role/Admin"]})),
    ("arn-whitespace", lambda nn: event(nn, answer("ManagedPolicyArns[0]", "ManagedPolicyArns[1]", "managed policy ARN"),
        {"UserName": f"corpus-{nn}-arn", "ManagedPolicyArns": [" " + RO, RO + "\n"]})),
    ("arn-partition-not-the-stacks", lambda nn: event(nn, answer("ManagedPolicyArns[0]", "partition aws", "stack is in partition aws-cn"),
        {"UserName": f"corpus-{nn}-arn", "ManagedPolicyArns": [RO]}, StackId=STACK_CN)),
    ("boundary-role-arn", lambda nn: event(nn, answer("PermissionsBoundary", "managed policy ARN"),
        {"UserName": f"corpus-{nn}-arn", "PermissionsBoundary": "arn:aws:iam::123456789012:role/boundary"})),
    ("managed-administrator-access", lambda nn: event(nn, answer("ManagedPolicyArns", "AdministratorAccess", "may not be attached"),
        {"UserName": f"corpus-{nn}-admin", "ManagedPolicyArns": [RO, "arn:aws:iam::aws:policy/AdministratorAccess"]})),
    ("managed-power-user-lower-case", lambda nn: event(nn, answer("ManagedPolicyArns", "poweruseraccess", "may not be attached"),
        {"UserName": f"corpus-{nn}-admin", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/poweruseraccess"]})),
    # --- inline policies -------------------------------------------------------------
    ("inline-oversized", lambda nn: event(nn, answer("InlinePolicies", "at most 2048"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {
            "big": doc("s3:GetObject", [f"arn:aws:s3:::corpus-{nn}-{i:04}/*" for i in range(400)])}})),
    ("inline-oversized-string-256k", lambda nn: event(nn, answer("InlinePolicies", "at most 2048"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {
            "big": json.dumps(doc("s3:GetObject", "arn:aws:s3:::" + "b" * (256 << 10)))}})),
    ("inline-action-star", lambda nn: event(nn, answer("InlinePolicies.everything", "\"*\" grants every action", "PLANTON_ALLOW_PRIVILEGED_INLINE"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {"everything": doc("*")}})),
    ("inline-iam-star", lambda nn: event(nn, answer("InlinePolicies.self-service", "\"IAM:*\" grants every IAM action"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {"self-service": doc(
            ["s3:ListBucket", "IAM:*"], f"arn:aws:iam::123456789012:user/corpus-{nn}-inline")}})),
    ("inline-passrole-star", lambda nn: event(nn, answer("InlinePolicies.deploy", "grants iam:PassRole on \"*\""),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {"deploy": doc(["ecs:RunTask", "iam:PassRole"], ["*"])}})),
    ("inline-notaction", lambda nn: event(nn, answer("InlinePolicies.all-but-s3", "NotAction"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {"all-but-s3": {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}}}})),
    ("inline-escaped-star-in-json-string", lambda nn: raw_event(nn, answer("InlinePolicies.sneaky", "\"*\" grants every action"),
        '{"UserName": "corpus-' + nn + '-inline", "InlinePolicies": {"sneaky": '
        + json.dumps('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"\\u002a","Resource":"\\u002a"}}')
        + "}}")),
    ("inline-iam-double-star", lambda nn: event(nn, answer("InlinePolicies.self-service", "\"iam:**\" grants every IAM action"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {"self-service": doc(
            "iam:**", f"arn:aws:iam::123456789012:user/corpus-{nn}-inline")}})),
    ("inline-document-string-nested-200", lambda nn: event(nn, answer("InlinePolicies.deep", "recursion limit"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {"deep": nested_arrays(200)}})),
    ("inline-document-string-lone-surrogate", lambda nn: event(nn, answer("InlinePolicies.p", "not valid JSON"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": {
            "p": '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b\\ud800"}}'}})),
    ("inline-policies-string-not-json", lambda nn: event(nn, answer("InlinePolicies", "must be an object", "a string"),
        {"UserName": f"corpus-{nn}-inline", "InlinePolicies": "Allow everything, please"})),
    # --- wrong types and scalars -----------------------------------------------------
    ("keyserial-object", lambda nn: event(nn, answer("KeySerial", "must be a string", "an object"),
        {"UserName": f"corpus-{nn}-key", "KeySerial": {"Fn::GetAtt": ["Rotation", "Serial"]}})),
    ("tags-number", lambda nn: event(nn, answer("Tags", "list of {Key, Value}", "a number"),
        {"UserName": f"corpus-{nn}-tags", "Tags": 5})),
    ("keyserial-negative", lambda nn: event(nn, answer("KeySerial", "whole number", '"-1"'),
        {"UserName": f"corpus-{nn}-key", "KeySerial": "-1"})),
    ("keyserial-exponent", lambda nn: event(nn, answer("KeySerial", "whole number", '"1e3"'),
        {"UserName": f"corpus-{nn}-key", "KeySerial": "1e3"})),
    ("keyserial-hex", lambda nn: event(nn, answer("KeySerial", "whole number", '"0x10"'),
        {"UserName": f"corpus-{nn}-key", "KeySerial": "0x10"})),
    ("keyserial-number-out-of-range", lambda nn: raw_event(nn, answer("ResourceProperties", "number out of range"),
        '{"UserName": "corpus-' + nn + '-key", "KeySerial": 1e999}')),
    ("keystatus-trailing-space", lambda nn: event(nn, answer("KeyStatus", "Active or Inactive", '"ACTIVE "'),
        {"UserName": f"corpus-{nn}-key", "KeyStatus": "ACTIVE "})),
    ("secretname-spaces", lambda nn: event(nn, answer("SecretName", "letters, digits and /_+=.@-"),
        {"UserName": f"corpus-{nn}-secret", "SecretName": f"planton/iam-user/corpus {nn} keys"})),
    # --- tags and groups -------------------------------------------------------------
    ("tags-aws-prefix", lambda nn: event(nn, answer("Tags[1].Key", "aws: prefix is reserved"),
        {"UserName": f"corpus-{nn}-tags", "Tags": [{"Key": "team", "Value": "corpus"},
                                                    {"Key": "AWS:cloudformation:stack-name", "Value": "x"}]})),
    ("tags-too-many", lambda nn: event(nn, answer("Tags", "60 tags given", "at most 46"),
        {"UserName": f"corpus-{nn}-tags", "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(60)]})),
    ("tags-ten-thousand-bad", lambda nn: event(nn, answer("Tags", "10000 tags given", "[truncated]"),
        {"UserName": f"corpus-{nn}-tags", "Tags": [{"Key": f"aws:k{i}", "Value": "v"} for i in range(10000)]})),
    ("groups-case-duplicate", lambda nn: event(nn, answer("Groups[1]", "listed twice"),
        {"UserName": f"corpus-{nn}-groups", "Groups": ["Deployers", "DEPLOYERS"]})),
    # --- unknown properties ----------------------------------------------------------
    ("unknown-property-typo", lambda nn: event(nn, answer("UserNmae", "not a property", "did you mean UserName", "UserName: is required"),
        {"UserNmae": f"corpus-{nn}-typo"})),
    ("unknown-property-256k-name", lambda nn: event(nn, answer("not a property of Custom::PlantonIamUser"),
        {"UserName": f"corpus-{nn}-typo", "UserName" + "e" * (256 << 10): "x"})),
    # --- nesting beyond serde_json's recursion limit ---------------------------------
    ("nested-200-arrays-in-tags", lambda nn: raw_event(nn, answer("ResourceProperties", "recursion limit"),
        '{"UserName": "corpus-' + nn + '-nested", "Tags": ' + nested_arrays(200) + "}")),
    ("nested-5000-arrays-as-properties", lambda nn: raw_event(nn, answer("ResourceProperties", "recursion limit"),
        nested_arrays(5000))),
    ("nested-5000-objects-in-inline-policy", lambda nn: raw_event(nn, answer("ResourceProperties", "recursion limit"),
        '{"UserName": "corpus-' + nn + '-nested", "InlinePolicies": {"deep": ' + nested_objects(5000) + "}}")),
    ("nested-old-properties-on-update", lambda nn: raw_event(nn, answer("OldResourceProperties", "recursion limit"),
        '{"UserName": "corpus-' + nn + '-nested"}', request_type="Update",
        extra=f'  "PhysicalResourceId": "corpus-{nn}-nested",\n'
              '  "OldResourceProperties": {"UserName": ' + nested_arrays(1000) + "},\n")),
    # --- the envelope ----------------------------------------------------------------
    ("requestid-lone-surrogate", lambda nn: raw_event(nn, answer("RequestId", "could not be read"),
        '{"UserName": "corpus-' + nn + '-envelope"}').replace(
            f'"corpus-{nn}-request"', '"corpus-' + nn + '-\\udc00"')),
    # The ResponseURL is readable, so this must be answered like an unreadable value is.
    # The UserName is invalid too, so even a fix that skips the key creates nothing.
    ("top-level-key-lone-surrogate", lambda nn: raw_event(nn, answer("could not be read"),
        '{"UserName": "corpus ' + nn + ' envelope"}', extra='  "X-\\ud83d": true,\n')),
    ("duplicate-requesttype", lambda nn: raw_event(nn, answer("RequestType", "Upsert"),
        '{"UserName": "corpus-' + nn + '-envelope"}',
        extra='  "RequestType": "Upsert",\n').replace('"RequestType": "Create"', '"RequestType": "Delete"')),
    ("missing-requestid", lambda nn: event(nn, answer("RequestId is missing"),
        {"UserName": f"corpus-{nn}-envelope"}, RequestId=MISSING)),
    ("missing-stackid", lambda nn: event(nn, answer("StackId is missing"),
        {"UserName": f"corpus-{nn}-envelope"}, StackId=MISSING)),
    ("missing-logicalresourceid", lambda nn: event(nn, answer("LogicalResourceId is missing"),
        {"UserName": f"corpus-{nn}-envelope"}, LogicalResourceId=MISSING)),
    ("missing-requesttype", lambda nn: event(nn, answer("RequestType is missing"),
        {"UserName": f"corpus-{nn}-envelope"}, RequestType=MISSING)),
    ("missing-resourceproperties-on-create", lambda nn: event(nn, answer("ResourceProperties", "missing", "UserName is required"))),
    ("resourceproperties-string", lambda nn: event(nn, answer("ResourceProperties", "must be an object", "a string"),
        ResourceProperties=f"UserName=corpus-{nn}-props")),
    ("resourceproperties-list", lambda nn: event(nn, answer("ResourceProperties", "must be an object", "a list"),
        ResourceProperties=[{"UserName": f"corpus-{nn}-props"}])),
    ("resourceproperties-number", lambda nn: event(nn, answer("ResourceProperties", "must be an object", "a number"),
        ResourceProperties=42)),
    ("resourceproperties-null", lambda nn: event(nn, answer("ResourceProperties", "missing"),
        ResourceProperties=None)),
    ("requesttype-upsert", lambda nn: event(nn, answer("RequestType", "Upsert", "not Create, Update or Delete"),
        {"UserName": f"corpus-{nn}-envelope"}, RequestType="Upsert")),
    ("requesttype-lower-case-create", lambda nn: event(nn, answer("RequestType", '"create"', "not Create, Update or Delete"),
        {"UserName": f"corpus-{nn}-envelope"}, RequestType="create")),
    ("update-without-physical-id", lambda nn: event(nn, answer("PhysicalResourceId is missing"),
        {"UserName": f"corpus-{nn}-envelope"}, RequestType="Update",
        OldResourceProperties={"ServiceToken": TOKEN, "UserName": f"corpus-{nn}-envelope"})),
    # --- nobody to answer ------------------------------------------------------------
    ("no-response-url", lambda nn: event(nn, NO_ANSWER, {"UserName": f"corpus-{nn}-nobody"}, ResponseURL=MISSING)),
    ("response-url-ftp", lambda nn: event(nn, NO_ANSWER, {"UserName": f"corpus-{nn}-nobody"},
        ResponseURL="ftp://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x")),
    ("response-url-number", lambda nn: event(nn, NO_ANSWER, {"UserName": f"corpus-{nn}-nobody"}, ResponseURL=443)),
    ("event-is-an-array", lambda nn: json.dumps([event(nn, NO_ANSWER, {"UserName": f"corpus-{nn}-nobody"})], indent=2) + "\n"),
    ("event-is-a-string", lambda nn: json.dumps(json.dumps(event(nn, NO_ANSWER, {"UserName": f"corpus-{nn}-nobody"}))) + "\n"),
]


def render(value):
    if isinstance(value, str):
        return value
    text = json.dumps(value, indent=2)
    if len(text) > 64 << 10:
        text = json.dumps(value, separators=(",", ":"))
    return text + "\n"


def main():
    for old in os.listdir(HERE):
        if old.endswith(".json"):
            os.remove(os.path.join(HERE, old))
    for i, (name, build) in enumerate(CASES, start=1):
        nn = f"{i:02}"
        text = render(build(nn))
        with open(os.path.join(HERE, f"{nn}-{name}.json"), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"{len(CASES)} events written to {HERE}", file=sys.stderr)


if __name__ == "__main__":
    main()
