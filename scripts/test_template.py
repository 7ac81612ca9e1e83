#!/usr/bin/env python3
"""Template tests for the operations side of template.yaml (issue 27): every alarm notifies when it
fires and when it clears, the alarms the runbook (docs/operations.md) names exist and read the metrics
and dimensions the code emits, windows stay within CloudWatch's one-day limit for every allowed
parameter value, and the dashboard, saved queries and Contributor Insights rule cover every function.

Run by scripts/check-template.sh (part of `make test`); alone: `python3 scripts/test_template.py`
(needs PyYAML).
"""
import json
import os
import re
import sys
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAY = 86400


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    """`!Ref X` becomes {"Ref": "X"}, `!Sub ...` {"Fn::Sub": ...}, as CloudFormation reads them."""
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


_Loader.add_multi_constructor("!", _tag)

with open(os.path.join(ROOT, "template.yaml")) as f:
    TEMPLATE = yaml.load(f, _Loader)
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]
MAPPINGS = TEMPLATE.get("Mappings", {})


def of_type(kind):
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


ALARMS = of_type("AWS::CloudWatch::Alarm")
FUNCTIONS = of_type("AWS::Serverless::Function")
# Logical id -> function name (its CodeUri folder), as the code names it in the Function dimension.
FUNCTION_NAMES = {
    lid: f["Properties"]["CodeUri"].strip("/").split("/")[-1] for lid, f in FUNCTIONS.items()
}
CLEANUP = "CleanupStaleUploadsFunction"
API_FUNCTIONS = {lid: name for lid, name in FUNCTION_NAMES.items() if lid != CLEANUP}


# Function logical id -> its log group's logical id (LogGroupName /aws/lambda/${Function}).
LOG_GROUPS = {
    r["Properties"]["LogGroupName"]["Fn::Sub"].rsplit("${", 1)[1].rstrip("}"): name
    for name, r in RESOURCES.items()
    if r["Type"] == "AWS::Logs::LogGroup"
    and str(r["Properties"].get("LogGroupName", {}).get("Fn::Sub", "")).startswith("/aws/lambda/")
}


def per_function_metrics():
    """The metrics `Metric::per_function` in shared/src/ports/metrics.rs counts per Function."""
    with open(os.path.join(ROOT, "shared", "src", "ports", "metrics.rs")) as f:
        source = f.read()
    body = re.search(r"fn per_function\(self\) -> bool \{(.*?)\n    \}", source, re.S)
    assert body, "shared/src/ports/metrics.rs has Metric::per_function"
    return set(re.findall(r"Self::(\w+)", body.group(1)))


PER_FUNCTION = per_function_metrics()


def metric_stats(alarm):
    """(namespace, metric name, {dimension: value}, period) of every metric an alarm reads."""
    props = alarm["Properties"]
    if "MetricName" in props:
        dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
        return [(props["Namespace"], props["MetricName"], dims, props["Period"])]
    stats = []
    for query in props.get("Metrics", []):
        if "MetricStat" in query:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            stats.append((metric["Namespace"], metric["MetricName"], dims, stat["Period"]))
    return stats


def alarms_reading(namespace, metric, **dims):
    """Names of the alarms that read `metric` with at least these dimension values."""
    return sorted(
        name
        for name, alarm in ALARMS.items()
        for ns, m, d, _ in metric_stats(alarm)
        if ns == namespace and m == metric and all(d.get(k) == v for k, v in dims.items())
    )


def values_of(value, key=None):
    """Every value a Period/EvaluationPeriods/Threshold can take: a literal, a parameter's allowed
    values, or a mapping's entry for `key` (for every key when `key` is None)."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return [int(value)]
    if "Ref" in value:
        param = PARAMETERS[value["Ref"]]
        if "AllowedValues" in param:
            return [int(v) for v in param["AllowedValues"]]
        return [int(param.get("MaxValue", param["Default"]))]
    if "Fn::FindInMap" in value:
        mapping, _, field = value["Fn::FindInMap"]
        keys = MAPPINGS[mapping].keys() if key is None else [key]
        return [int(MAPPINGS[mapping][k][field]) for k in keys]
    raise AssertionError(f"unexpected value {value}")


def ref(name):
    return {"Ref": name}


class Alarms(unittest.TestCase):
    def test_every_alarm_notifies_when_it_fires_and_when_it_clears(self):
        self.assertGreaterEqual(len(ALARMS), 20)
        for name, alarm in ALARMS.items():
            props = alarm["Properties"]
            with self.subTest(alarm=name):
                self.assertEqual(props.get("AlarmActions"), [ref("AlarmTopic")])
                self.assertEqual(props.get("OKActions"), [ref("AlarmTopic")])
                self.assertTrue(props.get("AlarmDescription", "").strip())
                self.assertIn("TreatMissingData", props)

    def test_windows_stay_within_a_day_for_every_allowed_value(self):
        # Values from one mapping entry go together: each CleanupIntervals entry is one deployment.
        for key in MAPPINGS["CleanupIntervals"]:
            for name, alarm in ALARMS.items():
                props = alarm["Properties"]
                with self.subTest(alarm=name, interval=key):
                    periods = [
                        p for _, _, _, period in metric_stats(alarm) for p in values_of(period, key)
                    ]
                    for period in periods:
                        self.assertEqual(period % 60, 0, "a period is a multiple of 60 s")
                        for evaluations in values_of(props["EvaluationPeriods"], key):
                            self.assertLessEqual(period * evaluations, DAY)
        window = PARAMETERS["NoCompletionsWindowSeconds"]
        self.assertIn("AllowedValues", window, "the window is bounded")
        self.assertTrue(all(int(v) <= DAY for v in window["AllowedValues"]))

    def test_each_api_function_has_a_server_error_rate_alarm_with_a_minimum_request_count(self):
        self.assertIn("ServerErrors", PER_FUNCTION)
        for lid, function in API_FUNCTIONS.items():
            with self.subTest(function=function):
                names = alarms_reading("MultipartUpload", "ServerErrors", Function=function)
                self.assertEqual(len(names), 1, names)
                alarm = ALARMS[names[0]]
                self.assertIn(
                    ("AWS/Lambda", "Invocations", {"FunctionName": ref(lid)}, 300),
                    metric_stats(alarm),
                )
                expression = next(
                    q["Expression"] for q in alarm["Properties"]["Metrics"] if "Expression" in q
                )
                self.assertIn("${ServerErrorAlarmMinRequests}", json.dumps(expression))
                self.assertEqual(alarm["Properties"]["Threshold"], ref("ServerErrorAlarmPercent"))

    def test_complete_p99_duration_alarm_is_below_api_gateways_cut(self):
        props = ALARMS["CompleteDurationP99Alarm"]["Properties"]
        self.assertEqual((props["Namespace"], props["MetricName"]), ("AWS/Lambda", "Duration"))
        self.assertEqual(props["Dimensions"], [{"Name": "FunctionName", "Value": ref("CompleteFunction")}])
        self.assertEqual(props["ExtendedStatistic"], "p99")
        self.assertLess(props["Threshold"], 30000)

    def test_the_table_and_each_index_have_throttle_alarms(self):
        table = RESOURCES["UploadsTable"]["Properties"]
        indexes = [i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])]
        self.assertTrue(indexes)
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            table_alarms = [
                n
                for n in alarms_reading("AWS/DynamoDB", metric, TableName=ref("UploadsTable"))
                if not any("GlobalSecondaryIndexName" in d for _, _, d, _ in metric_stats(ALARMS[n]))
            ]
            self.assertTrue(table_alarms, f"an alarm on the table's {metric}")
            for index in indexes:
                with self.subTest(index=index, metric=metric):
                    self.assertTrue(
                        alarms_reading(
                            "AWS/DynamoDB",
                            metric,
                            TableName=ref("UploadsTable"),
                            GlobalSecondaryIndexName=index,
                        )
                    )

    def test_system_errors_are_watched_for_every_operation_the_functions_may_make(self):
        granted = set()
        for function in FUNCTIONS.values():
            for policy in function["Properties"].get("Policies", []):
                for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                    actions = statement.get("Action", []) if isinstance(statement, dict) else []
                    actions = [actions] if isinstance(actions, str) else actions
                    granted |= {a.split(":", 1)[1] for a in actions if a.startswith("dynamodb:")}
        self.assertIn("Query", granted)
        # Transactions are authorised by the actions of their writes but reported as themselves.
        for operation in sorted(granted | {"TransactWriteItems"}):
            with self.subTest(operation=operation):
                self.assertTrue(
                    alarms_reading(
                        "AWS/DynamoDB", "SystemErrors", TableName=ref("UploadsTable"), Operation=operation
                    )
                )

    def test_s3_request_metrics_cover_uploads_with_5xx_and_4xx_alarms(self):
        configs = RESOURCES["UploadsBucket"]["Properties"]["MetricsConfigurations"]
        filters = [c["Id"] for c in configs if c.get("Prefix") == "uploads/"]
        self.assertEqual(len(filters), 1)
        for metric in ("5xxErrors", "4xxErrors"):
            with self.subTest(metric=metric):
                names = alarms_reading(
                    "AWS/S3", metric, BucketName=ref("UploadsBucket"), FilterId=filters[0]
                )
                self.assertEqual(len(names), 1)
                self.assertIn(
                    "AllRequests", [m for _, m, _, _ in metric_stats(ALARMS[names[0]])]
                )

    def test_the_cleanup_is_watched(self):
        self.assertTrue(
            alarms_reading(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                QueueName={"Fn::GetAtt": ["CleanupDeadLetterQueue", "QueueName"]},
            )
        )
        self.assertTrue(alarms_reading("AWS/Lambda", "Errors", FunctionName=ref(CLEANUP)))
        backlog = alarms_reading("MultipartUpload", "CleanupIncomplete", Service="multipart-upload")
        self.assertEqual(backlog, ["CleanupBacklogAlarm"])
        props = ALARMS["CleanupBacklogAlarm"]["Properties"]
        self.assertEqual(props["EvaluationPeriods"], props["DatapointsToAlarm"])
        self.assertGreaterEqual(min(values_of(props["EvaluationPeriods"])), 2, "several runs")

    def test_cleanup_alarm_windows_derive_from_the_schedule(self):
        intervals = MAPPINGS["CleanupIntervals"]
        allowed = {str(v) for v in PARAMETERS["CleanupIntervalMinutes"]["AllowedValues"]}
        self.assertEqual(set(intervals), allowed)
        schedule = FUNCTIONS[CLEANUP]["Properties"]["Events"]["Schedule"]["Properties"]
        self.assertEqual(
            schedule["ScheduleExpression"],
            {"Fn::FindInMap": ["CleanupIntervals", ref("CleanupIntervalMinutes"), "Schedule"]},
        )
        units = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}
        for minutes, entry in intervals.items():
            with self.subTest(interval=minutes):
                count, unit = re.fullmatch(r"rate\((\d+) (\w+)\)", entry["Schedule"]).groups()
                self.assertEqual(int(count) * units[unit], int(minutes) * 60)
                self.assertEqual(entry["Seconds"], int(minutes) * 60)
                self.assertGreaterEqual(entry["NotRunningSeconds"], 2 * entry["Seconds"])
        not_running = ALARMS["CleanupNotRunningAlarm"]["Properties"]
        self.assertEqual(not_running["MetricName"], "Invocations")
        self.assertEqual(
            not_running["Period"],
            {"Fn::FindInMap": ["CleanupIntervals", ref("CleanupIntervalMinutes"), "NotRunningSeconds"]},
        )
        self.assertEqual(not_running["TreatMissingData"], "breaching")

    def test_no_completions_pages_only_when_uploads_were_initiated(self):
        props = ALARMS["NoCompletedUploadsAlarm"]["Properties"]
        read = {m: (d, p) for _, m, d, p in metric_stats(ALARMS["NoCompletedUploadsAlarm"])}
        self.assertEqual(set(read), {"UploadsInitiated", "UploadsCompleted"})
        for dims, period in read.values():
            self.assertEqual(period, ref("NoCompletionsWindowSeconds"))
            self.assertEqual(dims, {"Service": "multipart-upload"})
        expression = next(q["Expression"] for q in props["Metrics"] if q.get("ReturnData"))
        self.assertRegex(expression, r"initiated.*> 0.*AND")
        self.assertEqual(props["TreatMissingData"], "notBreaching")


def dashboard():
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(body)["widgets"]


class Dashboard(unittest.TestCase):
    def test_own_metrics_are_read_under_the_dimensions_the_code_emits(self):
        """A metric counted per function is read by Function; the others by Service only. Alarms
        included: a metric read under dimensions nobody emits shows nothing and never fires."""
        read = []
        for widget in dashboard():
            for metric in widget["properties"].get("metrics", []):
                if metric[0] == "MultipartUpload":
                    names = [x for x in metric[2:] if isinstance(x, str)]
                    read.append((metric[1], names[0::2]))
        for alarm in ALARMS.values():
            for ns, metric, dims, _ in metric_stats(alarm):
                if ns == "MultipartUpload":
                    read.append((metric, sorted(dims)))
        self.assertGreater(len(read), 10)
        for metric, dims in read:
            with self.subTest(metric=metric):
                expected = ["Function"] if metric in PER_FUNCTION else ["Service"]
                self.assertEqual(dims, expected)

    def test_client_errors_widget_covers_every_api_function(self):
        query = next(w["properties"]["query"] for w in dashboard() if w["type"] == "log")
        for lid in API_FUNCTIONS:
            self.assertIn(f"SOURCE '/aws/lambda/${{{lid}}}'", query)
        self.assertIn("ClientErrors", query)

    def test_errors_duration_and_throttles_per_function(self):
        for metric in ("Errors", "Duration", "Throttles"):
            shown = {
                m[3]
                for w in dashboard()
                for m in w["properties"].get("metrics", [])
                if m[:3] == ["AWS/Lambda", metric, "FunctionName"]
            }
            with self.subTest(metric=metric):
                self.assertEqual(shown, {f"${{{lid}}}" for lid in FUNCTIONS})

    def test_dependencies_and_cleanup_have_widgets(self):
        shown = {
            (m[0], m[1]) for w in dashboard() for m in w["properties"].get("metrics", []) if isinstance(m[0], str)
        }
        for metric in [
            ("AWS/DynamoDB", "ReadThrottleEvents"),
            ("AWS/DynamoDB", "SystemErrors"),
            ("AWS/DynamoDB", "TransactionConflict"),
            ("AWS/S3", "5xxErrors"),
            ("MultipartUpload", "CleanupLeft"),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ]:
            self.assertIn(metric, shown)


class WhoQueries(unittest.TestCase):
    def test_saved_queries(self):
        queries = {
            r["Properties"]["Name"]["Fn::Sub"].split("/", 1)[1]: r["Properties"]
            for r in of_type("AWS::Logs::QueryDefinition").values()
        }
        self.assertEqual(
            set(queries),
            {"errors-by-route-and-code", "top-users-by-requests", "top-users-by-429", "one-upload-history"},
        )
        function_groups = [ref(name) for name in LOG_GROUPS.values()]
        self.assertEqual(set(LOG_GROUPS), set(FUNCTIONS), "every function has its log group")
        for name in ("errors-by-route-and-code", "one-upload-history"):
            self.assertCountEqual(queries[name]["LogGroupNames"], function_groups)
        for name in ("top-users-by-requests", "top-users-by-429"):
            self.assertEqual(queries[name]["LogGroupNames"], [ref("ApiAccessLogGroup")])
            self.assertIn("by user", queries[name]["QueryString"])
        self.assertIn('"429"', queries["top-users-by-429"]["QueryString"])
        self.assertIn("ServerErrors", queries["errors-by-route-and-code"]["QueryString"])

    def test_contributor_insights_ranks_callers_by_the_access_logs_user(self):
        rules = of_type("AWS::CloudWatch::InsightRule")
        self.assertEqual(len(rules), 1)
        (props,) = [r["Properties"] for r in rules.values()]
        body, values = props["RuleBody"]["Fn::Sub"]
        rule = json.loads(body)
        self.assertEqual(rule["Contribution"]["Keys"], ["$.user"])
        self.assertEqual(values["Group"], ref("ApiAccessLogGroup"))
        access_format = RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]["Format"]
        self.assertIn('"user":', access_format)


class StricterDeployments(unittest.TestCase):
    def test_uploads_kms_key_option(self):
        encryption = RESOURCES["UploadsBucket"]["Properties"]["BucketEncryption"]
        (rule,) = encryption["ServerSideEncryptionConfiguration"]
        self.assertTrue(rule["BucketKeyEnabled"])
        condition, with_key, without = rule["ServerSideEncryptionByDefault"]["Fn::If"]
        self.assertEqual(condition, "HasUploadsKmsKey")
        self.assertEqual(with_key, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ref("UploadsKmsKeyArn")})
        self.assertEqual(without, {"SSEAlgorithm": "AES256"})
        for lid in ("InitializeFunction", "PresignedUrlFunction", "BatchPresignedUrlsFunction", "CompleteFunction"):
            statements = [
                s["Fn::If"][1]
                for p in FUNCTIONS[lid]["Properties"]["Policies"]
                for s in p.get("Statement", [])
                if isinstance(s, dict) and s.get("Fn::If", [None])[0] == "HasUploadsKmsKey"
            ]
            with self.subTest(function=lid):
                self.assertEqual(len(statements), 1)
                self.assertEqual(set(statements[0]["Action"]), {"kms:GenerateDataKey", "kms:Decrypt"})
                self.assertEqual(statements[0]["Resource"], ref("UploadsKmsKeyArn"))

    def test_optional_vpc_with_gateway_endpoints_limited_to_the_stacks_stores(self):
        vpc = TEMPLATE["Globals"]["Function"]["VpcConfig"]["Fn::If"]
        self.assertEqual(vpc[0], "HasVpc")
        self.assertEqual(vpc[1]["SubnetIds"], ref("SubnetIds"))
        endpoints = of_type("AWS::EC2::VPCEndpoint")
        self.assertEqual(len(endpoints), 2)
        for endpoint in endpoints.values():
            self.assertEqual(endpoint["Condition"], "HasGatewayEndpoints")
            self.assertEqual(endpoint["Properties"]["VpcEndpointType"], "Gateway")
            (statement,) = endpoint["Properties"]["PolicyDocument"]["Statement"]
            for resource in statement["Resource"]:
                self.assertRegex(json.dumps(resource), "UploadsBucket|UploadsTable")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    print(f"template tests: {result.testsRun} run, {len(result.failures) + len(result.errors)} failed")
    sys.exit(not result.wasSuccessful())
