"""Widening a BERT to twice its hidden size keeps its function (workloads/widen.py)."""

from __future__ import annotations

import pytest
import torch

from harness.compat import ensure_torchvision
from workloads.widen import widen_bert_state_dict


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_widened_bert_computes_the_same_logits(attention: str) -> None:
    ensure_torchvision()
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    small_config = BertConfig(vocab_size=100, hidden_size=24, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=48, num_labels=3, attn_implementation=attention)  # fmt: skip
    small = BertForSequenceClassification(small_config).eval()
    with torch.no_grad():  # make every layer matter: default LayerNorms are identity and biases zero
        for parameter in small.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    wide_config = BertConfig(**{**small_config.to_dict(), "hidden_size": 48, "intermediate_size": 96})
    wide = BertForSequenceClassification(wide_config).eval()
    wide.load_state_dict(widen_bert_state_dict(small.state_dict(), num_heads=4), strict=True)

    input_ids = torch.randint(1, 100, (3, 9))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0  # padding must be masked the same way
    with torch.inference_mode():
        expected = small(input_ids=input_ids, attention_mask=attention_mask).logits
        widened = wide(input_ids=input_ids, attention_mask=attention_mask).logits
    assert widened.shape == expected.shape == (3, 3)
    torch.testing.assert_close(widened, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(expected[0], expected[2])  # the inputs really differ in the output


def test_widening_without_the_query_rescale_changes_the_function() -> None:
    """Guards the test above against passing vacuously: a wrong attention scale must show."""
    ensure_torchvision()
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(1)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=2, attn_implementation="eager")  # fmt: skip
    small = BertForSequenceClassification(config).eval()
    with torch.no_grad():
        for parameter in small.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    state = widen_bert_state_dict(small.state_dict(), num_heads=2)
    state["bert.encoder.layer.0.attention.self.query.weight"] *= 2**0.5
    state["bert.encoder.layer.0.attention.self.query.bias"] *= 2**0.5
    wide = BertForSequenceClassification(BertConfig(**{**config.to_dict(), "hidden_size": 32, "intermediate_size": 64}))
    wide.load_state_dict(state)
    input_ids = torch.randint(1, 50, (2, 7))
    with torch.inference_mode():
        assert not torch.allclose(wide.eval()(input_ids=input_ids).logits, small(input_ids=input_ids).logits, atol=1e-4)
