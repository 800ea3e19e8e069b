#!/usr/bin/env python3
"""Strict moto launcher: moto 5.2.5 in server mode, patched to behave more like real AWS.

Usage:
    python tests/emulator/strict_moto.py [--host 127.0.0.1] [--port 0] [--verbose] [--no-stdin-watch]

When the server accepts connections it prints exactly one line to stdout,
``PLANTON_EMULATOR_READY http://127.0.0.1:<port>``, and nothing else ever goes to
stdout (moto's own prints and request logs go to stderr). It serves every service
moto's server mode knows (IAM, Secrets Manager, STS, ...) on that one port, with
threads, until it is killed or its stdin reaches EOF (so it never outlives the test
process that holds the other end of the stdin pipe). ``POST /moto-api/reset`` works (it
also clears the stack model of 12), and test-only endpoints are added (11-15 below).

Why: the Rust tests must FAIL when the Lambda forgets a cleanup step or drops a
permissions boundary. Plain moto is lenient where AWS is strict, so a buggy Lambda
would pass against it. Each deviation closed here (see /work/shared/reference/
iam-and-secrets-manager.md):

  1. Permissions boundaries on users: moto answers HTTP 500 for
     Put/DeleteUserPermissionsBoundary, ignores CreateUser's PermissionsBoundary and
     GetUser never returns one. -> implemented; GetUser/CreateUser return
     PermissionsBoundary {PermissionsBoundaryType: PermissionsBoundaryPolicy (the only
     value of that enum in the AWS model), PermissionsBoundaryArn} when set, omit it
     otherwise; ListUsers never returns it (as AWS). Unknown user -> NoSuchEntity;
     malformed ARN -> InvalidInput; policy that does not exist (AWS managed ones checked
     against moto's loaded managed policies) -> NoSuchEntity "Policy ... does not exist
     or is not attachable."
  2. Service-specific credentials: moto answers 500 for List*; Create/Delete/Update/
     Reset are implemented here, stored per user, so a test can create one by hand
     and check that the Lambda deletes it.
  3. DeleteUser: moto deletes users that still have access keys, a login profile,
     group memberships (the group then still lists the deleted user), MFA devices,
     signing certificates, SSH keys. AWS answers 409 DeleteConflict until ALL of:
     access keys, login profile, MFA devices, signing certificates, SSH public keys,
     service-specific credentials, inline policies, attached managed policies and
     group memberships are gone. -> enforced; a successful delete leaves nothing
     stale in groups, tags or virtual MFA devices.
  4. User names are unique case-insensitively (CreateUser "Alice" when "alice"
     exists -> 409 EntityAlreadyExists; same for UpdateUser NewUserName).
  5. Input validation AWS does and moto skips:
     - every top-level string parameter of every IAM operation is checked against the
       min/max/pattern of the AWS service model (user name 1-64 of [\\w+=,.@-], path
       "/" or "/<printable ASCII>/" up to 512, policy names, ARNs, ...)
       -> 400 ValidationError "1 validation error detected: ...", as AWS answers;
     - tags: key 1-128, value 0-256 chars of letters/digits/spaces/_.:/=+-@, the
       "aws:" prefix is reserved (-> 400 ValidationError); keys are case-insensitive;
       more than 50 tags on a user after CreateUser/TagUser -> 409 LimitExceeded;
     - at most 20 managed policies attached per user (AWS quota 10 by default,
       raisable to 20) -> 409 LimitExceeded;
     - inline policies of a user: at most 2048 non-whitespace characters in total
       -> 409 LimitExceeded.
  6. UpdateUser with NewPath/NewUserName: moto stores tags under the user's ARN, which
     contains the path and name, so moto silently LOSES the user's tags on a path
     change or rename (and on rename leaves access keys pointing to the old name).
     -> tags, keys, certificates and credentials follow the user.
  7. Checked, no patch needed: GetUser returns Tags; GetUserPolicy URL-encodes
     PolicyDocument exactly like AWS does.
  8. Secrets Manager RotateSecret without a Lambda: moto looks RotationLambdaARN up in
     its own Lambda service (ResourceNotFoundException when absent) and invokes it (needs
     Docker). Our tests play Secrets Manager themselves, sending the rotation steps to the
     function, so when the ARN (given, or configured by an earlier call) is not a moto
     Lambda, RotateSecret only records the configuration -- RotationLambdaARN,
     RotationRules.AutomaticallyAfterDays (1-1000, else InvalidParameterException),
     NextRotationDate (now + days), RotationEnabled (true when days > 0) -- and invokes
     nothing (ScheduleExpression and Duration are not modelled). RotateImmediately=true
     (the default): a new version, id ClientRequestToken (or a uuid), labelled AWSPENDING
     with NO value (GetSecretValue on it answers ResourceNotFoundException until the
     rotation function stores one with PutSecretValue) is returned as VersionId;
     AWSPENDING leaves any other version.
     RotateImmediately=false: no version; the response has no VersionId (optional in the
     model). No ARN given and none configured -> InvalidRequestException; a token naming
     an existing version -> ResourceExistsException. "Previous rotation in progress" is
     AWS's rule (moto had it inverted): refused with InvalidRequestException "A previous
     rotation isn't complete. ..." while AWSPENDING is on a version that is NOT also
     AWSCURRENT; AWSPENDING on the AWSCURRENT version (a finished rotation), or nowhere,
     proceeds. CancelRotateSecret sets RotationEnabled false (moto did), keeps the ARN and
     AWSPENDING where it is, and returns as VersionId the unfinished version (moto: the
     current one). A secret whose ARN IS a moto Lambda, a managed secret, a replica or a
     deleted one still goes through moto's own code.
  9. Secrets Manager staging labels, as AWS moves them (each label is on one version at
     most; only the labels an operation names move; moving AWSCURRENT puts AWSPREVIOUS on
     the version it left):
     - GetSecretValue without VersionId/VersionStage answered moto's separate "default
       version", which UpdateSecretVersionStage never moved: after a rotation's
       finishSecret it kept returning the OLD value. The default is now whichever version
       has AWSCURRENT.
     - PutSecretValue(ClientRequestToken=t): a version t that has no value (made by
       RotateSecret) takes the value (moto: the same, but it also overwrote a version
       that HAS a value whenever it was labelled AWSPENDING); a version t with a value
       accepts only the identical value (a no-op retry), else ResourceExistsException --
       so a retried createSecret cannot silently replace the pending key. Labels
       (default AWSCURRENT; AWSCURRENT added on a secret's first value) are attached
       without wiping the old version's others. A secret marked for deletion ->
       InvalidRequestException.
     - PutSecretValue/UpdateSecret making a new AWSCURRENT: moto replaced ALL labels of
       the old current version by AWSPREVIOUS, dropping an AWSPENDING left there by a
       finished rotation; AWS keeps it, so the next RotateSecret is refused.
     - UpdateSecretVersionStage: a label attached to another version can only be moved
       with RemoveFromVersionId naming that version (moto checked AWSCURRENT only and
       let AWSPENDING sit on two versions) -> InvalidParameterException;
       RemoveFromVersionId alone removes the label.
     - GetSecretValue(VersionId=x, VersionStage=y) with y not on x ->
       ResourceNotFoundException (moto: InvalidRequestException).
     - DescribeSecret/ListSecrets VersionIdsToStages and ListSecretVersionIds list only
       versions that still have a label (IncludeDeprecated=true lists all);
       ListSecretVersionIds returns the secret's ARN (moto: its name), each version's own
       CreatedDate, and ResourceNotFoundException for an unknown secret (moto: HTTP 500).
     (moto answers HTTP 404 for ResourceNotFoundException where AWS answers 400; the error
     code is the same, left as is.) Secrets Manager calls are serialised with one lock.
 10. STS GetCallerIdentity authenticates like AWS (moto answered any request, with a
     `user/moto` ARN for unknown keys, and never checked the signature). The SigV4
     Authorization header's access key id must be an Active IAM access key of the account
     and partition it belongs to (or moto STS temporary credentials with their session
     token), else HTTP 403 InvalidClientTokenId "The security token included in the
     request is invalid."; the signature must verify with that key's secret (moto's own
     check, moto.iam.access_control.IAMRequest.check_signature), else 403
     SignatureDoesNotMatch (also for a malformed header). Only then is the key's last use
     recorded (now, service "sts", the signing region; GetAccessKeyLastUsed reports it):
     moto records it for every request before anything is checked, which for this action
     is deferred. Other STS actions and other services still accept any credentials.
     (Requests without an Authorization header never reach STS: moto's dispatcher picks
     the service from that header.)
 11. Clock: moto 5.2.5's server cannot change its clock (there is no /moto-api/time/...
     endpoint -- POST /moto-api/time/set answers 404; freezegun only works in-process
     and would freeze the whole server). Instead, a test-only endpoint, served to
     loopback clients only:
       POST /moto-api/planton/access-key-dates
       {"access_key_id": "AKIA...",                   required
        "create_date": "2020-01-02T03:04:05Z",        optional, ISO 8601 (naive = UTC)
        "last_used_date": "2020-02-03T04:05:06Z",     optional; null = never used
        "last_used_service": "sts",                   optional, default "sts"
        "last_used_region": "us-east-1"}              optional, default "us-east-1"
     sets that key's CreateDate (ListAccessKeys, CreateDate in the credential report)
     and/or last use (GetAccessKeyLastUsed) in whichever account/partition holds it.
     Answers 200 {"access_key_id", "user_name", "create_date", "last_used_date"} (dates
     ISO 8601 UTC with "Z", last_used_date null if never used); 404 {"error"} for an
     unknown key; 400 {"error"} for bad JSON, a missing access_key_id, an unknown field or
     a bad date; 405 for other methods; 403 for non-loopback clients.
 12. CloudFormation stacks the tests invent: the function checks every custom-resource
     request with DescribeStacks(StackName=StackId) and DescribeStackResource(StackName=
     StackId, LogicalResourceId), but moto knows no such stack. A test-only endpoint
     (loopback clients only) sets the stack's model:
       POST /moto-api/planton/stacks
       {"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/name/uuid",
        "StackStatus": "CREATE_IN_PROGRESS",                a StackStatus of the AWS model
        "Resources": {"User": {                             optional; logical id [A-Za-z0-9]+
            "ResourceType": "Custom::PlantonIamUser",       required
            "ResourceStatus": "CREATE_IN_PROGRESS",         a ResourceStatus of the AWS model
            "PhysicalResourceId": "..."}}}                  optional (null = none yet)
     replaces the whole record of that StackId (CreationTime is kept from an earlier record
     of the same id; every resource's LastUpdatedTimestamp is now) -- or, with "Merge":
     true, sets the status and only the resources given, keeping the others, so tests
     running at once on one stack do not clobber each other's resources -- and answers 200:
     {"StackId", "StackName" (from the ARN), "StackStatus", "CreationTime", "Resources":
     {id: {"ResourceType", "ResourceStatus", "PhysicalResourceId" (only when set),
     "LastUpdatedTimestamp"}}} (timestamps ISO 8601 UTC with "Z").
       {"StackId": "...", "Delete": true}  removes it: 200 {"StackId", "Deleted": true}
     (also when there was none). 400 {"error"} for bad JSON, a StackId that is not a stack
     ARN, an unknown status, an unknown field; 405 for other methods; 403 for non-loopback
     clients. A modelled stack lives in the account and region of its ARN: a request signed
     for that region (and resolving to that account) naming its StackId, or its name unless
     it is DELETE_COMPLETE (AWS finds deleted stacks by id only), is answered from the model
     with the XML moto writes for its own stacks -- DescribeStacks: Stacks/member with
     StackId, StackName, CreationTime, StackStatus (plus moto's empty Parameters,
     NotificationARNs, Tags and DisableRollback/EnableTerminationProtection false);
     DescribeStackResource: StackResourceDetail with StackName, StackId, LogicalResourceId,
     PhysicalResourceId (omitted when the model has none), ResourceType,
     LastUpdatedTimestamp, ResourceStatus. DescribeStacks without StackName lists moto's
     stacks and the modelled ones that are not DELETE_COMPLETE. Errors, as AWS (HTTP 400,
     Sender, ValidationError): a stack neither modelled nor known to moto -> DescribeStacks
     "Stack with id X does not exist", DescribeStackResource "Stack 'X' does not exist"
     (moto said "Stack with id X ..." there too); an unknown logical id -> "Resource L
     does not exist for stack X" (X: the StackName as given). Stacks moto created itself
     still go through moto.
 13. Staging a rotation token: RotateSecret creates the new version (id ClientRequestToken)
     labelled AWSPENDING, with no value, before it invokes createSecret; tests that send the
     rotation steps themselves stage it with a test-only endpoint (loopback clients only):
       POST /moto-api/planton/stage-pending
       {"SecretId": "name or ARN", "ClientRequestToken": "<32-64 chars>"}
     leaves the secret as RotateSecret (RotateImmediately) does (8): version token without a
     value, labelled AWSPENDING, the label removed from any other version; nothing else
     (rotation configuration, other labels) changes, and no "previous rotation" check is
     made. A token naming a version that has no value yet is (re)labelled. Answers 200
     {"ARN", "Name", "VersionId", "VersionIdsToStages"}; 404 {"error"} for an unknown
     secret; 409 {"error": "ResourceExistsException: ..."} when the token's version already
     has a value; 400 {"error"} for bad JSON, missing/unknown fields, a token not 32-64
     characters (InvalidParameterException), a secret marked for deletion
     (InvalidRequestException), a replica, or a name held in several accounts/regions (give
     the ARN); 405 for other methods; 403 for non-loopback clients. A name is looked up in
     every account and region that has secrets, an ARN in its own.

 14. EventBridge events the function publishes: every PutEvents entry moto accepts is
     recorded (moto itself delivers to no one the tests can read). A test-only endpoint
     (loopback clients only) answers them:
       POST /moto-api/planton/events   {"Source": "planton.iam-user"}   (optional filter)
     -> 200 {"Events": [{"EventBusName", "Source", "DetailType", "Detail" (parsed JSON),
     "Resources"}]} in the order they were put. A PutEvents naming a bus that does not
     exist fails as in AWS (ResourceNotFoundException) and records nothing. Reset clears
     the record.

 15. The account-level reads the audit is built on, as AWS's API reference describes them:
     - GetAccountAuthorizationDetails: moto ignored MaxItems and Marker and answered
       everything in one page with IsTruncated false. Now MaxItems (1-1000, default 100)
       counts users, groups, roles and policies together, in that order (each by name,
       policies by ARN), and Marker continues after the last entity of the previous page
       (an opaque token naming that entity, so a page read while the account changes
       neither repeats nor skips what stayed); IsTruncated and Marker say whether more
       follow. Filter values outside the EntityType enum (User, Role, Group,
       LocalManagedPolicy, AWSManagedPolicy) and MaxItems out of range -> 400
       ValidationError; a Marker that is not one -> 400 InvalidInput. (Checked, no patch
       needed: UserDetailList carries Path, UserName, UserId, Arn, CreateDate,
       UserPolicyList with URL-encoded documents, GroupList, AttachedManagedPolicies,
       Tags and, with 1, PermissionsBoundary. Not modelled: PermissionsBoundaryUsageCount
       of the policies, RoleLastUsed.)
     - The credential report: moto answered COMPLETE to every GenerateCredentialReport
       after the first, rendered GetCredentialReport from the live state at each call
       with GeneratedTime 2015-02-02T20:02:02Z, had no line for the root user, wrote
       "not_supported" where AWS writes the region and service of a key's last use (or
       N/A), the user's creation time as password_last_changed of a user without a
       password (AWS: N/A) and "not_supported" for password_last_used and
       password_next_rotation (AWS: N/A), and N/A for a signing certificate's
       last_rotated. Now GenerateCredentialReport takes a snapshot of every user's
       credentials when there is no report or the last one is four hours old or more
       (State STARTED, Description "No report exists. Starting a new report generation
       task"), answers INPROGRESS while it is being made (instantly by default: see the
       endpoint below) and COMPLETE after; within four hours IAM hands out the same
       report again, and so does this. GetCredentialReport answers that snapshot with
       its real GeneratedTime: 410 ReportNotPresent before any, 404 ReportInProgress
       while it is made. The report starts with the root user's line
       (<root_account>, arn:aws:iam::<account>:root) as AWS's does; each user's keys are
       listed in the order the user's keys are kept (creation), with each key's status,
       CreateDate as last_rotated, and its last use (date, region, service) or N/A.
       (Not modelled: ReportExpired, whose age AWS does not document.) A test-only
       endpoint (loopback clients only) ages, discards or slows the report:
         POST /moto-api/planton/credential-report
         {"account_id": "123456789012",    optional: that account's report; default every account's
          "age_seconds": 14400,            optional: make the report this many seconds older
          "discard": true,                 optional: no report at all (the next Generate starts one)
          "generation_seconds": 2.5}       optional: how long making a report takes from now on (default 0)
       -> 200 {"reports": [{"account_id", "generated" (ISO 8601 UTC with "Z"), "ready"}],
       "generation_seconds"}; 400 {"error"} for bad JSON, unknown fields or bad values;
       405 for other methods; 403 for non-loopback clients. Reset discards every report
       and the generation time goes back to 0.
     - ListSecrets: moto accepted any MaxResults (AWS: 1-100), any number of filters and
       values (AWS: at most 10 filters, each with 1-10 values of at most 512 characters
       of [a-zA-Z0-9 :_@/+=.-!], a leading ! negating), and its NextToken was an offset
       into a list made again at each call, so a page read while secrets were created or
       deleted repeated or skipped some. Now those limits -> 400 ValidationException, the
       list is in CreatedDate order (SortOrder asc, the default, or desc; ties by ARN),
       and NextToken names the last secret of the previous page (an unknown token ->
       400 InvalidNextTokenException). (Checked, no patch needed: each entry carries
       Name, ARN, Description, Tags, DeletedDate with IncludePlannedDeletion, and, with
       9, SecretVersionsToStages of labelled versions; name and tag-key filters are
       case-sensitive prefix matches, values of one filter alternatives, filters all
       required.)

Also: all IAM calls are serialised with one lock (AWS IAM is strongly consistent for
a single caller; moto's check-then-act code is not thread-safe), and the IAM backend
and the iam/sts/secretsmanager/cloudformation apps are created before the ready line is
printed so the first concurrent calls do not race moto's lazy initialisation (which also
loads ~1000 AWS managed policies).

Speed only: moto re-parses ~1600 AWS managed policies for each of its 6 IAM partition
backends on every reset; they are parsed once and cached (reset ~1 s -> ~0.2 s).

Patches are monkeypatches applied before the app is created; moto's files are not
copied or modified.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import string
import sys
import threading
import time
from urllib.parse import urlparse

READY_PREFIX = "PLANTON_EMULATOR_READY"

# AWS limits enforced below (see the reference document).
MAX_TAGS_PER_USER = 50
MAX_MANAGED_POLICIES_PER_USER = 20
MAX_INLINE_POLICY_CHARS_PER_USER = 2048
MAX_SSC_PER_USER_PER_SERVICE = 2
SSC_SUPPORTED_SERVICES = (
    "codecommit.amazonaws.com",
    "cassandra.amazonaws.com",
    "bedrock.amazonaws.com",
    "logs.amazonaws.com",
)
BOUNDARY_TYPE = "PermissionsBoundaryPolicy"  # the only value of PermissionsBoundaryAttachmentType

_IAM_LOCK = threading.RLock()
_SM_LOCK = threading.RLock()


def install_patches() -> None:
    """Monkeypatch moto's IAM backend and response classes. Call before creating the app."""
    import moto
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.serialize import never_return
    from moto.core.utils import get_service_model, utcnow
    from moto.iam import models as m
    from moto.iam.exceptions import (
        DeleteConflictException,
        DuplicateTags,
        EntityAlreadyExists,
        IAMException,
        InvalidInput,
        LimitExceededException,
        NoSuchEntity,
        ValidationError,
    )
    from moto.iam.responses import IamResponse

    if moto.__version__ != "5.2.5":  # the patches below were written against moto 5.2.5
        print(f"strict_moto: WARNING: moto {moto.__version__} is not 5.2.5", file=sys.stderr, flush=True)

    User = m.User
    IAMBackend = m.IAMBackend

    # ------------------------------------------------------------------ helpers
    def _find_user_ci(backend, name):
        """The existing user whose name equals `name` ignoring case, or None."""
        low = name.lower()
        for existing_name, user in backend.users.items():
            if existing_name.lower() == low:
                return user
        return None

    def _nonws_len(doc: str) -> int:
        return len(re.sub(r"\s", "", doc or ""))

    tag_chars = re.compile(r"[\w _.:/=+\-@]*")  # ~ [\p{L}\p{Z}\p{N}_.:/=+\-@]

    def _validate_tags(tags, existing_tags, owner="user"):
        """Per-tag rules (ValidationError/InvalidInput) and the 50-tag quota (LimitExceeded)."""
        seen = set()
        for i, tag in enumerate(tags or [], start=1):
            key = tag.get("Key") or ""
            value = tag.get("Value")
            value = "" if value is None else value
            if not 1 <= len(key) <= 128:
                raise ValidationError(
                    f"1 validation error detected: Value '{key}' at 'tags.{i}.member.key' failed to "
                    "satisfy constraint: Member must have length between 1 and 128"
                )
            if not tag_chars.fullmatch(key):
                raise ValidationError(
                    f"1 validation error detected: Value '{key}' at 'tags.{i}.member.key' failed to "
                    "satisfy constraint: Member must satisfy regular expression pattern: "
                    "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"
                )
            if key.lower().startswith("aws:"):
                raise ValidationError(
                    f"1 validation error detected: Value '{key}' at 'tags.{i}.member.key' failed to "
                    "satisfy constraint: Tag keys starting with 'aws:' are reserved for AWS use"
                )
            if len(value) > 256:
                raise ValidationError(
                    f"1 validation error detected: Value '{value}' at 'tags.{i}.member.value' failed "
                    "to satisfy constraint: Member must have length less than or equal to 256"
                )
            if not tag_chars.fullmatch(value):
                raise ValidationError(
                    f"1 validation error detected: Value '{value}' at 'tags.{i}.member.value' failed "
                    "to satisfy constraint: Member must satisfy regular expression pattern: "
                    "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*"
                )
            if key.lower() in seen:
                raise DuplicateTags()
            seen.add(key.lower())
        total = {t["Key"].lower() for t in existing_tags or []} | seen
        if len(total) > MAX_TAGS_PER_USER:
            raise LimitExceededException(
                f"The number of tags has reached the maximum limit. A {owner} can have at most "
                f"{MAX_TAGS_PER_USER} tags."
            )

    def _tag_user_ci(backend, arn, tags):
        """Tag with case-insensitive keys: a new spelling replaces the old key."""
        existing = backend.tagger.list_tags_for_resource(arn)["Tags"]
        new_lower = {t["Key"].lower() for t in tags}
        stale = [t["Key"] for t in existing if t["Key"].lower() in new_lower]
        if stale:
            backend.tagger.untag_resource_using_names(arn, stale)
        backend.tagger.tag_resource(arn, [{"Key": t["Key"], "Value": t.get("Value") or ""} for t in tags])

    def _check_boundary(backend, arn):
        if not backend.policy_arn_regex.match(arn or ""):
            raise InvalidInput(f"ARN {arn} is not valid.")
        if arn not in backend.managed_policies:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")

    def _sscs(user):
        return user.__dict__.setdefault("_strict_sscs", {})

    # ------------------------------------------------------- 1. boundary on users
    def _user_permissions_boundary(self):
        arn = getattr(self, "_strict_boundary_arn", None)
        if not arn:
            return None
        return {"PermissionsBoundaryType": BOUNDARY_TYPE, "PermissionsBoundaryArn": arn}

    User.permissions_boundary = property(_user_permissions_boundary)
    IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER[
        "ListUsersResponse.Users.User.PermissionsBoundary"
    ] = never_return

    def put_user_permissions_boundary(self, user_name, permissions_boundary):
        user = self.get_user(user_name)
        _check_boundary(self, permissions_boundary)
        user._strict_boundary_arn = permissions_boundary

    def delete_user_permissions_boundary(self, user_name):
        user = self.get_user(user_name)
        user._strict_boundary_arn = None

    IAMBackend.put_user_permissions_boundary = put_user_permissions_boundary
    IAMBackend.delete_user_permissions_boundary = delete_user_permissions_boundary

    def r_put_user_permissions_boundary(self):
        self.backend.put_user_permissions_boundary(
            self._get_param("UserName"), self._get_param("PermissionsBoundary")
        )
        return EmptyResult()

    def r_delete_user_permissions_boundary(self):
        self.backend.delete_user_permissions_boundary(self._get_param("UserName"))
        return EmptyResult()

    IamResponse.put_user_permissions_boundary = r_put_user_permissions_boundary
    IamResponse.delete_user_permissions_boundary = r_delete_user_permissions_boundary

    # ------------------- CreateUser: boundary, case-insensitive names (4), tags (5)
    orig_create_user = IAMBackend.create_user

    def create_user(self, region_name, user_name, path="/", tags=None, permissions_boundary=None):
        if _find_user_ci(self, user_name) is not None:
            raise EntityAlreadyExists(f"User with name {user_name} already exists.")
        _validate_tags(tags or [], [])
        if permissions_boundary:
            _check_boundary(self, permissions_boundary)
        user = orig_create_user(self, region_name, user_name, path=path, tags=tags)
        user._strict_boundary_arn = permissions_boundary or None
        return user

    IAMBackend.create_user = create_user

    def r_create_user(self):
        user = self.backend.create_user(
            self.region,
            user_name=self._get_param("UserName"),
            path=self._get_param("Path"),
            tags=self._get_param("Tags", []),
            permissions_boundary=self._get_param("PermissionsBoundary"),
        )
        return ActionResult({"User": user})

    IamResponse.create_user = r_create_user

    # ------------------------------------------------------- 5. tags on users
    def tag_user(self, name, tags):
        user = self.get_user(name)
        _validate_tags(tags, self.tagger.list_tags_for_resource(user.arn)["Tags"])
        _tag_user_ci(self, user.arn, tags)

    def untag_user(self, name, tag_keys):
        user = self.get_user(name)
        wanted = {k.lower() for k in tag_keys}
        existing = self.tagger.list_tags_for_resource(user.arn)["Tags"]
        self.tagger.untag_resource_using_names(
            user.arn, [t["Key"] for t in existing if t["Key"].lower() in wanted]
        )

    IAMBackend.tag_user = tag_user
    IAMBackend.untag_user = untag_user

    # ----------------------------------------- 5. managed policies per user quota
    orig_attach_user_policy = IAMBackend.attach_user_policy

    def attach_user_policy(self, policy_arn, user_name):
        user = self.get_user(user_name)
        if (
            policy_arn in self.managed_policies
            and policy_arn not in user.managed_policies
            and len(user.managed_policies) >= MAX_MANAGED_POLICIES_PER_USER
        ):
            raise LimitExceededException(
                f"Cannot exceed quota for PoliciesPerUser: {MAX_MANAGED_POLICIES_PER_USER}"
            )
        if policy_arn in user.managed_policies:
            return  # AWS: attaching again is a no-op (moto would double-count)
        orig_attach_user_policy(self, policy_arn, user_name)

    IAMBackend.attach_user_policy = attach_user_policy

    # --------------------------------------- 5. aggregate inline policy size quota
    orig_put_user_policy = IAMBackend.put_user_policy

    def put_user_policy(self, user_name, policy_name, policy_json):
        user = self.get_user(user_name)
        total = _nonws_len(policy_json) + sum(
            _nonws_len(doc) for name, doc in user.policies.items() if name != policy_name
        )
        if total > MAX_INLINE_POLICY_CHARS_PER_USER:
            raise LimitExceededException(
                f"Maximum policy size of {MAX_INLINE_POLICY_CHARS_PER_USER} bytes exceeded for "
                f"user {user.name}"
            )
        orig_put_user_policy(self, user_name, policy_name, policy_json)

    IAMBackend.put_user_policy = put_user_policy

    # ---------------------------------------------------- 6. UpdateUser keeps all
    orig_update_user = IAMBackend.update_user

    def update_user(self, user_name, new_path=None, new_user_name=None):
        user = self.get_user(user_name)
        if new_user_name and new_user_name != user_name:
            other = _find_user_ci(self, new_user_name)
            if other is not None and other is not user:
                raise EntityAlreadyExists(f"User with name {new_user_name} already exists.")
        old_arn = user.arn
        tags = self.tagger.list_tags_for_resource(old_arn)["Tags"]
        orig_update_user(self, user_name, new_path, new_user_name)
        if user.arn != old_arn:
            self.tagger.delete_all_tags_for_resource(old_arn)
            if tags:
                self.tagger.tag_resource(user.arn, tags)
        if new_user_name:
            for key in user.access_keys:
                key.user_name = new_user_name
            for key in user.ssh_public_keys:
                key.user_name = new_user_name
            for cert in user.signing_certificates.values():
                cert.user_name = new_user_name
            for cred in _sscs(user).values():
                cred["UserName"] = new_user_name

    IAMBackend.update_user = update_user

    # ------------------------------------------------------ 3. strict DeleteUser
    orig_delete_user = IAMBackend.delete_user

    def delete_user(self, user_name):
        user = self.get_user(user_name)
        blockers = [
            (user.password is not None, "must delete login profile first."),
            (bool(user.access_keys), "must delete access keys first."),
            (bool(user.signing_certificates), "must delete signing certificates first."),
            (bool(user.ssh_public_keys), "must delete SSH public keys first."),
            (bool(_sscs(user)), "must delete service specific credentials first."),
            (bool(user.mfa_devices), "must delete MFA device first."),
            (bool(user.policies), "must delete policies first."),
            (bool(user.managed_policies), "must detach all policies first."),
            (bool(self.get_groups_for_user(user_name)), "must remove user from all groups first."),
        ]
        for blocked, what in blockers:
            if blocked:
                raise DeleteConflictException(f"Cannot delete entity, {what}")
        orig_delete_user(self, user_name)
        # Nothing stale may remain (unreachable after the checks above; kept defensive).
        for group in self.groups.values():
            group.users = [u for u in group.users if u is not user]
        for device in self.virtual_mfa_devices.values():
            if getattr(device, "user", None) is user:
                device.user = None
                device.user_attribute = None
                device.enable_date = None

    IAMBackend.delete_user = delete_user

    # ------------------------------------------ 2. service-specific credentials
    def _ssc_user_for_call(resp, user_name):
        """The named user, else the caller's user (None for unknown credentials)."""
        if user_name:
            return resp.backend.get_user(user_name)
        return resp.backend.get_user_from_access_key_id(resp.get_access_key())

    def _find_ssc(self, user_name, cred_id):
        users = [self.get_user(user_name)] if user_name else list(self.users.values())
        for user in users:
            if cred_id in _sscs(user):
                return user, _sscs(user)[cred_id]
        raise NoSuchEntity(f"No such entity found for ServiceSpecificCredentialId {cred_id}.")

    def r_create_service_specific_credential(self):
        user = self.backend.get_user(self._get_param("UserName"))
        service = self._get_param("ServiceName")
        if service not in SSC_SUPPORTED_SERVICES:
            raise IAMException("NotSupportedService", f"The service {service} is not supported.")
        creds = _sscs(user)
        if sum(1 for c in creds.values() if c["ServiceName"] == service) >= MAX_SSC_PER_USER_PER_SERVICE:
            raise LimitExceededException(
                "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: "
                f"{MAX_SSC_PER_USER_PER_SERVICE}"
            )
        alphabet = string.ascii_uppercase + string.digits
        cred = {
            "UserName": user.name,
            "Status": "Active",
            "ServiceName": service,
            "ServiceUserName": f"{user.name}-at-{self.current_account}",
            "ServiceSpecificCredentialId": "ACCA" + "".join(secrets.choice(alphabet) for _ in range(17)),
            "CreateDate": utcnow(),
        }
        creds[cred["ServiceSpecificCredentialId"]] = cred
        return ActionResult({"ServiceSpecificCredential": dict(cred, ServicePassword=secrets.token_urlsafe(33))})

    def r_list_service_specific_credentials(self):
        service = self._get_param("ServiceName")
        all_users = str(self._get_param("AllUsers", False)).lower() == "true"
        if all_users:
            users = list(self.backend.users.values())
        else:
            user = _ssc_user_for_call(self, self._get_param("UserName"))
            users = [user] if user is not None else []
        found = [
            dict(cred)
            for user in users
            for cred in _sscs(user).values()
            if not service or cred["ServiceName"] == service
        ]
        return ActionResult({"ServiceSpecificCredentials": found, "IsTruncated": False})

    def r_delete_service_specific_credential(self):
        user, cred = _find_ssc(
            self.backend, self._get_param("UserName"), self._get_param("ServiceSpecificCredentialId")
        )
        del _sscs(user)[cred["ServiceSpecificCredentialId"]]
        return EmptyResult()

    def r_update_service_specific_credential(self):
        _, cred = _find_ssc(
            self.backend, self._get_param("UserName"), self._get_param("ServiceSpecificCredentialId")
        )
        cred["Status"] = self._get_param("Status")
        return EmptyResult()

    def r_reset_service_specific_credential(self):
        _, cred = _find_ssc(
            self.backend, self._get_param("UserName"), self._get_param("ServiceSpecificCredentialId")
        )
        return ActionResult({"ServiceSpecificCredential": dict(cred, ServicePassword=secrets.token_urlsafe(33))})

    IamResponse.create_service_specific_credential = r_create_service_specific_credential
    IamResponse.list_service_specific_credentials = r_list_service_specific_credentials
    IamResponse.delete_service_specific_credential = r_delete_service_specific_credential
    IamResponse.update_service_specific_credential = r_update_service_specific_credential
    IamResponse.reset_service_specific_credential = r_reset_service_specific_credential

    # ------------- 5. model-driven validation of top-level string params + IAM lock
    iam_model = get_service_model("iam")

    def _lower_camel(name):
        return name[:1].lower() + name[1:]

    def _validate_input_against_model(resp):
        try:
            op = iam_model.operation_model(resp._get_action())
        except Exception:
            return  # unknown action: let moto answer as usual
        shape = op.input_shape
        if shape is None:
            return
        for member_name, member in shape.members.items():
            if member.type_name != "string":
                continue
            value = resp._get_param(member_name)
            if not isinstance(value, str):
                continue
            meta = member.metadata
            where = f"Value '{value}' at '{_lower_camel(member_name)}' failed to satisfy constraint"
            if "min" in meta and len(value) < meta["min"]:
                raise ValidationError(
                    f"1 validation error detected: {where}: Member must have length greater than or "
                    f"equal to {meta['min']}"
                )
            if "max" in meta and len(value) > meta["max"]:
                raise ValidationError(
                    f"1 validation error detected: {where}: Member must have length less than or "
                    f"equal to {meta['max']}"
                )
            pattern = meta.get("pattern")
            if pattern and "\\p{" not in pattern:  # Java-only classes: not checked here
                if not re.fullmatch(f"(?:{pattern})", value, flags=re.ASCII | re.DOTALL):
                    raise ValidationError(
                        f"1 validation error detected: {where}: Member must satisfy regular "
                        f"expression pattern: {pattern}"
                    )

    orig_call_action = IamResponse.call_action

    def call_action(self):
        with _IAM_LOCK:
            try:
                _validate_input_against_model(self)
            except ServiceException as err:
                status, headers, body = self.serialized(ActionResult(err))
                headers, body = self._enrich_response(headers, body)
                return status, headers, body
            return orig_call_action(self)

    IamResponse.call_action = call_action

    # ------------- speed only (no behaviour change): AWS managed policies, parsed once
    # moto builds ~1600 AWS managed policies per IAM backend (one per partition, 6 in all)
    # by json-parsing one big string and re-dumping every document, and POST
    # /moto-api/reset rebuilds them all twice. Parse once, build the objects from the cache.
    managed_cache = []

    def _init_aws_policies(self):
        if not m.load_iam_aws_managed_policies():
            return []
        if not managed_cache:
            import json
            from datetime import datetime

            for name, d in json.loads(m.aws_managed_policies_data).items():
                managed_cache.append(
                    (
                        name,
                        dict(
                            default_version_id=d.get("DefaultVersionId"),
                            path=d.get("Path"),
                            document=json.dumps(d.get("Document")),
                            create_date=datetime.fromisoformat(d["CreateDate"]),
                            update_date=datetime.fromisoformat(d["UpdateDate"]),
                        ),
                    )
                )
        return [
            m.AWSManagedPolicy(name, account_id=self.account_id, region=self.region_name, **kw)
            for name, kw in managed_cache
        ]

    IAMBackend._init_aws_policies = _init_aws_policies

    _install_secretsmanager_patches()
    _install_sts_patches()
    _install_cloudformation_patches()
    _install_events_patches()
    _install_account_read_patches()


# ------------------------------------------------- 15. account-level reads (the audit)
ENTITY_TYPES = ("User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
GAAD_MAX_ITEMS = 1000
GAAD_DEFAULT_ITEMS = 100
REPORT_REUSED = 4 * 3600  # seconds: IAM hands out the last report again while it is younger
REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
# moto keeps no account creation time; the root user's line shows this one.
ROOT_CREATED = "2020-01-01T00:00:00+00:00"
SECRET_FILTER_VALUE = re.compile(r"!?[a-zA-Z0-9 :_@/+=.\-!]*")
_REPORT_LOCK = threading.Lock()
_REPORT_SETTINGS = {"generation_seconds": 0.0}


def _report_time(when):
    return when.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _report_line(user):
    """One user's line of the credential report, as AWS writes it."""
    na = "N/A"
    if user.password:
        password = [
            "true",
            _report_time(user.password_last_used) if user.password_last_used else "no_information",
            _report_time(getattr(user, "_strict_password_changed", user.create_date)),
            na,
        ]
    else:
        password = ["false", na, na, na]
    fields = [user.name, user.arn, _report_time(user.create_date), *password,
              "true" if user.mfa_devices else "false"]
    keys = list(user.access_keys)[:2]
    for i in range(2):
        if i < len(keys):
            k = keys[i]
            used = k.last_used
            fields += [
                "true" if k.status == "Active" else "false",
                _report_time(k.create_date),
                _report_time(used.timestamp) if used else na,
                (used.region or na) if used else na,
                (used.service or na) if used else na,
            ]
        else:
            fields += ["false", na, na, na, na]
    certs = list(user.signing_certificates.values())[:2]
    for i in range(2):
        if i < len(certs):
            fields += ["true" if certs[i].status == "Active" else "false", _report_time(certs[i].upload_date)]
        else:
            fields += ["false", na]

    def csv_field(f):
        f = str(f)
        return '"' + f.replace('"', '""') + '"' if any(c in f for c in ',"\n') else f

    return ",".join(csv_field(f) for f in fields)


def _render_report(backend):
    root = [
        "<root_account>", f"arn:{backend.partition}:iam::{backend.account_id}:root", ROOT_CREATED,
        "not_supported", "no_information", "not_supported", "not_supported", "false",
        "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A",
        "false", "N/A", "false", "N/A",
    ]
    lines = [REPORT_HEADER, ",".join(root)]
    lines += [_report_line(u) for u in list(backend.users.values())]
    return "\n".join(lines) + "\n"


def _install_account_read_patches() -> None:
    import base64
    import datetime

    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.iam.exceptions import IAMException, InvalidInput, ReportNotPresentException, ValidationError
    from moto.iam.models import IAMBackend
    from moto.iam.responses import IamResponse
    from moto.secretsmanager.exceptions import SecretsManagerClientError, ValidationException
    from moto.secretsmanager.models import SecretsManagerBackend, _matches
    from moto.secretsmanager.responses import SecretsManagerResponse

    class ReportInProgress(IAMException):
        code = "ReportInProgress"

    # ------------------------------------------ GetAccountAuthorizationDetails
    def _entity_key(kind, name):
        return base64.urlsafe_b64encode(json.dumps([kind, name]).encode()).decode()

    def r_get_account_authorization_details(self):
        filters = self._get_param("Filter", []) or []
        bad = [f for f in filters if f not in ENTITY_TYPES]
        if bad:
            raise ValidationError(
                f"1 validation error detected: Value '{filters}' at 'filter' failed to satisfy "
                "constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
                f"[{', '.join(ENTITY_TYPES)}]]"
            )
        max_items = self._get_int_param("MaxItems")
        if max_items is not None and not 1 <= max_items <= GAAD_MAX_ITEMS:
            bound = "greater than or equal to 1" if max_items < 1 else f"less than or equal to {GAAD_MAX_ITEMS}"
            raise ValidationError(
                f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy "
                f"constraint: Member must have value {bound}"
            )
        max_items = max_items or GAAD_DEFAULT_ITEMS
        marker = self._get_param("Marker")
        after = None
        if marker is not None:
            try:
                kind, name = json.loads(base64.urlsafe_b64decode(marker.encode()))
                after = (int(kind), str(name))
            except Exception:
                raise InvalidInput("Invalid Marker.") from None
        details = self.backend.get_account_authorization_details(filters)
        entities = []
        for kind, (section, items, name_of) in enumerate((
            ("users", details["users"], lambda u: u.name),
            ("groups", details["groups"], lambda g: g.name),
            ("roles", details["roles"], lambda r: r.name),
            ("managed_policies", details["managed_policies"], lambda p: p.arn),
        )):
            entities += [(kind, name_of(x), section, x) for x in sorted(items, key=name_of)]
        if after is not None:
            entities = [e for e in entities if (e[0], e[1]) > after]
        page, rest = entities[:max_items], entities[max_items:]
        pick = lambda section: [x for _, _, s, x in page if s == section]  # noqa: E731
        result = {
            "UserDetailList": pick("users"),
            "GroupDetailList": pick("groups"),
            "RoleDetailList": pick("roles"),
            "Policies": pick("managed_policies"),
            "IsTruncated": bool(rest),
        }
        if rest:
            result["Marker"] = _entity_key(page[-1][0], page[-1][1])
        return ActionResult(result)

    IamResponse.get_account_authorization_details = r_get_account_authorization_details

    # ------------------------------------------------------ credential report
    def _report(backend):
        return getattr(backend, "_strict_report", None)

    def r_generate_credential_report(self):
        backend, now = self.backend, utcnow()
        with _REPORT_LOCK:
            rep = _report(backend)
            if rep is None or (now - rep["generated"]).total_seconds() >= REPORT_REUSED:
                wait = datetime.timedelta(seconds=_REPORT_SETTINGS["generation_seconds"])
                backend._strict_report = {
                    "csv": _render_report(backend), "generated": now, "ready_at": now + wait,
                }
                return ActionResult({
                    "State": "STARTED",
                    "Description": "No report exists. Starting a new report generation task",
                })
            return ActionResult({"State": "INPROGRESS" if now < rep["ready_at"] else "COMPLETE"})

    def r_get_credential_report(self):
        with _REPORT_LOCK:
            rep = _report(self.backend)
            if rep is None:
                raise ReportNotPresentException("Credential report not present")
            if utcnow() < rep["ready_at"]:
                raise ReportInProgress("Credential report is being generated")
            return ActionResult({
                "Content": rep["csv"], "ReportFormat": "text/csv", "GeneratedTime": rep["generated"],
            })

    IamResponse.generate_credential_report = r_generate_credential_report
    IamResponse.get_credential_report = r_get_credential_report

    orig_create_login_profile = IAMBackend.create_login_profile

    def create_login_profile(self, user_name, password):
        user = orig_create_login_profile(self, user_name, password)
        user._strict_password_changed = utcnow()
        return user

    IAMBackend.create_login_profile = create_login_profile

    # ------------------------------------------------------------ ListSecrets
    def _validate_list_secrets(resp):
        max_results = resp._get_int_param("MaxResults")
        if max_results is not None and not 1 <= max_results <= 100:
            bound = "greater than or equal to 1" if max_results < 1 else "less than or equal to 100"
            raise ValidationException(
                f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to "
                f"satisfy constraint: Member must have value {bound}"
            )
        filters = resp._get_param("Filters", if_none=[]) or []
        if len(filters) > 10:
            raise ValidationException(
                f"1 validation error detected: Value '{filters}' at 'filters' failed to satisfy "
                "constraint: Member must have length less than or equal to 10"
            )
        for i, f in enumerate(filters, start=1):
            values = f.get("Values")
            if values is None:
                continue  # moto's own check answers this one
            if not 1 <= len(values) <= 10:
                raise ValidationException(
                    f"1 validation error detected: Value '{values}' at 'filters.{i}.member.values' "
                    "failed to satisfy constraint: Member must have length between 1 and 10"
                )
            for v in values:
                if len(v) > 512 or not SECRET_FILTER_VALUE.fullmatch(v):
                    raise ValidationException(
                        f"1 validation error detected: Value '{v}' at 'filters.{i}.member.values' "
                        "failed to satisfy constraint: Member must have length less than or equal "
                        "to 512 and satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$"
                    )
        order = resp._get_param("SortOrder")
        if order is not None and order not in ("asc", "desc"):
            raise ValidationException(
                f"1 validation error detected: Value '{order}' at 'sortOrder' failed to satisfy "
                "constraint: Member must satisfy enum value set: [asc, desc]"
            )

    def list_secrets(self, filters, max_results=100, next_token=None, include_planned_deletion=False,
                     sort_order="asc"):
        matched = []
        for secret in self.secrets.values():
            if getattr(secret, "deleted_date", None) and not include_planned_deletion:
                continue
            if _matches(secret, filters):
                matched.append(secret)
        key = lambda x: (getattr(x, "created_date", 0) or 0, x.arn)  # noqa: E731
        matched.sort(key=key, reverse=sort_order == "desc")
        if next_token:
            try:
                created, arn = json.loads(base64.urlsafe_b64decode(next_token.encode()))
                after = (created, arn)
            except Exception:
                raise SecretsManagerClientError(
                    "InvalidNextTokenException", "The NextToken value is invalid."
                ) from None
            if sort_order == "desc":
                matched = [x for x in matched if key(x) < after]
            else:
                matched = [x for x in matched if key(x) > after]
        size = int(max_results or 100)
        page, rest = matched[:size], matched[size:]
        token = None
        if rest and page:
            token = base64.urlsafe_b64encode(json.dumps(list(key(page[-1]))).encode()).decode()
        return [x.to_dict() for x in page], token

    SecretsManagerBackend.list_secrets = list_secrets

    def r_list_secrets(self):
        _validate_list_secrets(self)
        filters = self._get_param("Filters", if_none=[])
        from moto.secretsmanager.responses import _validate_filters

        _validate_filters(filters)
        secret_list, next_token = self.backend.list_secrets(
            filters=filters,
            max_results=self._get_int_param("MaxResults"),
            next_token=self._get_param("NextToken"),
            include_planned_deletion=self._get_param("IncludePlannedDeletion", if_none=False),
            sort_order=self._get_param("SortOrder") or "asc",
        )
        body = {"SecretList": secret_list}
        if next_token:
            body["NextToken"] = next_token
        return json.dumps(body)

    SecretsManagerResponse.list_secrets = r_list_secrets


CREDENTIAL_REPORT_PATH = "/moto-api/planton/credential-report"


def _credential_report_control(payload):
    """(status, body) for POST CREDENTIAL_REPORT_PATH."""
    import datetime

    from moto.iam.models import iam_backends

    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        return 400, {"error": "body must be a JSON object"}
    unknown = set(payload) - {"account_id", "age_seconds", "discard", "generation_seconds"}
    if unknown:
        return 400, {"error": f"unknown fields: {sorted(unknown)}"}
    account = payload.get("account_id")
    if account is not None and not (isinstance(account, str) and re.fullmatch(r"\d{12}", account)):
        return 400, {"error": "account_id must be a 12-digit account id"}
    age = payload.get("age_seconds")
    gen = payload.get("generation_seconds")
    for name, value in (("age_seconds", age), ("generation_seconds", gen)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            return 400, {"error": f"{name} must be a number >= 0"}
    discard = payload.get("discard", False)
    if not isinstance(discard, bool):
        return 400, {"error": "discard must be true or false"}
    reports = []
    with _IAM_LOCK, _REPORT_LOCK:
        if gen is not None:
            _REPORT_SETTINGS["generation_seconds"] = float(gen)
        for account_id, account_backends in list(iam_backends.items()):
            if account is not None and account_id != account:
                continue
            for backend in list(account_backends.values()):
                rep = getattr(backend, "_strict_report", None)
                if rep is None:
                    continue
                if discard:
                    backend._strict_report = None
                    continue
                if age:
                    delta = datetime.timedelta(seconds=age)
                    rep["generated"] -= delta
                    rep["ready_at"] -= delta
                reports.append({
                    "account_id": account_id,
                    "generated": rep["generated"].isoformat() + "Z",
                    "ready": rep["ready_at"] <= datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None),
                })
    return 200, {"reports": reports, "generation_seconds": _REPORT_SETTINGS["generation_seconds"]}


# ------------------------------------------------- 8./9. Secrets Manager rotation
PREVIOUS_ROTATION_INCOMPLETE = "A previous rotation isn't complete. That rotation will be reattempted."
NO_ROTATION_LAMBDA = (
    "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN "
    "configured and you didn't include such an ARN as a parameter in this call."
)
MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion."


def _install_secretsmanager_patches() -> None:
    from moto.moto_api._internal import mock_random
    from moto.secretsmanager import models as sm
    from moto.secretsmanager.exceptions import (
        InvalidParameterException,
        InvalidRequestException,
        OperationNotPermittedOnReplica,
        ResourceExistsException,
        ResourceNotFoundException,
        SecretNotFoundException,
        SecretStageVersionMismatchException,
    )
    from moto.secretsmanager.responses import SecretsManagerResponse

    FakeSecret = sm.FakeSecret
    Backend = sm.SecretsManagerBackend

    def _has_value(version):
        return "secret_string" in version or "secret_binary" in version

    def _primary(backend, secret_id):
        """The secret (not a replica, not marked for deletion) or the AWS error."""
        if not backend._is_valid_identifier(secret_id):
            raise SecretNotFoundException()
        secret = backend.secrets[secret_id]
        if isinstance(secret, sm.ReplicaSecret):
            raise OperationNotPermittedOnReplica
        if secret.is_deleted():
            raise InvalidRequestException(MARKED_FOR_DELETION)
        return secret

    def _attach(secret, version_id, stages):
        """Attach each label to version_id and remove it from every other version (a label is
        on one version at most); moving AWSCURRENT puts AWSPREVIOUS on the version it left.
        Labels not named stay where they are."""
        target = secret.versions[version_id]["version_stages"]
        left_current = None
        for stage in stages:
            for vid, version in secret.versions.items():
                if vid != version_id and stage in version["version_stages"]:
                    version["version_stages"].remove(stage)
                    if stage == "AWSCURRENT":
                        left_current = vid
            if stage not in target:
                target.append(stage)
        if left_current is not None:
            _attach(secret, left_current, ["AWSPREVIOUS"])

    # AWSCURRENT is the truth: moto keeps a separate default_version_id that
    # UpdateSecretVersionStage never updates (GetSecretValue then kept answering the old
    # value after a rotation's finishSecret). Derive it from the label instead.
    def _current_version_id(self):
        for vid, version in self.versions.items():
            if "AWSCURRENT" in version["version_stages"]:
                return vid
        return None

    FakeSecret.default_version_id = property(_current_version_id, lambda self, value: None)

    def reset_default_version(self, secret_version, version_id):
        """Store a new version carrying AWSCURRENT (UpdateSecret, PutSecretValue): moto replaced
        ALL labels of the old current version by AWSPREVIOUS (dropping e.g. an AWSPENDING that
        AWS leaves in place); move only the labels the new version carries."""
        self.versions[version_id] = secret_version
        stages = list(secret_version["version_stages"])
        secret_version["version_stages"] = []
        _attach(self, version_id, stages)

    FakeSecret.reset_default_version = reset_default_version

    # DescribeSecret/ListSecrets: AWS lists only versions that have staging labels.
    def _form_version_ids_to_stages(self):
        return {vid: v["version_stages"] for vid, v in self.versions.items() if v["version_stages"]}

    FakeSecret._form_version_ids_to_stages = _form_version_ids_to_stages

    def _lambda_in_moto(backend, arn):
        try:
            from moto.awslambda.utils import get_backend

            get_backend(backend.account_id, backend.region_name).get_function(arn)
            return True
        except Exception:
            return False

    orig_rotate_secret = Backend.rotate_secret

    def rotate_secret(
        self,
        secret_id,
        client_request_token=None,
        rotation_lambda_arn=None,
        rotation_rules=None,
        rotate_immediately=True,
    ):
        if not self._is_valid_identifier(secret_id):
            raise SecretNotFoundException()
        secret = self.secrets[secret_id]
        if isinstance(secret, sm.ReplicaSecret) or secret.is_deleted() or secret.owning_service:
            return orig_rotate_secret(
                self, secret_id, client_request_token, rotation_lambda_arn, rotation_rules, rotate_immediately
            )
        lambda_arn = rotation_lambda_arn or secret.rotation_lambda_arn
        if lambda_arn and _lambda_in_moto(self, lambda_arn):
            # moto invokes the function (needs Docker), which may call back into this server:
            # let go of the lock that call_action took meanwhile.
            _SM_LOCK.release()
            try:
                return orig_rotate_secret(
                    self, secret_id, client_request_token, rotation_lambda_arn, rotation_rules, rotate_immediately
                )
            finally:
                _SM_LOCK.acquire()
        if not lambda_arn:
            raise InvalidRequestException(NO_ROTATION_LAMBDA)
        if len(lambda_arn) > 2048:
            raise InvalidParameterException("RotationLambdaARN must <= 2048 characters long.")
        days = (rotation_rules or {}).get("AutomaticallyAfterDays")
        if days is not None and not 1 <= int(days) <= 1000:
            raise InvalidParameterException("RotationRules.AutomaticallyAfterDays must be within 1-1000.")
        if client_request_token:
            self._client_request_token_validator(client_request_token)
        # AWS: AWSPENDING on a version that is not also AWSCURRENT means a rotation is
        # still in progress (moto refused exactly the other case).
        if any(
            "AWSPENDING" in v["version_stages"] and "AWSCURRENT" not in v["version_stages"]
            for v in secret.versions.values()
        ):
            raise InvalidRequestException(PREVIOUS_ROTATION_INCOMPLETE)
        new_version_id = client_request_token or str(mock_random.uuid4())
        if rotate_immediately and new_version_id in secret.versions:
            raise ResourceExistsException(
                f"You can't use ClientRequestToken {new_version_id} because that value is already in "
                f"use for a version of secret {secret.arn}."
            )

        now = int(time.time())
        secret.rotation_requested = True
        secret.rotation_lambda_arn = lambda_arn
        if days is not None:
            secret.auto_rotate_after_days = int(days)
            secret.next_rotation_date = now + int(days) * 86400
        secret.rotation_enabled = secret.auto_rotate_after_days > 0
        secret.last_rotation_date = now  # as moto does
        result = {"ARN": secret.arn, "Name": secret.name}
        if rotate_immediately:
            # Nothing is invoked: the test plays Secrets Manager and sends the steps itself.
            secret.versions[new_version_id] = {
                "createdate": now,
                "version_id": new_version_id,
                "version_stages": [],
            }
            _attach(secret, new_version_id, ["AWSPENDING"])
            result["VersionId"] = new_version_id
        return json.dumps(result)

    Backend.rotate_secret = rotate_secret

    def cancel_rotate_secret(self, secret_id):
        secret = _primary(self, secret_id)
        if not secret.rotation_lambda_arn:
            raise InvalidRequestException(NO_ROTATION_LAMBDA)
        secret.rotation_enabled = False
        result = {"ARN": secret.arn, "Name": secret.name}
        pending = [
            vid
            for vid, v in secret.versions.items()
            if "AWSPENDING" in v["version_stages"] and "AWSCURRENT" not in v["version_stages"]
        ]
        if pending:  # AWS: the version created by the cancelled rotation
            result["VersionId"] = pending[0]
        return json.dumps(result)

    Backend.cancel_rotate_secret = cancel_rotate_secret

    def put_secret_value(self, secret_id, secret_string, secret_binary, client_request_token, version_stages):
        secret = _primary(self, secret_id)
        version_id = self._from_client_request_token(client_request_token)
        existing = secret.versions.get(version_id)
        if existing is not None and _has_value(existing):
            if (
                existing.get("secret_string") == secret_string
                and existing.get("secret_binary") == secret_binary
            ):  # a retry of the same request: ignored
                return secret.to_short_dict(include_version_stages=True, version_id=version_id)
            raise ResourceExistsException(
                f"You can't use ClientRequestToken {version_id} because that value is already in use "
                f"for a version of secret {secret.arn}."
            )
        stages = list(version_stages or ["AWSCURRENT"])
        if secret.default_version_id is None and "AWSCURRENT" not in stages:
            stages.append("AWSCURRENT")  # the first value of a secret is always AWSCURRENT
        now = int(time.time())
        # A version RotateSecret created has no value yet: the rotation function fills it.
        version = existing or {"createdate": now, "version_id": version_id, "version_stages": []}
        if secret_string is not None:
            version["secret_string"] = secret_string
        if secret_binary is not None:
            version["secret_binary"] = secret_binary
        secret.versions[version_id] = version
        _attach(secret, version_id, stages)
        secret.last_changed_date = now
        return secret.to_short_dict(include_version_stages=True, version_id=version_id)

    Backend.put_secret_value = put_secret_value

    def update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
        secret = _primary(self, secret_id)
        for vid in (remove_from_version_id, move_to_version_id):
            if vid and vid not in secret.versions:
                raise InvalidParameterException(f"Not a valid version: {vid}")
        holder = next(
            (vid for vid, v in secret.versions.items() if version_stage in v["version_stages"]), None
        )
        if remove_from_version_id and remove_from_version_id != holder:
            raise InvalidParameterException(
                f"Version stage {version_stage} not found in version {remove_from_version_id}"
            )
        if move_to_version_id:
            if holder not in (None, move_to_version_id) and remove_from_version_id != holder:
                raise InvalidParameterException(
                    f"The parameter RemoveFromVersionId can't be empty. Staging label {version_stage} is "
                    f"currently attached to version {holder}, so you must explicitly reference that "
                    "version in RemoveFromVersionId."
                )
            _attach(secret, move_to_version_id, [version_stage])
        elif remove_from_version_id:
            secret.versions[remove_from_version_id]["version_stages"].remove(version_stage)
        return secret.arn, secret.name

    Backend.update_secret_version_stage = update_secret_version_stage

    orig_get_secret_value = Backend.get_secret_value

    def get_secret_value(self, secret_id, version_id, version_stage):
        try:
            return orig_get_secret_value(self, secret_id, version_id, version_stage)
        except SecretStageVersionMismatchException:
            # AWS: ResourceNotFoundException (moto: InvalidRequestException).
            raise ResourceNotFoundException(
                f"Secrets Manager can't find the specified secret value for VersionId: {version_id}"
            ) from None

    Backend.get_secret_value = get_secret_value

    def r_list_secret_version_ids(self):
        secret = self.backend.secrets.get(self._get_param("SecretId", if_none=""))
        if secret is None:
            raise SecretNotFoundException()
        include_deprecated = str(self._get_param("IncludeDeprecated", False)).lower() == "true"
        versions = [
            {
                "VersionId": vid,
                "VersionStages": v["version_stages"],
                "CreatedDate": v["createdate"],
            }
            for vid, v in secret.versions.items()
            if v["version_stages"] or include_deprecated
        ]
        return json.dumps({"ARN": secret.arn, "Name": secret.name, "Versions": versions})

    SecretsManagerResponse.list_secret_version_ids = r_list_secret_version_ids

    # ------------------------------------------- 13. test-only: stage a pending token
    def strict_stage_pending(self, secret_id, token):
        """What RotateSecret (RotateImmediately) leaves behind before it invokes createSecret:
        version `token` with no value, labelled AWSPENDING (the label leaves any other version).
        The rotation configuration is not touched. A version `token` that has no value yet is
        (re)labelled; one with a value -> ResourceExistsException."""
        secret = _primary(self, secret_id)
        self._client_request_token_validator(token)
        existing = secret.versions.get(token)
        if existing is not None and _has_value(existing):
            raise ResourceExistsException(
                f"You can't use ClientRequestToken {token} because that value is already in use "
                f"for a version of secret {secret.arn}."
            )
        if existing is None:
            secret.versions[token] = {
                "createdate": int(time.time()),
                "version_id": token,
                "version_stages": [],
            }
        _attach(secret, token, ["AWSPENDING"])
        return secret

    Backend.strict_stage_pending = strict_stage_pending

    orig_sm_call_action = SecretsManagerResponse.call_action

    def sm_call_action(self):
        with _SM_LOCK:
            return orig_sm_call_action(self)

    SecretsManagerResponse.call_action = sm_call_action


# ------------------------------------------------- 10. STS GetCallerIdentity authenticates
_TLS = threading.local()


def _install_sts_patches() -> None:
    from moto.core.exceptions import InvalidClientTokenIdError, SignatureDoesNotMatchError, _RESTError
    from moto.iam import models as m
    from moto.iam.access_control import IAMRequest
    from moto.sts.responses import TokenResponse
    from moto.utilities.utils import get_partition

    class MissingAuthenticationToken(_RESTError):
        code = 403

        def __init__(self):
            super().__init__("MissingAuthenticationToken", "Request is missing Authentication Token")

    # moto records an access key's last use in BaseResponse.setup_class, before anything is
    # checked; for GetCallerIdentity it is deferred until the request authenticated.
    orig_mark = m.mark_account_as_visited

    def mark_account_as_visited(account_id, access_key, service, region):
        if getattr(_TLS, "defer_mark", False):
            _TLS.deferred_mark = (account_id, access_key, service, region)
            return
        orig_mark(account_id, access_key, service, region)

    m.mark_account_as_visited = mark_account_as_visited

    orig_setup_class = TokenResponse.setup_class

    def setup_class(self, *args, **kwargs):
        _TLS.defer_mark, _TLS.deferred_mark = True, None
        try:
            orig_setup_class(self, *args, **kwargs)
        finally:
            _TLS.defer_mark = False
        deferred, _TLS.deferred_mark = _TLS.deferred_mark, None
        self._strict_deferred_mark = deferred
        if deferred and self._get_action() != "GetCallerIdentity":
            orig_mark(*deferred)

    TokenResponse.setup_class = setup_class

    def _authenticate(resp):
        """The request's SigV4 Authorization header names an Active IAM access key (or moto STS
        temporary credentials) and its signature verifies, else the AWS error."""
        auth = resp.headers.get("Authorization") or ""
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise MissingAuthenticationToken()
        key_id = auth.partition("Credential=")[2].partition("/")[0]
        scope = auth.partition("Credential=")[2].partition(",")[0].split("/")
        partition = get_partition(scope[2]) if len(scope) >= 3 else "aws"
        key = m.iam_backends[resp.current_account][partition].access_keys.get(key_id)
        if key is None or key.status != "Active":
            raise InvalidClientTokenIdError()
        path = resp.raw_path
        query = urlparse(resp.uri).query
        if query:
            path += "?" + query
        try:
            request = IAMRequest(
                account_id=resp.current_account,
                method=resp.method,
                path=path,
                data=resp.data,
                body=resp.raw_body,
                headers=resp.headers,
                action=resp._get_action(),
            )  # raises InvalidClientTokenId for a key no user (or assumed role) owns
            request.check_signature()  # raises SignatureDoesNotMatch
        except (InvalidClientTokenIdError, SignatureDoesNotMatchError):
            raise
        except Exception:  # malformed Authorization header, no X-Amz-Date, ...
            raise SignatureDoesNotMatchError() from None

    orig_get_caller_identity = TokenResponse.get_caller_identity

    def get_caller_identity(self):
        with _IAM_LOCK:
            _authenticate(self)
            deferred = getattr(self, "_strict_deferred_mark", None)
            if deferred:
                orig_mark(*deferred)
            return orig_get_caller_identity(self)

    TokenResponse.get_caller_identity = get_caller_identity


# ------------------------------------------------- 12. CloudFormation stacks from a model
def _install_cloudformation_patches() -> None:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def _stack_member(rec):
        # The members moto gives its own stacks (Tags: moto's response transformer for
        # DescribeStacks turns the dict into the list).
        return {
            "StackId": rec["StackId"],
            "StackName": rec["StackName"],
            "Parameters": [],
            "CreationTime": rec["CreationTime"],
            "StackStatus": rec["StackStatus"],
            "DisableRollback": False,
            "NotificationARNs": [],
            "Tags": {},
            "EnableTerminationProtection": False,
        }

    orig_describe_stacks = CloudFormationResponse.describe_stacks

    def describe_stacks(self):
        name = self._get_param("StackName")
        if name:
            with _CFN_LOCK:
                rec = _cfn_lookup(name, self.current_account, self.region)
                if rec is not None:
                    return ActionResult({"Stacks": [_stack_member(rec)]})
            return orig_describe_stacks(self)  # unknown: "Stack with id X does not exist"
        result = orig_describe_stacks(self)
        data = result.result
        if not data.get("NextToken"):  # modelled stacks follow moto's own, on the last page
            with _CFN_LOCK:
                data["Stacks"] = list(data["Stacks"]) + [
                    _stack_member(rec)
                    for rec in _CFN_STACKS.values()
                    if _cfn_in_scope(rec, self.current_account, self.region)
                    and rec["StackStatus"] != "DELETE_COMPLETE"
                ]
        return result

    CloudFormationResponse.describe_stacks = describe_stacks

    orig_describe_stack_resource = CloudFormationResponse.describe_stack_resource

    def describe_stack_resource(self):
        name = self._get_param("StackName")
        logical_id = self._get_param("LogicalResourceId")
        with _CFN_LOCK:
            rec = _cfn_lookup(name, self.current_account, self.region)
            if rec is not None:
                res = rec["Resources"].get(logical_id)
                if res is None:
                    raise ValidationError(name, f"Resource {logical_id} does not exist for stack {name}")
                detail = {
                    "StackId": rec["StackId"],
                    "StackName": rec["StackName"],
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": res.get("PhysicalResourceId"),  # None: omitted
                    "ResourceType": res["ResourceType"],
                    "LastUpdatedTimestamp": res["LastUpdatedTimestamp"],
                    "ResourceStatus": res["ResourceStatus"],
                }
                return ActionResult({"StackResourceDetail": detail})
        try:
            return orig_describe_stack_resource(self)
        except ValidationError as err:
            # AWS words it differently for this action than for DescribeStacks.
            if err.message == f"Stack with id {name} does not exist":
                raise ValidationError(name, f"Stack '{name}' does not exist") from None
            raise

    CloudFormationResponse.describe_stack_resource = describe_stack_resource


# ------------------------------------------------- 11. test-only: seed access key dates
ACCESS_KEY_DATES_PATH = "/moto-api/planton/access-key-dates"


def _parse_utc(value):
    """ISO 8601 -> naive UTC datetime (moto stores naive UTC); a naive input means UTC."""
    from datetime import datetime, timezone

    if not isinstance(value, str):
        raise ValueError(f"not an ISO 8601 string: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _seed_access_key_dates(payload):
    """(status, body) for POST ACCESS_KEY_DATES_PATH with the decoded JSON payload."""
    from moto.iam.models import AccessKeyLastUsed, iam_backends

    if not isinstance(payload, dict) or not isinstance(payload.get("access_key_id"), str):
        return 400, {"error": "body must be a JSON object with a string access_key_id"}
    unknown = set(payload) - {
        "access_key_id", "create_date", "last_used_date", "last_used_service", "last_used_region",
    }
    if unknown:
        return 400, {"error": f"unknown fields: {sorted(unknown)}"}
    try:
        create_date = _parse_utc(payload["create_date"]) if "create_date" in payload else None
        last_used = payload.get("last_used_date")
        last_used = _parse_utc(last_used) if last_used is not None else None
    except ValueError as err:
        return 400, {"error": str(err)}
    key_id = payload["access_key_id"]
    with _IAM_LOCK:
        for account in list(iam_backends.values()):
            for backend in list(account.values()):
                key = backend.access_keys.get(key_id)
                if key is None:
                    continue
                if create_date is not None:
                    key.create_date = create_date
                if "last_used_date" in payload:
                    key.last_used = (
                        AccessKeyLastUsed(
                            timestamp=last_used,
                            service=payload.get("last_used_service", "sts"),
                            region=payload.get("last_used_region", "us-east-1"),
                        )
                        if last_used is not None
                        else None
                    )
                return 200, {
                    "access_key_id": key_id,
                    "user_name": key.user_name,
                    "create_date": key.create_date.isoformat() + "Z",
                    "last_used_date": key.last_used.timestamp.isoformat() + "Z" if key.last_used else None,
                }
    return 404, {"error": f"The Access Key with id {key_id} cannot be found"}


# ------------------------------------------------- 12. test-only: the CloudFormation model
CFN_STACKS_PATH = "/moto-api/planton/stacks"
CFN_STACK_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:cloudformation:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):"
    r"stack/([A-Za-z][A-Za-z0-9-]{0,127})/([^/\s]+)"
)
CFN_LOGICAL_ID = re.compile(r"[A-Za-z0-9]{1,255}")

_CFN_LOCK = threading.RLock()
_CFN_STACKS: dict = {}  # StackId -> record; the most recently set last


def _cfn_in_scope(rec, account, region):
    return rec["Account"] == account and rec["Region"] == region


def _cfn_lookup(name_or_id, account, region):
    """The modelled stack a StackName names in this account and region (call with _CFN_LOCK):
    its StackId, or its name unless it is DELETE_COMPLETE (as AWS: a deleted stack is found by
    id only); the most recently set of several. None if not modelled."""
    rec = _CFN_STACKS.get(name_or_id)
    if rec is not None and _cfn_in_scope(rec, account, region):
        return rec
    named = [
        rec
        for rec in _CFN_STACKS.values()
        if rec["StackName"] == name_or_id
        and rec["StackStatus"] != "DELETE_COMPLETE"
        and _cfn_in_scope(rec, account, region)
    ]
    return named[-1] if named else None


def _iso_z(when):
    return when.isoformat() + "Z"


def _cfn_view(rec):
    """The JSON the endpoint answers with: the record as set, plus StackName and timestamps."""
    resources = {}
    for logical_id, res in rec["Resources"].items():
        view = {"ResourceType": res["ResourceType"], "ResourceStatus": res["ResourceStatus"]}
        if res.get("PhysicalResourceId") is not None:
            view["PhysicalResourceId"] = res["PhysicalResourceId"]
        view["LastUpdatedTimestamp"] = _iso_z(res["LastUpdatedTimestamp"])
        resources[logical_id] = view
    return {
        "StackId": rec["StackId"],
        "StackName": rec["StackName"],
        "StackStatus": rec["StackStatus"],
        "CreationTime": _iso_z(rec["CreationTime"]),
        "Resources": resources,
    }


def _clear_stack_model():
    with _CFN_LOCK:
        _CFN_STACKS.clear()


def _set_stack_model(payload):
    """(status, body) for POST CFN_STACKS_PATH with the decoded JSON payload."""
    from moto.core.utils import get_service_model, utcnow

    if not isinstance(payload, dict) or not isinstance(payload.get("StackId"), str):
        return 400, {"error": "body must be a JSON object with a string StackId"}
    stack_id = payload["StackId"]
    match = CFN_STACK_ARN.fullmatch(stack_id)
    if not match:
        return 400, {"error": f"not a CloudFormation stack ARN: {stack_id!r}"}
    if "Delete" in payload:
        if payload["Delete"] is not True or set(payload) != {"StackId", "Delete"}:
            return 400, {"error": 'delete with exactly {"StackId": ..., "Delete": true}'}
        with _CFN_LOCK:
            _CFN_STACKS.pop(stack_id, None)
        return 200, {"StackId": stack_id, "Deleted": True}
    unknown = set(payload) - {"StackId", "StackStatus", "Resources", "Merge"}
    if unknown:
        return 400, {"error": f"unknown fields: {sorted(unknown)}"}
    merge = payload.get("Merge", False)
    if merge not in (True, False):
        return 400, {"error": "Merge must be true or false"}
    model = get_service_model("cloudformation")
    stack_statuses = model.shape_for("StackStatus").enum
    resource_statuses = model.shape_for("ResourceStatus").enum
    if payload.get("StackStatus") not in stack_statuses:
        return 400, {"error": f"StackStatus must be one of {stack_statuses}"}
    resources_in = payload.get("Resources", {})
    if not isinstance(resources_in, dict):
        return 400, {"error": "Resources must be an object of logical id -> resource"}
    now = utcnow()
    resources = {}
    for logical_id, res in resources_in.items():
        where = f"Resources.{logical_id}"
        if not CFN_LOGICAL_ID.fullmatch(logical_id):
            return 400, {"error": f"{where}: a logical id is 1-255 letters and digits"}
        if not isinstance(res, dict):
            return 400, {"error": f"{where} must be an object"}
        unknown = set(res) - {"ResourceType", "ResourceStatus", "PhysicalResourceId"}
        if unknown:
            return 400, {"error": f"{where}: unknown fields: {sorted(unknown)}"}
        if not isinstance(res.get("ResourceType"), str) or not res["ResourceType"]:
            return 400, {"error": f"{where}.ResourceType must be a non-empty string"}
        if res.get("ResourceStatus") not in resource_statuses:
            return 400, {"error": f"{where}.ResourceStatus must be one of {resource_statuses}"}
        physical = res.get("PhysicalResourceId")
        if physical is not None and (not isinstance(physical, str) or not physical):
            return 400, {"error": f"{where}.PhysicalResourceId must be a non-empty string or null"}
        resources[logical_id] = {
            "ResourceType": res["ResourceType"],
            "ResourceStatus": res["ResourceStatus"],
            "PhysicalResourceId": physical,
            "LastUpdatedTimestamp": now,
        }
    region, account, name = match.group(1), match.group(2), match.group(3)
    with _CFN_LOCK:
        old = _CFN_STACKS.pop(stack_id, None)
        if merge and old:
            resources = {**old["Resources"], **resources}
        rec = {
            "StackId": stack_id,
            "StackName": name,
            "Region": region,
            "Account": account,
            "StackStatus": payload["StackStatus"],
            "CreationTime": old["CreationTime"] if old else now,
            "Resources": resources,
        }
        _CFN_STACKS[stack_id] = rec
        return 200, _cfn_view(rec)


# ------------------------------------------------- 13. test-only: stage a rotation token
STAGE_PENDING_PATH = "/moto-api/planton/stage-pending"


def _stage_pending(payload):
    """(status, body) for POST STAGE_PENDING_PATH with the decoded JSON payload."""
    from moto.core.exceptions import JsonRESTError
    from moto.secretsmanager.models import secretsmanager_backends

    if not isinstance(payload, dict) or not all(
        isinstance(payload.get(k), str) and payload.get(k) for k in ("SecretId", "ClientRequestToken")
    ):
        return 400, {"error": "body must be a JSON object with string SecretId and ClientRequestToken"}
    unknown = set(payload) - {"SecretId", "ClientRequestToken"}
    if unknown:
        return 400, {"error": f"unknown fields: {sorted(unknown)}"}
    secret_id, token = payload["SecretId"], payload["ClientRequestToken"]
    with _SM_LOCK:
        if secret_id.startswith("arn:"):
            parts = secret_id.split(":")
            if len(parts) < 7 or parts[2] != "secretsmanager":
                return 400, {"error": f"not a Secrets Manager secret ARN: {secret_id!r}"}
            try:
                candidates = [secretsmanager_backends[parts[4]][parts[3]]]
            except KeyError:  # a region moto does not know
                candidates = []
        else:
            candidates = [
                backend for account in list(secretsmanager_backends.values()) for backend in list(account.values())
            ]
        holders = [b for b in candidates if b._is_valid_identifier(secret_id)]
        if not holders:
            return 404, {
                "error": f"ResourceNotFoundException: Secrets Manager can't find the specified secret: {secret_id}"
            }
        if len(holders) > 1:
            return 400, {"error": f"several accounts/regions have a secret {secret_id}: give its ARN"}
        try:
            secret = holders[0].strict_stage_pending(secret_id, token)
        except JsonRESTError as err:  # moto's Secrets Manager errors
            status = {"ResourceExistsException": 409}.get(err.error_type, 400)
            return status, {"error": f"{err.error_type}: {err.message}"}
        return 200, {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": token,
            "VersionIdsToStages": secret._form_version_ids_to_stages(),
        }


_EVENTS: list = []
_EVENTS_LOCK = threading.Lock()


def _install_events_patches() -> None:
    """Record every PutEvents entry moto accepts (14)."""
    from moto.events.models import EventsBackend

    original = EventsBackend.put_events

    def put_events(self, events):
        result = original(self, events)
        with _EVENTS_LOCK:
            for event, entry in zip(events, result):
                if "EventId" not in entry:
                    continue
                try:
                    detail = json.loads(event.get("Detail") or "null")
                except ValueError:
                    detail = event.get("Detail")
                _EVENTS.append({
                    "EventBusName": event.get("EventBusName") or "default",
                    "Source": event.get("Source"),
                    "DetailType": event.get("DetailType"),
                    "Detail": detail,
                    "Resources": event.get("Resources") or [],
                })
        return result

    EventsBackend.put_events = put_events


EVENTS_PATH = "/moto-api/planton/events"


def _recorded_events(payload):
    """(status, body) for POST EVENTS_PATH."""
    if payload is None:
        payload = {}
    if not isinstance(payload, dict) or set(payload) - {"Source"}:
        return 400, {"error": "body must be a JSON object with at most a Source field"}
    source = payload.get("Source")
    with _EVENTS_LOCK:
        events = [e for e in _EVENTS if source is None or e["Source"] == source]
    return 200, {"Events": events}


TEST_ENDPOINTS = {
    ACCESS_KEY_DATES_PATH: _seed_access_key_dates,
    CREDENTIAL_REPORT_PATH: _credential_report_control,
    CFN_STACKS_PATH: _set_stack_model,
    STAGE_PENDING_PATH: _stage_pending,
    EVENTS_PATH: _recorded_events,
}
RESET_PATH = "/moto-api/reset"


def _with_test_endpoints(app):
    """WSGI middleware: serves TEST_ENDPOINTS (loopback clients only), clears the stack model on
    POST RESET_PATH (then moto resets), passes everything else on."""

    def wsgi(environ, start_response):
        path = environ.get("PATH_INFO")
        if path == RESET_PATH and environ.get("REQUEST_METHOD") == "POST":
            _clear_stack_model()
            with _EVENTS_LOCK:
                _EVENTS.clear()
            with _REPORT_LOCK:
                _REPORT_SETTINGS["generation_seconds"] = 0.0
        handler = TEST_ENDPOINTS.get(path)
        if handler is None:
            return app(environ, start_response)
        remote = environ.get("REMOTE_ADDR", "")
        if not (remote.startswith("127.") or remote in ("::1", "::ffff:127.0.0.1")):
            status, body = 403, {"error": "loopback clients only"}
        elif environ.get("REQUEST_METHOD") != "POST":
            status, body = 405, {"error": "POST only"}
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                payload = json.loads(environ["wsgi.input"].read(length) or b"null")
            except ValueError as err:
                status, body = 400, {"error": f"invalid JSON: {err}"}
            else:
                status, body = handler(payload)
        data = json.dumps(body).encode()
        reason = {
            200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict",
        }
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        if status == 405:
            headers.append(("Allow", "POST"))
        start_response(f"{status} {reason[status]}", headers)
        return [data]

    return wsgi


def _prewarm(app) -> None:
    """Create the IAM backend (loads the AWS managed policies) and the common apps now."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from, iam_backends
    from moto.moto_server.werkzeug_app import create_backend_app

    with _IAM_LOCK:
        iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
        # Every request resolves its account through get_account_id_from(), which creates
        # the IAM backend of every partition (~1 s in all); do it now, not in a request.
        get_account_id_from("AKIASTRICTMOTOPREWARM")
    with app.lock:
        for service in ("iam", "sts", "secretsmanager", "cloudformation", "events"):
            if service not in app.app_instances:
                app.app_instances[service] = create_backend_app(service)


def _watch_stdin() -> None:
    """Exit the whole process when stdin reaches EOF (the parent test process died)."""
    try:
        while os.read(0, 65536):
            pass
    except OSError as err:  # no usable stdin: keep serving, say so on stderr
        print(f"strict_moto: not watching stdin ({err})", file=sys.stderr, flush=True)
        return
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    parser.add_argument(
        "--no-stdin-watch",
        action="store_true",
        help="do not exit on stdin EOF (for running by hand with stdin closed)",
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    # stdout carries only the ready line: everything else printed (moto prints some
    # warnings with print()) goes to stderr.
    ready_out = sys.stdout
    sys.stdout = sys.stderr

    if not args.no_stdin_watch:
        threading.Thread(target=_watch_stdin, name="stdin-eof-watch", daemon=True).start()

    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

    from werkzeug.serving import make_server

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    install_patches()

    verbose = args.verbose

    class Handler(MotoRequestHandler):
        def log_request(self, code="-", size="-"):
            if verbose:
                super().log_request(code, size)

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        args.host, args.port, _with_test_endpoints(app), threaded=True, request_handler=Handler
    )
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)  # moto uses it when it calls itself
    _prewarm(app)

    host = f"[{args.host}]" if ":" in args.host else args.host
    ready_out.write(f"{READY_PREFIX} http://{host}:{port}\n")
    ready_out.flush()
    print(
        f"strict_moto: ready on port {port} after {time.monotonic() - started:.2f}s",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
