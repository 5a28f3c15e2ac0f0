"""``filters``: keep conditions on the json, parsed by a grammar (never eval), bad ones one-line errors."""

from __future__ import annotations

import pytest

from curation.config import build_config
from curation.errors import ConfigError
from curation.filters import Filters, parse_condition

META = {
    "status": "success",
    "motion": {"mean": 0.8, "per_second": [0.1, 2.5]},
    "video_metadata": {"duration": 3.0, "video_codec": "h264"},
    "label": "cat",
    "flag": True,
    "gone": None,
}


@pytest.mark.parametrize(("text", "keeps"), [
    ("motion.mean >= 0.5", True),
    ("motion.mean < 0.5", False),
    ("motion.mean > .8", False),
    ("motion.mean <= 8e-1", True),
    ("video_metadata.duration == 3", True),
    ("video_metadata.duration != 3", False),
    ("motion.per_second.1 > 2", True),  # list index
    ('video_metadata.video_codec == "h264"', True),
    ("label != 'dog'", True),
    ("flag == true", True),
    ("gone == null", True),
    ("motion.median > 0", False),  # missing field: dropped
    ("gone > 0", False),  # null field: dropped
    ("label > 3", False),  # not comparable: dropped
    ("flag > 0", False),  # booleans are not numbers here
    ("motion.per_second.5 > 0", False),  # index out of range
])
def test_conditions_keep_what_they_state(text: str, keeps: bool) -> None:
    assert parse_condition(text).holds(META) is keeps


def test_the_first_failing_filter_is_the_reason() -> None:
    filters = Filters(["status == 'success'", "motion.mean<0.5", "label == 'dog'"])
    assert filters.reason(META) == "motion.mean < 0.5"  # normalised spacing
    assert Filters(["motion.mean >= 0.5"]).reason(META) is None
    assert not Filters([])


@pytest.mark.parametrize("text", [
    "__import__('os').system('true') == 0",  # nothing is evaluated
    "motion.mean >> 3",
    "motion.mean < ",
    "motion.mean < abc",  # strings must be quoted
    "motion..mean < 1",
    "< 1",
    "motion.mean < 1 or 1 == 1",
])
def test_malformed_filters_are_one_line_config_errors(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config(None, filters=[text])
    message = str(caught.value)
    assert message.startswith("config error: filters[0]:") and "\n" not in message


def test_one_filter_may_be_given_as_a_string() -> None:
    assert build_config(None, filters="motion.mean >= 0.5").filters == ["motion.mean >= 0.5"]
    with pytest.raises(ConfigError, match=r"filters\.1"):
        build_config(None, filters=["a > 1", 3])
