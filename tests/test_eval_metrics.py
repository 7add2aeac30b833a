from lorakit.eval import metrics


def test_exact_match_normalizes_case_space_and_punctuation():
    assert metrics.exact_match("  Paris. ", "paris") == 1.0
    assert metrics.exact_match("Paris, France", "Paris") == 0.0


def test_exact_match_compares_json_as_values():
    assert metrics.exact_match('{"b": 2, "a": 1}', '{"a": 1, "b": 2}') == 1.0
    assert metrics.exact_match('{"a": 1}', '{"a": 2}') == 0.0
    assert metrics.exact_match("not json", '{"a": 1}') == 0.0


def test_rouge_l_orders_by_overlap():
    ref = "the order ships within three business days"
    assert metrics.rouge_l(ref, ref) == 1.0
    close = metrics.rouge_l("your order ships in three business days", ref)
    far = metrics.rouge_l("please contact support", ref)
    assert 0.5 < close < 1.0 and far < close
    assert metrics.rouge_l("", ref) == 0.0


def test_auto_metric_rule():
    assert metrics.choose_metric(["yes", "no", "refund please"]) == "exact_match"
    long = ["We are sorry the parcel arrived late; a refund is on its way today."] * 3
    assert metrics.choose_metric(long) == "rouge_l"
    assert (
        metrics.choose_metric(['{"name": "Ann", "city": "Oslo", "age": 3, "x": 1, "y": 2}'])
        == "exact_match"
    )
    assert metrics.choose_metric(long, "exact_match") == "exact_match"


def test_length_and_format_checks():
    assert metrics.length_ok("one two three", "a b c d") == 1.0
    assert metrics.length_ok("word " * 40, "a b c") == 0.0
    assert metrics.format_ok('{"a": 1}', '{"b": 2}') == 1.0
    assert metrics.format_ok("a sentence", '{"b": 2}') == 0.0
    assert metrics.format_ok("- one\n- two", "- a\n- b") == 1.0
    assert metrics.format_ok("", "anything") == 0.0
