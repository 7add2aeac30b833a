import pytest

from lorakit.core.config import load_config
from lorakit.core.errors import UsageError
from lorakit.core.template import IGNORE, render, template_hash


def test_config_precedence(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.001\n  epochs: 5\nlora:\n  rank: 8\n")
    cfg = load_config(path, {"train.epochs": 2})
    assert cfg.train.lr == 0.001 and cfg.train.epochs == 2 and cfg.lora.rank == 8


def test_config_unknown_key_suggests_closest(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rat: 0.1\n  epochs: two\nlora:\n  rnak: 4\n")
    with pytest.raises(UsageError) as err:
        load_config(path)
    text = str(err.value)
    assert "'lora.rank'" in text and "epochs" in text  # all problems in one error


def test_config_bad_yaml_names_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train: [1,\n")
    with pytest.raises(UsageError) as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_mask_trains_assistant_and_end_of_turn(tiny_tokenizer):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "Goodbye."}]
    r = render(tiny_tokenizer, msgs)
    trained = [t for t, l in zip(r.input_ids, r.labels) if l != IGNORE]
    text = tiny_tokenizer.decode(trained)
    assert text == "Hello.<|im_end|>Goodbye.<|im_end|>"
    assert r.turns == 2 and r.turns_ending_eot == 2 and r.truncated_turns == 0


def test_mask_reports_truncation(tiny_tokenizer):
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "word " * 50}]
    r = render(tiny_tokenizer, msgs, max_tokens=30)
    assert r.n_tokens == 30 and r.truncated_turns == 1 and r.turns_ending_eot == 0


def test_template_hash_changes_with_template(tiny_tokenizer):
    before = template_hash(tiny_tokenizer)
    original = tiny_tokenizer.chat_template
    tiny_tokenizer.chat_template = original + " "
    try:
        assert template_hash(tiny_tokenizer) != before
    finally:
        tiny_tokenizer.chat_template = original
