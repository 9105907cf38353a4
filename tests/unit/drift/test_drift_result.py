"""The one list of issues: which count as drift, and the share they give, for both paths."""

import pytest

from shared.drift import (
    ALL_MISSING_IN_CURRENT,
    ALL_MISSING_IN_REFERENCE,
    MISSING_IN_CURRENT,
    NEW_IN_CURRENT,
    NOT_NUMERIC_IN_CURRENT,
    ColumnDrift,
    DriftResult,
)
from shared.drift.result import issue_result, missing_rate_issue, unseen_categories_issue


@pytest.mark.parametrize(
    ("issue", "drifted"),
    [
        (MISSING_IN_CURRENT, True),
        (ALL_MISSING_IN_CURRENT, True),
        (NOT_NUMERIC_IN_CURRENT, True),
        (ALL_MISSING_IN_REFERENCE, False),
        (NEW_IN_CURRENT, False),
    ],
)
def test_which_schema_issues_count_as_drift(issue, drifted):
    assert issue_result("x", issue) == ColumnDrift("x", None, None, None, drifted, issue)


def test_the_share_counts_checked_columns_not_new_ones():
    tested = ColumnDrift("a", "K-S p_value", 0.01, 0.05, True)
    result = DriftResult.of(
        [tested, issue_result("b", ALL_MISSING_IN_REFERENCE), issue_result("c", NEW_IN_CURRENT)],
        100,
        50,
    )

    assert result.drift_share == 0.5
    assert result.summary() == "1 of 2 columns drifted (50%): a"
    assert DriftResult.of([], 1, 1).drift_share == 0.0


def test_data_quality_issues_and_their_thresholds():
    assert missing_rate_issue(0.05, 0.15) == "missing-value rate rose from 5.0% to 15.0%"
    assert missing_rate_issue(0.05, 0.149) is None
    text, drifted = unseen_categories_issue({"b": 3, "a": 3, "c": 1}, 100)
    assert text == "unseen categories in current data: 3 (7.0% of values): 'a', 'b', 'c'"
    assert drifted
    assert not unseen_categories_issue({"rome": 4}, 100)[1]  # under 5%: the test decides
