"""The decision engine, tested directly: source rows, every input combination, ties, overrides."""

from __future__ import annotations

import pytest

from decision import engine

from .answers import SOURCE_ROWS


def test_every_row_of_the_table_has_a_case() -> None:
    assert sorted(SOURCE_ROWS) == sorted(row["strategy"] for row in engine.table()["rows"])


@pytest.mark.parametrize("strategy", SOURCE_ROWS)
def test_each_source_row_decides_its_own_strategy(strategy: str) -> None:
    decision = engine.decide(SOURCE_ROWS[strategy])
    rows = [row["strategy"] for row in engine.table()["rows"]]
    assert decision.strategy == strategy
    assert decision.row == rows.index(strategy) + 1
    assert decision.runner_up != strategy
    assert decision.reasons and decision.warnings == []


@pytest.mark.parametrize(
    "answers", engine.all_decision_inputs(), ids=lambda a: "-".join(a.values())
)
def test_every_combination_gets_exactly_one_explained_strategy(answers: dict[str, str]) -> None:
    decision = engine.decide(answers, revisit=False)
    assert decision.strategy in engine.table()["strategies"]
    assert decision.source in ("table", "rule")
    assert decision.reasons and all(reason.strip() for reason in decision.reasons)
    assert set(decision.scores) == set(engine.table()["strategies"])
    assert decision.runner_up in decision.scores and decision.runner_up != decision.strategy
    if decision.source == "table":
        assert decision.scores[decision.strategy] == max(decision.scores.values())
        assert decision.margin >= 0


@pytest.mark.parametrize(
    "answers", engine.all_decision_inputs()[::7], ids=lambda a: "-".join(a.values())
)
def test_decisions_are_deterministic(answers: dict[str, str]) -> None:
    assert engine.decide(answers) == engine.decide(dict(reversed(answers.items())))


@pytest.mark.parametrize(
    "answers", [a for a in engine.all_decision_inputs() if a["data_churn"] == "never"][::5]
)
def test_never_changing_data_is_always_precomputed(answers: dict[str, str]) -> None:
    decision = engine.decide(answers)
    assert (decision.strategy, decision.source) == ("precompute", "rule")
    assert "never" in decision.reasons[0]


def test_a_mostly_any_row_does_not_beat_a_specific_fit() -> None:
    # Precompute's row is "any" everywhere but churn; a row that fits specifically must win.
    scores = engine.decide(SOURCE_ROWS["batch"]).scores
    assert scores["batch"] > scores["precompute"]
    assert all(
        engine.decide(a, revisit=False).strategy != "precompute"
        for a in engine.all_decision_inputs()
        if a["data_churn"] != "never"
    )


def test_ties_go_to_the_simpler_strategy() -> None:
    simplicity = engine.table()["simplicity"]
    tied = 0
    for answers in engine.all_decision_inputs():
        decision = engine.decide(answers, revisit=False)
        best = max(decision.scores.values())
        leaders = [s for s, score in decision.scores.items() if score == best]
        if decision.source == "table" and len(leaders) > 1:
            tied += 1
            assert decision.strategy == min(leaders, key=simplicity.index)
            assert decision.margin == 0
    assert tied > 0, "the table has ties; this test must see some"


def test_an_explicit_strategy_wins_and_warns_where_it_contradicts() -> None:
    decision = engine.decide({**SOURCE_ROWS["stream"], "deployment_strategy": "database"})
    assert (decision.strategy, decision.source) == ("database", "explicit")
    assert any("data_volume=massive" in warning for warning in decision.warnings)
    assert decision.warnings[0].endswith("overrides the table's choice (stream)")


def test_an_explicit_strategy_that_agrees_does_not_warn() -> None:
    decision = engine.decide({**SOURCE_ROWS["rest"], "deployment_strategy": "rest"})
    assert (decision.strategy, decision.source, decision.warnings) == ("rest", "explicit", [])


def test_batch_tier_follows_volume() -> None:
    assert engine.decide(SOURCE_ROWS["batch"]).batch_tier["engine"] == "dask"
    small = engine.decide({**SOURCE_ROWS["batch"], "data_volume": "moderate"})
    assert small.batch_tier["engine"] == "pandas"
    assert engine.decide(SOURCE_ROWS["rest"]).batch_tier is None


def test_report_cards_come_from_the_source() -> None:
    assert engine.decide(SOURCE_ROWS["rest"]).report_card["speed"] == "8"
    assert engine.decide(SOURCE_ROWS["serverless"]).report_card is None


def test_revisit_lists_single_changes_that_flip_the_choice() -> None:
    decision = engine.decide(SOURCE_ROWS["rest"])
    assert decision.revisit
    for line in decision.revisit:
        name, rest = line.split(": ", 1)
        _, new_and_result = rest.split(" -> ")
        value, strategy = new_and_result.split(" would choose ")
        assert engine.decide({**SOURCE_ROWS["rest"], name: value}).strategy == strategy != "rest"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        (
            "data_volume",
            "huge",
            "data_volume='huge' is not allowed: use one of low, moderate, high, massive",
        ),
        ("latency_sla_ms", "0", "latency_sla_ms='0' is not allowed: use a positive whole number"),
        ("latency_sla_ms", "-5", "positive whole number"),
        ("project_slug", "My Project", "project_slug='My Project' is not allowed"),
        ("project_slug", "-x", "starting with a letter"),
        (
            "project_slug",
            "customer-lifetime-value",
            "use at most 20 characters, not 23 (give a shorter project_slug)",
        ),
        ("project_slug", "", "project_slug='' is not allowed: use a slug, not nothing"),
        ("project_slug", 'my "model"', "(no spaces, quotes, capitals or other characters)"),
        ("owners", "ml-team", "@user or @org/team"),
        ("schedule", "every day", "five cron fields"),
        ("author_email", "nobody", "email address"),
        ("package_index", "ftp://x", "use an https:// URL such as https://pypi.org/simple"),
    ],
)
def test_bad_answers_get_one_line_naming_variable_value_and_allowed(name, value, fragment) -> None:
    error = engine.check_answer(name, value)
    assert error is not None and fragment in error and "\n" not in error


@pytest.mark.parametrize(
    ("name", "value", "suggestion"),
    [
        ("data_volume", "masive", "massive"),
        ("data_volume", "moderat", "moderate"),
        ("framework", "sklearn", "scikit-learn"),
        ("caller", "externl", "external"),
        ("data_volume", "huge", None),
        ("framework", "tensorflow", None),
    ],
)
def test_a_misspelled_choice_suggests_the_closest_value(
    name: str, value: str, suggestion: str | None
) -> None:
    error = engine.check_answer(name, value)
    listed = "use one of " + ", ".join(engine.choices(name))
    hint = f" (did you mean {suggestion}?)" if suggestion else ""
    assert error == f"{name}={value!r} is not allowed: {listed}{hint}"


@pytest.mark.parametrize(
    "schedule",
    ["0 2 * * *", "*/15 0-6/2 1,15 1-12 1-5", "59 23 31 12 6", "0 0 1 1 0", "* * * * *"],
)
def test_a_schedule_within_every_fields_range_is_accepted(schedule: str) -> None:
    assert engine.check_answer("schedule", schedule) is None


@pytest.mark.parametrize(
    ("schedule", "allowed"),
    [
        ("0 25 * * *", "hour values from 0 to 23 in the second field (hour), not 25"),
        ("99 99 99 99 99", "minute values from 0 to 59 in the first field (minute), not 99"),
        ("0 2 0 * *", "day of month values from 1 to 31 in the third field (day of month), not 0"),
        ("0 2 * 1,13 *", "month values from 1 to 12 in the fourth field (month), not 13"),
        ("0 2 * * 1-7", "day of week values from 0 to 6 in the fifth field (day of week), not 7"),
        ("10-5 * * * *", "a range from low to high in the first field (minute), not '10-5'"),
        ("*/0 * * * *", "a step from 1 to 59 in the first field (minute), not '*/0'"),
        ("0 2 * * MON", f"{engine._CRON_SYNTAX} in the fifth field (day of week), not 'MON'"),
        ("5/15 * * * *", f"{engine._CRON_SYNTAX} in the first field (minute), not '5/15'"),
        ("0,,30 * * * *", f"{engine._CRON_SYNTAX} in the first field (minute), not ''"),
        ("@daily", "five cron fields such as '0 2 * * *' (minute, hour, day of month, month,"),
    ],
)
def test_a_schedule_is_refused_naming_the_field_the_value_and_the_range(
    schedule: str, allowed: str
) -> None:
    error = engine.check_answer("schedule", schedule)
    assert error is not None and "\n" not in error
    assert error.startswith(f"schedule={schedule!r} is not allowed: use {allowed}"), error


@pytest.mark.parametrize(
    "registry",
    [
        "docker.io/library",
        "registry.acme.example:5000/mirror/python-base",
        "localhost:5000",
        "[::1]:5000/dockerhub",
        "mirror.example.org/a__b/c.d",
    ],
)
def test_a_registry_host_with_a_port_and_a_path_is_an_image_registry(registry: str) -> None:
    assert engine.check_answer("base_image_registry", registry) is None


@pytest.mark.parametrize(
    "registry",
    [
        "evil.example.com/x y",  # would be written into FROM as two words
        "acme/python",  # no registry host: Docker Hub's acme
        "https://docker.io/library",
        "docker.io/Library",
        "docker.io/library:3.11",
        "docker.io//library",
        "registry.example.com:port",
        "",
    ],
)
def test_anything_else_is_refused_as_an_image_registry(registry: str) -> None:
    assert engine.check_answer("base_image_registry", registry) == (
        f"base_image_registry={registry!r} is not allowed: use a registry host[:port] and an"
        " optional lower-case path, such as docker.io/library or"
        " registry.acme.example:5000/mirror (no spaces, tags or schemes)"
    )


@pytest.mark.parametrize(
    ("index", "host"),
    [
        ("https://pypi.acme.example/simple", None),
        ("http://localhost:3141/root/pypi/+simple/", None),
        ("http://127.0.0.1:8080/simple", None),
        ("http://[::1]/simple", None),
        ("http://pypi.acme.example/simple", "pypi.acme.example"),
        ("http://127.evil.example/simple", "127.evil.example"),
    ],
)
def test_a_package_index_is_https_or_plain_http_to_a_loopback_host(
    index: str, host: str | None
) -> None:
    expected = None
    if host:
        expected = (
            f"package_index={index!r} is not allowed: use an https:// URL: plain http only to"
            f" a loopback host (localhost, 127.0.0.1, [::1]), not {host}"
        )
    assert engine.check_answer("package_index", index) == expected


@pytest.mark.parametrize(
    ("project_name", "slug"),
    [
        ("Customer Churn Model", "customer-churn-model"),
        ("Telecom Churn Nightly", "telecom-churn"),  # telecom-churn-nightly: 21 characters
        ("Supercalifragilisticexpialidocious model", "supercalifragilistic"),
        ("2024 Churn Model", "churn-model"),  # a slug starts with a letter
        ("Ünïcödé Naïve Bayes Model", "unicode-naive-bayes"),
    ],
)
def test_the_default_slug_of_a_project_name_is_a_valid_slug(project_name: str, slug: str) -> None:
    assert engine.default_slug(project_name) == slug
    assert engine.check_answer("project_slug", slug) is None


def test_defaults_are_valid_and_decide_rest() -> None:
    answers = {
        name: engine.default(name) for name in engine.table()["answers"] if name != "project_slug"
    }
    answers["project_slug"] = "customer-churn-model"
    assert engine.validation_errors(answers) == []
    assert engine.decide(answers).strategy == "rest"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("data_volume", None),
        ("_template", None),
        ("__anything", None),
        ("training_data", None),
        ("target", None),
        ("data_volum", "data_volum is not an answer of this template: did you mean data_volume?"),
        ("Caller", "Caller is not an answer of this template: did you mean caller?"),
        ("stateful_", "stateful_ is not an answer of this template: did you mean stateful?"),
    ],
)
def test_unknown_answer_names_get_the_closest_public_name(name: str, expected: str | None) -> None:
    assert engine.unknown_name_error(name) == expected


def test_optional_text_answers_may_be_empty_but_not_multi_line() -> None:
    assert engine.check_answer("training_data", "") is None
    assert engine.check_answer("target", "churned") is None
    assert engine.check_answer("target", "a\nb") is not None


@pytest.mark.parametrize(
    ("when", "values", "expected"),
    [
        ({}, {}, True),
        ({"strategy": "batch"}, {"strategy": "batch"}, True),
        ({"strategy": ["batch", "rest"]}, {"strategy": "rest"}, True),
        ({"strategy": "batch", "stateful": "yes"}, {"strategy": "batch", "stateful": "no"}, False),
        ({"legal_review": "yes"}, {}, False),
        ({"latency_sla_ms": 100}, {"latency_sla_ms": "100"}, True),
        ({"stateful": True}, {"stateful": "yes"}, False),
        ({"training_data": {"not": ""}}, {"training_data": "rows.csv"}, True),
        ({"training_data": {"not": ""}}, {"training_data": ""}, False),
        ({"training_data": {"not": ""}}, {}, False),
        ({"strategy": {"not": ["rest", "batch"]}}, {"strategy": "stream"}, True),
        ({"strategy": {"not": ["rest", "batch"]}}, {"strategy": "batch"}, False),
    ],
)
def test_one_condition_matcher(when: dict, values: dict, expected: bool) -> None:
    assert engine.matches(when, values) is expected


def test_the_summary_shows_half_points_the_runner_up_and_every_warning() -> None:
    answers = {**_defaults(), **SOURCE_ROWS["batch"], "deployment_strategy": "serverless"}
    decision = engine.decide(answers)
    lines = engine.summary(answers)
    assert lines[0].startswith("deployment: serverless, requested with deployment_strategy=")
    assert "stateful=yes (expects no, 0)" in lines[2]
    assert "data_volume=high (near low or moderate, 0.25)" in lines[2]
    assert lines[3].startswith(f"  runner-up: {decision.runner_up}, ")
    assert lines[4:] == [f"warning: {w}" for w in decision.warnings] and decision.warnings


def test_the_summary_names_the_rule_that_decided() -> None:
    lines = engine.summary({**_defaults(), **SOURCE_ROWS["precompute"]})
    assert lines[0] == (
        "deployment: precompute, by the rule data_churn=never (row 3: 3 of 5 points)"
    )
    assert lines[3] == "  runner-up: batch, 3.5 points (0.5 more, but the rule decides)"


def _defaults() -> dict[str, str]:
    return {
        name: engine.default(name) for name in engine.table()["answers"] if name != "project_slug"
    }


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (
            {**SOURCE_ROWS["database"], "latency_sla_ms": "20"},
            "realtime_sla=maybe contradicts latency_sla_ms=20: a target under 1000 ms",
        ),
        (
            {**SOURCE_ROWS["batch"], "latency_sla_ms": "300"},
            "realtime_sla=no contradicts latency_sla_ms=300",
        ),
        (
            {**SOURCE_ROWS["serverless"], "latency_sla_ms": "50"},
            "latency_sla_ms=50 is below serverless's measured cold start (520 ms with"
            " lambda_packaging=image, docs/strategies/serverless.md)",
        ),
        (
            {**SOURCE_ROWS["serverless"], "latency_sla_ms": "700", "lambda_packaging": "zip"},
            "measured cold start (870 ms with lambda_packaging=zip",
        ),
        (
            {**SOURCE_ROWS["serverless"], "deployment_strategy": "serverless", "stateful": "yes"},
            "serverless with stateful=yes",
        ),
        ({"latency_sla_ms": "10"}, "latency_sla_ms=10 is below rest's measured p99 (22.8 ms"),
        ({"peak_rps": "5000"}, "peak_rps=5000 is beyond rest's measured 2590 per second"),
        (
            {**SOURCE_ROWS["stream"], "peak_rps": "10000"},
            "peak_rps=10000 is beyond stream's measured 2825 per second",
        ),
    ],
)
def test_answers_that_contradict_each_other_or_the_figures_warn(
    changes: dict[str, str], fragment: str
) -> None:
    warnings = engine.decide({**_defaults(), **changes}).warnings
    assert any(fragment in warning for warning in warnings), warnings


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {**SOURCE_ROWS["batch"]},  # realtime_sla=no keeps the unasked default latency
        {**SOURCE_ROWS["serverless"], "latency_sla_ms": "2000"},
        {**SOURCE_ROWS["database"], "latency_sla_ms": "1000"},
        {"latency_sla_ms": "23", "peak_rps": "2590"},
    ],
)
def test_answers_that_agree_do_not_warn(changes: dict[str, str]) -> None:
    assert engine.decide({**_defaults(), **changes}).warnings == []


CARD_SWIPE = {
    "data_churn": "constant",
    "caller": "internal_high_throughput",
    "realtime_sla": "yes",
    "peak_rps": "2000",
    "latency_sla_ms": "50",
}
"""A fraud check on every card swipe: the payment waits for the answer."""


@pytest.mark.parametrize("volume", ["high", "massive"])
def test_a_waiting_caller_routed_to_an_asynchronous_strategy_warns_and_names_the_runner_up(
    volume: str,
) -> None:
    decision = engine.decide({**_defaults(), **CARD_SWIPE, "data_volume": volume})
    assert (decision.strategy, decision.runner_up) == ("stream", "rest")
    points = decision.scores["rest"]
    assert decision.warnings == [
        "realtime_sla=yes: the caller waits for each answer (latency_sla_ms=50), but stream"
        " answers asynchronously: it publishes each prediction to a topic for a consumer to"
        f" read; rest (the runner-up, {points:g} points) answers while the caller waits"
    ]


def test_the_strategy_that_answers_the_caller_is_named_when_the_runner_up_does_not() -> None:
    answers = {**_defaults(), "data_churn": "never", "caller": "internal_high_throughput"}
    decision = engine.decide({**answers, "data_volume": "massive"})
    assert (decision.strategy, decision.runner_up) == ("precompute", "stream")
    (warning,) = decision.warnings
    assert warning.startswith("realtime_sla=yes: the caller waits for each answer")
    assert warning.endswith(
        f"rest (below the runner-up stream, {decision.scores['rest']:g} points) answers while"
        " the caller waits"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {**CARD_SWIPE, "deployment_strategy": "rest"},  # answers the caller itself
        {**CARD_SWIPE, "data_volume": "massive", "realtime_sla": "no"},  # nobody waits
        {"deployment_strategy": "serverless", "latency_sla_ms": "2000"},
    ],
)
def test_a_strategy_that_answers_the_caller_or_a_caller_that_does_not_wait_is_not_warned(
    changes: dict[str, str],
) -> None:
    warnings = engine.decide({**_defaults(), **changes}).warnings
    assert not any("answers asynchronously" in warning for warning in warnings), warnings
