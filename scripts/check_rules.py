"""Evaluates template.yaml's Rules offline, as CloudFormation would before creating a stack, for
samconfig.toml's configs and for configs the Rules must refuse; then runs the template's transforms
(AWS::LanguageExtensions, then SAM's translator, as CloudFormation does at deploy) for samconfig.toml's
configs, which `sam validate --lint` does not (it runs cfn-lint only). scripts/check-template.sh runs it.

    check_rules.py TEMPLATE SAMCONFIG

Covers the functions the Rules use (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains, Ref to a
parameter or AWS::Region); anything else is an error, so a new rule cannot pass unevaluated.
"""

import shlex
import sys
import tomllib

from cfnlint.decode import decode


def parameters(template, overrides, region):
    values = {"AWS::Region": region}
    for name, spec in template["Parameters"].items():
        raw = overrides.get(name, spec.get("Default"))
        if raw is None:
            values[name] = None
        elif spec["Type"] == "CommaDelimitedList":
            values[name] = [item.strip() for item in str(raw).split(",")]
        else:
            values[name] = str(raw)
    return values


def evaluate(node, values):
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return [evaluate(item, values) for item in node]
    ((function, args),) = node.items()
    if function == "Ref":
        return values[args]
    args = [evaluate(arg, values) for arg in args]
    if function == "Fn::Equals":
        return args[0] == args[1]
    if function == "Fn::Not":
        return not args[0]
    if function == "Fn::And":
        return all(args)
    if function == "Fn::Or":
        return any(args)
    if function == "Fn::Contains":
        return args[1] in args[0]
    raise SystemExit(f"check_rules.py cannot evaluate {function}")


def refused(template, overrides, region="eu-west-1"):
    """The names of the rules whose assertions fail for these parameter values."""
    values = parameters(template, overrides, region)
    failed = []
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values):
            continue
        if not all(evaluate(a["Assert"], values) for a in rule["Assertions"]):
            failed.append(name)
    return failed


def config(samconfig, env):
    text = samconfig[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(text))


def translate(path, overrides):
    """The API's OpenAPI body after both transforms, for these parameter values."""
    from samcli.lib.cfn_language_extensions.api import process_template
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:
        def load(self):
            return {}

    with open(path) as f:
        template = yaml_parse(f.read())
    values = {k: v["Default"] for k, v in template["Parameters"].items() if "Default" in v}
    values.update(overrides)
    transforms = template["Transform"] if isinstance(template["Transform"], list) else [template["Transform"]]
    expanded = template
    if "AWS::LanguageExtensions" in transforms:
        expanded = process_template(template, parameter_values=values)
    for resource in expanded["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"  # what `sam deploy` uploads
    translated = transform(expanded, values, NoManagedPolicies())
    return translated["Resources"]["HttpApi"]["Properties"]["Body"]


def main():
    template, matches = decode(sys.argv[1])
    if matches:
        raise SystemExit(f"cannot read {sys.argv[1]}: {matches}")
    with open(sys.argv[2], "rb") as f:
        samconfig = tomllib.load(f)
    prod, dev = config(samconfig, "prod"), config(samconfig, "default")
    edge = {
        "EdgeProtection": "Enabled",
        "EdgeOriginDomainName": "api-origin.example.com",
        "EdgeOriginCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/x",
    }
    cases = [
        ("samconfig.toml's dev config", dev, "eu-west-1", []),
        ("samconfig.toml's prod config", prod, "eu-west-1", []),
        ("prod with CorsAllowedOrigins=*", {**prod, "CorsAllowedOrigins": "*"}, "eu-west-1",
         ["ProductionNamesItsOrigins"]),
        ("prod with * among its origins", {**prod, "CorsAllowedOrigins": "https://a.example,*"},
         "eu-west-1", ["ProductionNamesItsOrigins"]),
        ("prod without scopes", {**prod, "JwtAuthorizationScopes": ""}, "eu-west-1",
         ["ProductionNamesItsOrigins"]),
        ("prod without any parameter set", {"Environment": "prod"}, "eu-west-1",
         ["ProductionNamesItsOrigins"]),
        ("the edge on, ACL made in us-east-1", {**dev, **edge}, "us-east-1", []),
        ("the edge on, ACL passed in", {**dev, **edge, "EdgeWebAclArn": "arn:aws:wafv2:x"},
         "eu-west-1", []),
        ("the edge on, ACL to be made outside us-east-1", {**dev, **edge}, "eu-west-1",
         ["EdgeAclInUsEast1"]),
        ("the edge on without an origin", {**dev, "EdgeProtection": "Enabled"}, "us-east-1",
         ["EdgeNeedsAnOrigin"]),
    ]
    wrong = []
    for label, overrides, region, expected in cases:
        got = refused(template, overrides, region)
        print(f"rules: {label}: {'refused by ' + ', '.join(got) if got else 'accepted'}")
        if got != expected:
            wrong.append(f"{label}: expected {expected or 'accepted'}, got {got or 'accepted'}")
    if wrong:
        raise SystemExit("template.yaml's Rules do not decide as intended:\n" + "\n".join(wrong))

    for label, overrides in [("dev", dev), ("prod", prod), ("dev with the edge on", {**dev, **edge})]:
        body = translate(sys.argv[1], overrides)
        scopes = {
            str(s)
            for path in body["paths"].values()
            for operation in path.values()
            for requirement in operation.get("security", [])
            for s in requirement.get("JwtAuthorizer", [])
        }
        wanted = {s for s in overrides.get("JwtAuthorizationScopes", "").split(",") if s}
        origins = body["x-amazon-apigateway-cors"]["allowOrigins"]
        disabled = body["servers"][0]["x-amazon-apigateway-endpoint-configuration"]["disableExecuteApiEndpoint"]
        print(f"transform: {label}: scopes {sorted(scopes)}, CORS origins {origins}, execute-api disabled: {disabled}")
        if scopes != wanted:
            raise SystemExit(f"{label}: the routes require scopes {sorted(scopes)}, not {sorted(wanted)}")
        if not isinstance(origins, list):
            raise SystemExit(f"{label}: CORS origins are {origins!r}, not a list")
        if disabled != (overrides.get("EdgeProtection") == "Enabled"):
            raise SystemExit(f"{label}: disableExecuteApiEndpoint is {disabled}")


main()
