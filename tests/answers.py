"""Answers that reproduce each row of the source decision table."""

SOURCE_ROWS: dict[str, dict[str, str]] = {
    "stream": dict(
        data_volume="massive",
        data_churn="constant",
        realtime_sla="yes",
        caller="internal_high_throughput",
        stateful="no",
    ),
    "rest": dict(
        data_volume="moderate",
        data_churn="low",
        realtime_sla="yes",
        caller="external",
        stateful="yes",
    ),
    "precompute": dict(
        data_volume="high",
        data_churn="never",
        realtime_sla="no",
        caller="file_based",
        stateful="no",
    ),
    "serverless": dict(
        data_volume="low",
        data_churn="cadence",
        realtime_sla="maybe",
        caller="internal_private",
        stateful="no",
    ),
    "batch": dict(
        data_volume="high",
        data_churn="cadence",
        realtime_sla="no",
        caller="file_based",
        stateful="yes",
    ),
    "database": dict(
        data_volume="low", data_churn="low", realtime_sla="maybe", caller="database", stateful="yes"
    ),
}
