import pytest
import torch

from model_package.models import ResNet, ResNetConfig, ResNetTransformer, TransformerDecoder

CONFIG = ResNetConfig([1, 8, 16], [8, 16, 32], [3, 3, 3], [2, 2, 1])


def test_resnet_output_shape():
    net = ResNet(CONFIG)
    y = net(torch.rand(2, 1, 32, 100))
    assert y.shape == (2, 32, 8, 25)
    assert net.output_size(32, 100) == (8, 25)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(in_channels=[1, 8], out_channels=[8], kernel_sizes=[3], strides=[1]), "one entry per block"),
        (dict(in_channels=[1, 4], out_channels=[8, 8], kernel_sizes=[3, 3], strides=[1, 1]), "block 1 takes in_channels=4"),
        (dict(in_channels=[1], out_channels=[8], kernel_sizes=[4], strides=[1]), "odd"),
    ],
)
def test_resnet_config_errors_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNetConfig(**kwargs)


def test_decoder_output_shape_and_learned_positions():
    dec = TransformerDecoder(num_classes=83, max_seq_length=10, dim=32, fc_dim=64, num_heads=4, num_layers=2)
    assert isinstance(dec.position_embedding, torch.nn.Embedding)
    logits = dec(torch.randint(0, 83, (3, 7)), torch.rand(3, 12, 32))
    assert logits.shape == (3, 7, 83)
    with pytest.raises(ValueError, match="exceed max_seq_length"):
        dec(torch.randint(0, 83, (1, 11)), torch.rand(1, 12, 32))


def test_decoder_is_causal():
    dec = TransformerDecoder(num_classes=20, max_seq_length=8, dim=16, fc_dim=32, num_heads=2, num_layers=2).eval()
    memory = torch.rand(1, 5, 16)
    tokens = torch.randint(0, 20, (1, 8))
    changed = tokens.clone()
    changed[0, 5:] = (changed[0, 5:] + 1) % 20
    a, b = dec(tokens, memory), dec(changed, memory)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6)  # earlier positions never see later tokens
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def _model(**kwargs):
    return ResNetTransformer(
        input_dims=(1, 32, 64), num_classes=83, max_seq_length=12, start_index=1, end_index=2, pad_index=3,
        resnet=CONFIG, tf_dim=32, tf_fc_dim=64, tf_nhead=4, tf_num_layers=2, **kwargs,
    )


@pytest.mark.parametrize("with_enc_pos", [False, True])
def test_encoder_memory_and_teacher_forced_shapes(with_enc_pos):
    model = _model(with_enc_pos=with_enc_pos)
    x = torch.rand(2, 1, 32, 64)
    memory = model.encode(x)
    assert memory.shape == (2, 8 * 16, 32)  # (B, H' * W', D)
    assert model(x, torch.randint(0, 83, (2, 11))).shape == (2, 11, 83)


def test_greedy_decoding_stops_and_pads_after_end():
    torch.manual_seed(0)
    model = _model().eval()
    # Force the head to always say <E> after a 'a' ... by biasing: first make every step say <E>.
    with torch.no_grad():
        model.decoder.head.weight.zero_()
        model.decoder.head.bias.fill_(-10.0)
        model.decoder.head.bias[2] = 10.0  # <E> always wins
    out = model.predict(torch.rand(3, 1, 32, 64))
    assert out.shape == (3, 12)
    assert (out[:, 0] == 1).all() and (out[:, 1] == 2).all() and (out[:, 2:] == 3).all()


def test_greedy_decoding_without_end_fills_the_sequence():
    model = _model().eval()
    with torch.no_grad():
        model.decoder.head.weight.zero_()
        model.decoder.head.bias.fill_(-10.0)
        model.decoder.head.bias[40] = 10.0  # 'a' forever
    out = model.predict(torch.rand(2, 1, 32, 64))
    assert (out[:, 1:] == 40).all()


def test_dropout_defaults_to_zero():
    model = _model()
    drops = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops and all(p == 0.0 for p in drops)
    attn = [m for m in model.modules() if hasattr(m, "dropout") and isinstance(m.dropout, float)]
    assert attn and all(m.dropout == 0.0 for m in attn)


def test_greedy_decoding_pads_sequences_that_end_early_and_stops_when_all_end():
    """Rows end at different steps; a finished row gets <P> even when the model says otherwise."""
    model = _model().eval()
    a, end = 40, 2
    scripts = [[end, a, a, a, a, a], [a, a, end, a, a, a]]  # what the 'model' says at each step
    calls = []

    def scripted_decode(memory, tokens):  # tokens (B, t) -> logits (B, t, C)
        t = tokens.shape[1]
        calls.append(t)
        logits = torch.zeros(tokens.shape[0], t, 83)
        for row, script in enumerate(scripts):
            logits[row, -1, script[t - 1]] = 1.0
        return logits

    model.decode = scripted_decode
    out = model.predict(torch.rand(2, 1, 32, 64))
    assert out[0].tolist() == [1, end] + [3] * 10
    assert out[1].tolist() == [1, a, a, end] + [3] * 8
    assert calls == [1, 2, 3]  # stopped once both rows had emitted <E>
