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


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_decoding_pads_sequences_that_end_early_and_stops_when_all_end(use_cache):
    """Rows end at different steps; a finished row gets <P> even when the model says otherwise."""
    model = _model().eval()
    a, end = 40, 2
    scripts = [[end, a, a, a, a, a], [a, a, end, a, a, a]]  # what the 'model' says at each step
    calls = []

    def said(step: int, batch: int) -> torch.Tensor:  # logits (B, C) of the model's step-th answer
        calls.append(step)
        logits = torch.zeros(batch, 83)
        for row, script in enumerate(scripts):
            logits[row, script[step]] = 1.0
        return logits

    if use_cache:  # step(token at position t) -> logits (B, C) for position t + 1
        model.decoder.step = lambda token, t, cache: said(t, token.shape[0])
    else:  # decode(memory, tokens (B, t)) -> logits (B, t, C), only the last one read
        model.decode = lambda memory, tokens: said(tokens.shape[1] - 1, tokens.shape[0])[:, None].expand(-1, tokens.shape[1], -1)
    out = model.predict(torch.rand(2, 1, 32, 64), use_cache=use_cache)
    assert out[0].tolist() == [1, end] + [3] * 10
    assert out[1].tolist() == [1, a, a, end] + [3] * 8
    assert calls == [0, 1, 2]  # stopped once both rows had emitted <E>


def _decisive(model: ResNetTransformer) -> ResNetTransformer:
    """Random weights scaled so that outputs depend on the image and rows end at different steps."""
    with torch.no_grad():
        for p in model.decoder.parameters():
            if p.dim() > 1:
                p.normal_(0, 2.0 / p.shape[-1] ** 0.5)
        if isinstance(model.decoder.position_embedding, torch.nn.Embedding):  # sinusoids stay fixed
            model.decoder.position_embedding.weight.normal_(0, 1.0)
        model.decoder.token_embedding.weight.normal_(0, 1.0)
        model.enc_proj.weight.mul_(20)
    return model.eval()


@pytest.mark.parametrize("dims,length,classes,joint", [((1, 32, 512), 34, 83, False), ((1, 64, 256), 200, 84, False), ((1, 32, 512), 34, 83, True)])
def test_cached_decoding_gives_the_same_tokens_as_full_recomputation(dims, length, classes, joint):
    end_steps = set()
    for seed in range(4):
        torch.manual_seed(seed)
        model = _decisive(ResNetTransformer(dims, classes, length, 1, 2, 3, with_enc_pos=True))
        if joint:  # decoding steered by a CTC head (blank 0) that sees mostly blanks, so rows may end
            model.attach_ctc_head(0, 0.5)
            with torch.no_grad():
                model.ctc_head.bias[0] = 6.0
        x = torch.rand(6, *dims) * torch.linspace(0, 1, 6)[:, None, None, None]  # six different images
        cached, full = model.predict(x), model.predict(x, use_cache=False)
        assert torch.equal(cached, full)
        end_steps |= {int((row == 2).nonzero()[0]) if (row == 2).any() else -1 for row in cached}
    assert len(end_steps) >= 3  # rows ended at different steps, and some never: every path was exercised


def test_cached_step_matches_the_teacher_forced_logits():
    torch.manual_seed(0)
    model = ResNetTransformer((1, 32, 128), 83, 12, 1, 2, 3).eval()
    x, tokens = torch.rand(2, 1, 32, 128), torch.randint(4, 83, (2, 12))
    with torch.no_grad():
        memory = model.encode(x)
        full = model.decode(memory, tokens)  # (B, T, C)
        cache = model.decoder.start_cache(memory, 12)
        steps = torch.stack([model.decoder.step(tokens[:, t], t, cache) for t in range(12)], dim=1)
    torch.testing.assert_close(steps, full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("joint", [False, True])
def test_model_scripts_and_the_script_decodes_alike(joint):
    torch.manual_seed(0)
    model = _decisive(ResNetTransformer((1, 32, 256), 83, 20, 1, 2, 3, with_enc_pos=True))
    if joint:
        model.attach_ctc_head(0, 0.6)
    scripted = torch.jit.script(model)
    x = torch.rand(3, 1, 32, 256) * torch.tensor([0.2, 0.6, 1.0])[:, None, None, None]
    assert torch.equal(scripted.predict(x), model.predict(x))


def test_ctc_prefix_scores_are_the_sums_over_all_alignments():
    """psi(h) = p(some reading starts with h) and p(h) = p(the reading is exactly h), checked
    against enumerating all C^T alignments of a small random CTC output, repeats included."""
    import itertools
    import math

    from model_package.models import ctc_prefix

    torch.manual_seed(0)
    t_len, classes, blank = 5, 4, 0
    log_probs = torch.randn(1, t_len, classes).double().log_softmax(-1)  # (B=1, T, C); rows sum to 1 in double
    exact: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(classes), repeat=t_len):
        text = tuple(c for i, c in enumerate(path) if c != blank and (i == 0 or path[i - 1] != c))
        p = math.exp(sum(log_probs[0, t, c].item() for t, c in enumerate(path)))
        exact[text] = exact.get(text, 0.0) + p
    r_n, r_b, blank_cum = ctc_prefix.start(log_probs, blank)
    last, prefix = torch.tensor([-1]), ()
    for char in [2, 2, 3]:  # a repeated character needs a blank in between
        candidates = torch.tensor([[1, 2, 3]])
        psi, r_n_next = ctc_prefix.extend(log_probs, r_n, r_b, last, candidates)
        for k, c in enumerate(candidates[0].tolist()):
            starts = sum(p for text, p in exact.items() if text[: len(prefix) + 1] == prefix + (c,))
            assert psi[0, k].item() == pytest.approx(math.log(starts), abs=1e-9)
        r_n = r_n_next[:, candidates[0].tolist().index(char)]
        r_b, prefix, last = ctc_prefix.blank_ending(r_n, blank_cum), prefix + (char,), torch.tensor([char])
        assert ctc_prefix.full(r_n, r_b).item() == pytest.approx(math.log(exact[prefix]), abs=1e-9)


def test_joint_decoding_follows_the_ctc_head_where_the_decoder_is_lost():
    """A decoder with no idea (random) and a CTC head sure of 'cab' over 12 columns: with weight 0
    the decoder's guess comes out, with weight 0.7 'cab' and <E> (no repeat, no early stop)."""
    torch.manual_seed(0)
    model = ResNetTransformer((1, 32, 96), 20, 10, 1, 2, 3)  # 12 columns
    model.attach_ctc_head(0, 0.7)
    model.ctc_candidates = 20  # all: a random decoder's top few need not hold the right ones
    a, b, c = 5, 6, 7
    columns = [0, c, c, 0, 0, a, 0, 0, b, b, 0, 0]  # one alignment of 'cab'
    sure = torch.full((1, 12, 20), -20.0)
    sure[0, torch.arange(12), torch.tensor(columns)] = 0.0
    model.ctc_log_probs = lambda memory: sure.log_softmax(-1).expand(memory.shape[0], -1, -1)
    x = torch.rand(2, 1, 32, 96)
    assert model.predict(x)[:, :5].tolist() == [[1, c, a, b, 2]] * 2
    model.ctc_decode_weight = 0.0
    assert model.predict(x)[0, 1:4].tolist() != [c, a, b]
    with pytest.raises(ValueError, match="ctc_decode_weight"):
        model.attach_ctc_head(0, 1.5)


@pytest.mark.parametrize("encoder", ["resnet", "resnet18"])
@pytest.mark.parametrize("pos_embedding", ["learned", "sinusoidal"])
def test_encoder_and_position_switches(encoder, pos_embedding):
    torch.manual_seed(0)
    model = ResNetTransformer(
        (1, 64, 96), 83, 10, 1, 2, 3, with_enc_pos=True, encoder=encoder, pos_embedding=pos_embedding, tf_dim=32, tf_fc_dim=32
    )
    x = torch.rand(2, 1, 64, 96)
    grid = (2, 3) if encoder == "resnet18" else (8, 12)  # resnet18: /32; the default custom ResNet: /8
    assert (model.enc_height, model.enc_width) == grid
    assert model.encode(x).shape == (2, grid[0] * grid[1], 32)
    assert model(x, torch.randint(0, 83, (2, 9))).shape == (2, 9, 83)
    learned = {name for name, _ in model.named_parameters() if "position" in name or "enc_pos" in name}
    if pos_embedding == "learned":
        assert learned == {"decoder.position_embedding.weight", "enc_pos.rows.weight", "enc_pos.cols.weight"}
    else:
        assert not learned and "decoder.position_embedding.weight" not in model.state_dict()  # fixed, recomputed
    _decisive(model)
    assert torch.equal(model.predict(x), model.predict(x, use_cache=False))
    assert torch.equal(torch.jit.script(model).predict(x), model.predict(x))


def test_collapsed_height_gives_one_memory_vector_a_column():
    """collapse_height: the projection spans the grid's height, so the memory is (B, W', D) and
    every row of a column's ink reaches its one vector; decoding (joint too) is unchanged in kind."""
    from model_package.lit_models import LitTransformer
    from model_package.metadata.vocabulary import LINE_VOCABULARY, PARAGRAPH_VOCABULARY

    torch.manual_seed(0)
    model = ResNetTransformer((1, 40, 256), 83, 12, 1, 2, 3, with_enc_pos=True, collapse_height=True, tf_dim=32, tf_fc_dim=32)
    x = torch.rand(2, 1, 40, 256)
    assert (model.enc_height, model.enc_width) == (1, 32)  # the stride-8 grid is 5 x 32
    assert model.encode(x).shape == (2, 32, 32)  # 32 keys instead of 160
    for rows in (slice(0, 8), slice(32, 40)):  # ink only at the top, or only at the bottom, of column 10
        y = x.clone()
        y[:, :, rows, 80:88] = 1 - y[:, :, rows, 80:88]
        changed = (model.eval().encode(y) - model.encode(x)).abs().amax(-1)[0]  # (W',)
        assert changed[10] > 1e-3
    model.attach_ctc_head(0, 0.6)
    assert model.ctc_logits(model.encode(x)).shape == (2, 32, 83)
    _decisive(model)
    assert torch.equal(model.predict(x), model.predict(x, use_cache=False))
    assert torch.equal(torch.jit.script(model).predict(x), model.predict(x))
    lit = LitTransformer(LINE_VOCABULARY, (1, 40, 256), 12, collapse_height=True, ctc_weight=0.3)
    assert lit.model.encode(x).shape[1] == 32 and lit.model.ctc_head is not None
    with pytest.warns(UserWarning, match="collapse_height=True ignored: .* this data has pages"):
        pages = LitTransformer(PARAGRAPH_VOCABULARY, (1, 128, 512), 60, collapse_height=True)
    assert pages.model.enc_height > 1 and pages.hparams.collapse_height is False  # the grid's rows kept


def test_encoder_layers_give_the_memory_context_across_the_line():
    """tf_encoder_layers: self-attention over the memory, so ink at the line's start reaches its
    last column, which the CNN alone cannot see (its receptive field is ~120 px); 0 layers add no
    weights (older checkpoints load as they were); decoding and TorchScript unchanged in kind."""
    torch.manual_seed(0)
    x = torch.rand(2, 1, 32, 256)
    y = x.clone()
    y[:, :, :, :8] = 1 - y[:, :, :, :8]  # other ink in the first 8 pixels
    for layers in (0, 2):
        model = ResNetTransformer((1, 32, 256), 83, 12, 1, 2, 3, with_enc_pos=True, collapse_height=True,
                                  tf_dim=32, tf_fc_dim=32, tf_encoder_layers=layers).eval()  # fmt: skip
        far = (model.encode(y) - model.encode(x))[:, -1].abs().max().item()  # the last of 32 columns
        assert (far > 1e-4) if layers else (far == 0.0)
        assert any(k.startswith("context.") for k in model.state_dict()) == bool(layers)
    model.attach_ctc_head(0, 0.3)
    _decisive(model)
    assert torch.equal(model.predict(x), model.predict(x, use_cache=False))
    assert torch.equal(torch.jit.script(model).predict(x), model.predict(x))
    with pytest.raises(ValueError, match="tf_encoder_layers"):
        ResNetTransformer((1, 32, 64), 83, 10, 1, 2, 3, tf_encoder_layers=-1)


def test_split_columns_gives_the_memory_finer_steps_than_the_cnn_stride():
    """split_columns=k: the projection of each grid column is cut into k memory columns, side by
    side and in order (memory column j*k+i = slice i of grid column j), so a CTC head gets k steps
    a grid column: lines denser than one character a stride then have room for every character."""
    from model_package.lit_models import LitTransformer
    from model_package.metadata.vocabulary import LINE_VOCABULARY

    torch.manual_seed(0)
    model = ResNetTransformer((1, 32, 128), 83, 26, 1, 2, 3, collapse_height=True, tf_dim=8, tf_fc_dim=16,
                              split_columns=3).eval()  # fmt: skip
    x = torch.rand(2, 1, 32, 128)
    grid = model.enc_proj(model.encoder(x))  # (B, D * 3, 1, 16)
    memory = model.encode(x)  # (B, 48, D)
    assert grid.shape == (2, 24, 1, 16) and memory.shape == (2, 48, 8) and model.enc_width == 48
    for j, i in [(0, 0), (0, 2), (5, 1), (15, 2)]:
        assert torch.equal(memory[:, 3 * j + i], grid[:, i::3, 0, j])
    _decisive(model)
    assert torch.equal(torch.jit.script(model).predict(x), model.predict(x))
    # 24 characters over a 16-column grid: CTC only fits with the columns split
    with pytest.warns(UserWarning, match="ctc_weight=0.3 ignored"):
        assert LitTransformer(LINE_VOCABULARY, (1, 32, 128), 26, ctc_weight=0.3).model.ctc_head is None
    split = LitTransformer(LINE_VOCABULARY, (1, 32, 128), 26, ctc_weight=0.3, collapse_height=True, split_columns=2)
    assert split.model.ctc_head is not None and split.model.ctc_logits(split.model.encode(x)).shape == (2, 32, len(LINE_VOCABULARY))
    with pytest.raises(ValueError, match="split_columns"):
        ResNetTransformer((1, 32, 64), 83, 10, 1, 2, 3, split_columns=0)


def test_sinusoids_are_the_transformer_encodings():
    from model_package.models.resnet_transformer import SinusoidalPositions2D
    from model_package.models.transformer import sinusoids

    table = sinusoids(50, 16)
    assert torch.allclose(table[:, 0], torch.sin(torch.arange(50.0)))  # wavelength 2 pi on channel 0
    assert torch.allclose(table[:, 1], torch.cos(torch.arange(50.0)))
    assert torch.allclose(table[3, 14], torch.sin(torch.tensor(3.0) / 10000 ** (14 / 16)))
    grid = SinusoidalPositions2D(16, 4, 5).table  # (D, H', W')
    assert torch.equal(grid[:8, 2, :], sinusoids(4, 8)[2][:, None].expand(8, 5))  # rows in the first half
    assert torch.equal(grid[8:, :, 3], sinusoids(5, 8)[3][:, None].expand(8, 4))  # columns in the second
    with pytest.raises(ValueError, match="pos_embedding"):
        ResNetTransformer((1, 32, 64), 83, 10, 1, 2, 3, pos_embedding="rotary")
    with pytest.raises(ValueError, match="encoder"):
        ResNetTransformer((1, 32, 64), 83, 10, 1, 2, 3, encoder="vgg")


def test_auxiliary_ctc_on_the_encoder_columns():
    """ctc_weight adds a CTC loss over the memory's columns (training only): the loss grows by
    exactly weight x that CTC, its gradient reaches the encoder; it is switched off (with a warning)
    for page data or a grid narrower than the text, and a negative weight is refused."""
    from model_package.lit_models import LitTransformer
    from model_package.lit_models.ctc import ctc_loss
    from model_package.metadata.vocabulary import LINE_VOCABULARY

    torch.manual_seed(0)
    plain = LitTransformer(LINE_VOCABULARY, (1, 32, 256), 12)
    aux = LitTransformer(LINE_VOCABULARY, (1, 32, 256), 12, ctc_weight=0.5)
    assert plain.model.ctc_head is None and aux.model.ctc_head is not None
    assert aux.model.load_state_dict(plain.model.state_dict(), strict=False).missing_keys == ["ctc_head.weight", "ctc_head.bias"]
    x = torch.rand(2, 1, 32, 256)
    y = torch.tensor([LitTransformer(LINE_VOCABULARY, (1, 32, 256), 12).vocabulary.encode(t, 12) for t in ["hello", "a b c"]])
    memory = aux.model.encode(x)  # (2, 4 * 32, 128)
    columns = memory.view(2, aux.model.enc_height, aux.model.enc_width, -1).mean(1)  # (2, 32, 128)
    expected = plain.loss(x, y) + 0.5 * ctc_loss(aux.model.ctc_head(columns).transpose(1, 2), y, aux.vocabulary)
    loss = aux.loss(x, y)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert aux.model.ctc_head.weight.grad.abs().sum() > 0 and aux.model.encoder.blocks[0].body[0].weight.grad.abs().sum() > 0
    from model_package.metadata.vocabulary import PARAGRAPH_VOCABULARY

    with pytest.warns(UserWarning, match="ctc_weight=0.3 ignored"):
        narrow = LitTransformer(LINE_VOCABULARY, (1, 32, 64), 40, ctc_weight=0.3)  # 8 columns for 38 characters
    with pytest.warns(UserWarning, match="this data has pages"):
        page = LitTransformer(PARAGRAPH_VOCABULARY, (1, 128, 512), 60, ctc_weight=0.3)  # lines stacked: no columns to read
    assert narrow.model.ctc_head is None and page.model.ctc_head is None and page.ctc_weight == 0
    with pytest.raises(ValueError, match="ctc_weight must be >= 0"):
        LitTransformer(LINE_VOCABULARY, (1, 32, 256), 12, ctc_weight=-1)
    with pytest.raises(ValueError, match="ctc_decode_weight must be in"):
        LitTransformer(LINE_VOCABULARY, (1, 32, 256), 12, ctc_decode_weight=2)
    # checkpoints from before the head moved into the model (the head was the LightningModule's)
    old = {"state_dict": {k.removeprefix("model."): v for k, v in aux.state_dict().items() if k.startswith("model.ctc_head.")}}
    old["state_dict"].update({k: torch.zeros_like(v) for k, v in aux.state_dict().items() if not k.startswith("model.ctc_head.")})
    aux.on_load_checkpoint(old)
    assert aux.load_state_dict(old["state_dict"]) is not None and aux.model.ctc_head.weight.abs().sum() > 0
