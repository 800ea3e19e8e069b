#!/usr/bin/env python3
"""Proves what the organization deployment promises (docs/operations.md, "From one
account to an organization"), with the template test's own reader and IAM evaluator
(tests/template/test_template.py, imported as scripts/gen-escalation-report does):

- the central bus (templates/central-security.yaml) admits events:PutEvents from the
  organization only: a principal of the organization may, one of another organization
  or of none may not, and nothing else is granted;
- its rules route every Planton detail-type the source defines
  (crates/planton-model/src/events.rs) to SNS and SQS (with a dead-letter queue), and
  every Planton event and every audit summary to the inventory log group;
- template.yaml's forwarding role may only events:PutEvents on the bus
  CentralEventBusArn names, only EventBridge of the same account may assume it, and
  the two forwarding rules exist only when the parameter is set;
- the StackSet files (templates/stackset-*.json) name only parameters template.yaml
  has, with values its constraints accept, service-managed permissions, automatic
  deployment, the delegated administrator, no macro capability, and one region.

Run: .venv/bin/python tests/template/test_org.py
Prints "org: N checks passed, M failed".
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tt = _load("planton_template_test", ROOT / "tests" / "template" / "test_template.py")

CENTRAL = ROOT / "templates" / "central-security.yaml"
MEMBER = ROOT / "template.yaml"
ORG = "o-exampleorg1"
OTHER_ORG = "o-otherorgid2"
CENTRAL_BUS = "arn:aws:events:us-east-1:111122223333:event-bus/planton-security"


def read(path: Path) -> dict:
    template, matches = tt.decode_str(path.read_text())
    if matches:
        raise SystemExit(f"{path}: cannot be read: {matches}")
    return template


def detail_types_in_source() -> set[str]:
    text = (ROOT / "crates" / "planton-model" / "src" / "events.rs").read_text()
    return set(re.findall(r'Kind::\w+ => "(Planton [^"]+)"', text))


def source_in_source() -> str:
    text = (ROOT / "crates" / "planton-model" / "src" / "events.rs").read_text()
    return re.search(r'pub const SOURCE: &str = "([^"]+)";', text).group(1)


def principal_matches(st: dict, principal: dict) -> bool:
    """principal: {"AWS": arn} or {"Service": name}; "*" matches every principal."""
    p = st.get("Principal")
    if p == "*":
        return True
    for kind, want in principal.items():
        if want in tt.as_list((p or {}).get(kind, [])):
            return True
    return False


def resource_policy_decides(sts: list[dict], principal: dict, action: str, resource: str,
                            context: dict) -> str:
    # A trust policy names no resource: it is the role's own.
    sts = [s if "Resource" in s or "NotResource" in s else {**s, "Resource": "*"} for s in sts]
    return tt.decide([s for s in sts if principal_matches(s, principal)], action, resource,
                     context)


class CentralBus(tt.Checks):
    def setUp(self) -> None:
        super().setUp()
        self.s = tt.Stack(read(CENTRAL), OrganizationId=ORG)

    def test_only_the_organization_may_put_events(self) -> None:
        policy = self.s.resource("BusPolicy")
        st = policy["Statement"]
        sts = tt.as_list(st)
        bus = "{Bus.Arn}"
        self.check(policy["EventBusName"] == "{Ref Bus}", "the policy is on the central bus",
                   policy["EventBusName"])
        self.check(len(sts) == 1 and st["Effect"] == "Allow"
                   and tt.as_list(st["Action"]) == ["events:PutEvents"]
                   and tt.as_list(st["Resource"]) == [bus],
                   "one Allow: events:PutEvents on the bus, nothing else", st)
        self.check(st.get("Condition") == {"StringEquals": {"aws:PrincipalOrgID": ORG}},
                   "its only condition is aws:PrincipalOrgID = the organization",
                   st.get("Condition"))
        member_role = {"AWS": "arn:aws:iam::444455556666:role/planton-iam-user/fwd"}
        outsider = {"AWS": "arn:aws:iam::777788889999:role/attacker"}
        cases = [
            ("a member account's forwarding role", member_role, "events:PutEvents", bus,
             {"aws:PrincipalOrgID": ORG}, "Allow"),
            ("a principal of another organization", outsider, "events:PutEvents", bus,
             {"aws:PrincipalOrgID": OTHER_ORG}, "Implicit"),
            ("a principal of an account in no organization (or one that left)", outsider,
             "events:PutEvents", bus, {}, "Implicit"),
            ("an anonymous caller", {"AWS": "*"}, "events:PutEvents", bus, {}, "Implicit"),
            ("the organization, on another bus",
             member_role, "events:PutEvents",
             "arn:aws:events:us-east-1:111122223333:event-bus/default",
             {"aws:PrincipalOrgID": ORG}, "Implicit"),
            ("the organization, changing a rule", member_role, "events:PutRule", bus,
             {"aws:PrincipalOrgID": ORG}, "Implicit"),
            ("the organization, adding a target", member_role, "events:PutTargets", bus,
             {"aws:PrincipalOrgID": ORG}, "Implicit"),
        ]
        for what, principal, action, resource, ctx, want in cases:
            got = resource_policy_decides(sts, principal, action, resource, ctx)
            self.check(got == want, f"{what}: {action} is {want}", got)

    def test_every_planton_detail_type_reaches_sns_and_sqs(self) -> None:
        types = detail_types_in_source()
        self.check(len(types) >= 7, "the source's detail-types were found", sorted(types))
        rule = self.s.resource("KeyEventsRule")
        pattern = rule["EventPattern"]
        self.check(rule["EventBusName"] == "{Ref Bus}", "the key-events rule is on the bus")
        self.check(pattern.get("source") == [source_in_source()],
                   "it matches the source the function sends", pattern.get("source"))
        self.check(set(pattern.get("detail-type", [])) == types,
                   "its detail-types are exactly the source's",
                   set(pattern.get("detail-type", [])) ^ types)
        arns = {t["Id"]: t for t in rule["Targets"]}
        self.check(arns["key-events-topic"]["Arn"] == "{Ref KeyEventsTopic}", "SNS target")
        self.check(arns["key-events-queue"]["Arn"] == "{KeyEventsQueue.Arn}", "SQS target")
        for t in rule["Targets"]:
            self.check(t.get("DeadLetterConfig", {}).get("Arn") == "{KeyEventsDeadLetterQueue.Arn}",
                       f"{t['Id']}: undeliverable events go to the dead-letter queue")
            self.check("RoleArn" not in t, f"{t['Id']}: resource policy, no role")
        queue = self.s.resource("KeyEventsQueue")
        self.check(queue["RedrivePolicy"]["deadLetterTargetArn"] == "{KeyEventsDeadLetterQueue.Arn}",
                   "the queue redrives to the dead-letter queue")
        # Only the rule may write to the topic and the queues.
        topic = tt.statements(self.s.resource("KeyEventsTopicPolicy")["PolicyDocument"])
        queues = tt.statements(self.s.resource("KeyEventsQueuePolicy")["PolicyDocument"])
        events = {"Service": "events.amazonaws.com"}
        for name, sts, action, res in [
            ("topic", topic, "sns:Publish", "{Ref KeyEventsTopic}"),
            ("queue", queues, "sqs:SendMessage", "{KeyEventsQueue.Arn}"),
            ("dead-letter queue", queues, "sqs:SendMessage", "{KeyEventsDeadLetterQueue.Arn}"),
        ]:
            ok = resource_policy_decides(sts, events, action, res,
                                         {"aws:SourceArn": "{KeyEventsRule.Arn}"})
            other = resource_policy_decides(
                sts, events, action, res,
                {"aws:SourceArn": "arn:aws:events:us-east-1:111122223333:rule/other"})
            self.check(ok == "Allow" and other == "Implicit",
                       f"the {name} takes {action} from the key-events rule only", (ok, other))

    def test_the_inventory_keeps_every_event_and_every_audit_summary(self) -> None:
        events = self.s.resource("EventsToInventoryRule")
        audits = self.s.resource("AuditsToInventoryRule")
        group = "arn:aws:logs:us-east-1:123456789012:log-group:{Ref InventoryLogGroup}"
        self.check(events["EventPattern"] == {"source": [source_in_source()]},
                   "every Planton event, whatever its detail-type", events["EventPattern"])
        self.check(audits["EventPattern"]["detail"]["responsePayload"]["record"]
                   == ["planton.audit.summary"], "the audit's summary record")
        for rule in (events, audits):
            self.check([t["Arn"] for t in rule["Targets"]] == [group],
                       f"{rule['Name']} writes to the inventory log group", rule["Targets"])
        doc = json.loads(self.s.resource("InventoryLogGroupPolicy")["PolicyDocument"])
        sources = tt.as_list(doc["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"])
        for rule in (events, audits):
            arn = f"arn:aws:events:us-east-1:123456789012:rule/planton-security/{rule['Name']}"
            self.check(arn in sources, f"the log group's policy admits {rule['Name']}", sources)
        queries = [r for r, v in self.s.t["Resources"].items()
                   if v["Type"] == "AWS::Logs::QueryDefinition"]
        self.check(len(queries) >= 4, "saved Logs Insights queries", queries)
        for q in queries:
            props = self.s.resource(q)
            self.check(props["LogGroupNames"] == ["{Ref InventoryLogGroup}"]
                       and props["Name"].startswith("planton/"),
                       f"{q} queries the inventory log group", props["LogGroupNames"])


class ForwardingRole(tt.Checks):
    def setUp(self) -> None:
        super().setUp()
        self.t = read(MEMBER)

    def test_nothing_leaves_the_account_by_default(self) -> None:
        s = tt.Stack(self.t)
        for r in ("CentralForwardRole", "CentralForwardRule", "CentralAuditForwardRule"):
            self.check(not s.exists(r), f"{r} is not created without CentralEventBusArn")

    def test_only_put_events_on_the_named_bus(self) -> None:
        s = tt.Stack(self.t, CentralEventBusArn=CENTRAL_BUS)
        self.check(not s.rule_failures(), "the template's Rules accept it", s.rule_failures())
        role = s.resource("CentralForwardRole")
        sts = [st for doc in role.get("Policies", []) for st in tt.statements(doc["PolicyDocument"])]
        self.check(not role.get("ManagedPolicyArns") and len(sts) == 1,
                   "one inline statement, no managed policy", role.get("ManagedPolicyArns"))
        self.check(all(st["Effect"] == "Allow" and tt.as_list(st["Action"]) == ["events:PutEvents"]
                       and tt.as_list(st["Resource"]) == [CENTRAL_BUS] for st in sts),
                   "events:PutEvents on the central bus only", sts)
        self.check(role["Path"] == "/planton-iam-user/",
                   "at the deployment's role path (the default boundary denies users it)")
        requests = [
            ("events:PutEvents", CENTRAL_BUS, "Allow"),
            ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default", "Implicit"),
            ("events:PutEvents", "arn:aws:events:us-east-1:111122223333:event-bus/other", "Implicit"),
            ("events:PutRule", CENTRAL_BUS, "Implicit"),
            ("events:PutTargets", CENTRAL_BUS, "Implicit"),
            ("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/service-accounts/x", "Implicit"),
            ("sts:AssumeRole", "arn:aws:iam::111122223333:role/anything", "Implicit"),
            ("secretsmanager:GetSecretValue", "*", "Implicit"),
        ]
        for action, resource, want in requests:
            got = tt.decide(sts, action, resource)
            self.check(got == want, f"{action} on {resource} is {want}", got)
        trust = tt.statements(role["AssumeRolePolicyDocument"])
        self.check(len(trust) == 1 and trust[0]["Principal"] == {"Service": "events.amazonaws.com"}
                   and trust[0]["Action"] == "sts:AssumeRole",
                   "only EventBridge may assume it", trust)
        events = {"Service": "events.amazonaws.com"}
        role_arn = "{CentralForwardRole.Arn}"
        mine = resource_policy_decides(trust, events, "sts:AssumeRole", role_arn,
                                       {"aws:SourceAccount": tt.ACCOUNT})
        theirs = resource_policy_decides(trust, events, "sts:AssumeRole", role_arn,
                                         {"aws:SourceAccount": "777788889999"})
        user = resource_policy_decides(trust, {"AWS": f"arn:aws:iam::{tt.ACCOUNT}:root"},
                                       "sts:AssumeRole", role_arn, {})
        self.check((mine, theirs, user) == ("Allow", "Implicit", "Implicit"),
                   "EventBridge of this account only (aws:SourceAccount)", (mine, theirs, user))
        # The role is used by the two forwarding rules and by nothing else.
        users = sorted(r for r, v in self.t["Resources"].items()
                       if "CentralForwardRole" in json.dumps(v) and r != "CentralForwardRole")
        self.check(users == ["CentralAuditForwardRule", "CentralForwardRule"],
                   "only the forwarding rules use the role", users)

    def test_the_rules_forward_every_planton_event_and_the_audit_summary(self) -> None:
        s = tt.Stack(self.t, CentralEventBusArn=CENTRAL_BUS)
        central = tt.Stack(read(CENTRAL), OrganizationId=ORG)
        fwd = s.resource("CentralForwardRule")
        self.check(fwd["EventPattern"] == {"source": [source_in_source()]},
                   "every Planton event, whatever its detail-type", fwd["EventPattern"])
        self.check(fwd["EventBusName"] == "default", "from the bus the function publishes to")
        audit = s.resource("CentralAuditForwardRule")
        self.check("EventBusName" not in audit,
                   "audit summaries from the default bus (where AuditResults sends them)")
        self.check(audit["EventPattern"]["detail"]
                   == central.resource("AuditsToInventoryRule")["EventPattern"]["detail"],
                   "the summary the central inventory rule matches", audit["EventPattern"])
        for rule in (fwd, audit):
            self.check(rule["Targets"] == [{"Id": "central-security-bus", "Arn": CENTRAL_BUS,
                                            "RoleArn": "{CentralForwardRole.Arn}"}],
                       f"{rule['Name']}: one target, the central bus, with the role",
                       rule["Targets"])
        quiet = tt.Stack(self.t, CentralEventBusArn=CENTRAL_BUS, EventBusName="none")
        self.check(not quiet.exists("CentralForwardRule")
                   and quiet.exists("CentralAuditForwardRule"),
                   "EventBusName none: no key events to forward, audit summaries still")

    def test_the_parameter_accepts_a_bus_arn_only(self) -> None:
        pattern = re.compile(self.t["Parameters"]["CentralEventBusArn"]["AllowedPattern"])
        good = ["", CENTRAL_BUS,
                "arn:aws-us-gov:events:us-gov-west-1:111122223333:event-bus/sec.bus_1"]
        bad = ["arn:aws:events:us-east-1:111122223333:rule/planton-security",
               "arn:aws:events:us-east-1:*:event-bus/planton-security",
               "arn:aws:events:us-east-1:111122223333:event-bus/*",
               "arn:aws:sqs:us-east-1:111122223333:queue", "planton-security"]
        for v in good:
            self.check(pattern.fullmatch(v) is not None, f"accepts {v!r}")
        for v in bad:
            self.check(pattern.fullmatch(v) is None, f"refuses {v!r}")


def parameter_accepts(p: dict, value: str) -> bool:
    if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], value):
        return False
    if "AllowedValues" in p and value not in [str(v) for v in p["AllowedValues"]]:
        return False
    if p.get("Type") == "Number":
        n = float(value)
        if "MinValue" in p and n < float(p["MinValue"]):
            return False
        if "MaxValue" in p and n > float(p["MaxValue"]):
            return False
    return True


class StackSet(tt.Checks):
    def setUp(self) -> None:
        super().setUp()
        self.t = read(MEMBER)
        d = ROOT / "templates"
        self.params = json.loads((d / "stackset-parameters.json").read_text())
        self.create = json.loads((d / "stackset-create.json").read_text())
        self.instances = json.loads((d / "stackset-instances.json").read_text())

    def test_parameters_are_the_templates_and_valid(self) -> None:
        declared = self.t["Parameters"]
        values = {p["ParameterKey"]: p["ParameterValue"] for p in self.params}
        self.check(len(values) == len(self.params), "each parameter once")
        for k, v in values.items():
            self.check(k in declared, f"{k} is a parameter of template.yaml")
            if k in declared:
                self.check(parameter_accepts(declared[k], v), f"{k}={v!r} is accepted")
        s = tt.Stack(self.t, **values)
        self.check(not s.rule_failures(), "the template's Rules accept them", s.rule_failures())
        self.check(s.condition("ForwardsKeyEvents") and s.condition("AuditEnabled"),
                   "every member forwards to the central bus and runs the audit")

    def test_service_managed_auto_deployed_by_the_delegated_administrator(self) -> None:
        c = self.create
        self.check(c.get("PermissionModel") == "SERVICE_MANAGED", "service-managed permissions")
        # An account that leaves keeps its stack (its secrets' rotation function and the
        # ServiceToken its stacks import), now outside the stack set.
        self.check(c.get("AutoDeployment") == {"Enabled": True,
                                               "RetainStacksOnAccountRemoval": True},
                   "new accounts of the OUs get it; an account that leaves keeps it",
                   c.get("AutoDeployment"))
        self.check(c.get("CallAs") == "DELEGATED_ADMIN"
                   and self.instances.get("CallAs") == "DELEGATED_ADMIN",
                   "run from the delegated administrator account")
        # Service-managed stack sets do not run macros (AWS::Serverless included): the
        # stack set gets the processed template, and needs no CAPABILITY_AUTO_EXPAND.
        self.check(c.get("Capabilities") == ["CAPABILITY_IAM"], "CAPABILITY_IAM only",
                   c.get("Capabilities"))
        # What CAPABILITY_NAMED_IAM is for: an IAM entity created under a chosen name
        # (a RolePolicy's RoleName only names the role it attaches to).
        naming = {"AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
                  "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
                  "AWS::IAM::InstanceProfile": "InstanceProfileName"}
        named = [r for r, v in self.t["Resources"].items()
                 if naming.get(v["Type"]) in v.get("Properties", {})]
        self.check(not named, "no named IAM resource (CAPABILITY_NAMED_IAM not needed)", named)
        self.check("TemplateBody" not in c and "TemplateURL" in c,
                   "the processed template by URL (it is larger than a TemplateBody may be)")

    def test_one_region_per_account_and_ous_only(self) -> None:
        i = self.instances
        self.check(len(i.get("Regions", [])) == 1,
                   "one region: IAM is global, one instance per account", i.get("Regions"))
        targets = i.get("DeploymentTargets", {})
        self.check(set(targets) == {"OrganizationalUnitIds"}
                   and all(re.fullmatch(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}", o)
                           for o in targets["OrganizationalUnitIds"]),
                   "deployment targets are OUs", targets)
        region = i["Regions"][0]
        central = dict((p["ParameterKey"], p["ParameterValue"]) for p in self.params)[
            "CentralEventBusArn"]
        self.check(central.split(":")[3] == region,
                   "the example forwards to a central bus in the members' region",
                   (central, region))
        self.check(i.get("OperationPreferences", {}).get("FailureTolerancePercentage") == 0,
                   "a failing account stops the rollout")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    print(f"org: {tt.Tally.passed} checks passed, {len(tt.Tally.failed)} failed")
    for f in tt.Tally.failed:
        print("  FAILED", f)
    sys.exit(0 if result.wasSuccessful() and not tt.Tally.failed else 1)
