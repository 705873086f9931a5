"""course_lib.bert: parity with Hugging Face's BertModel, the heads, masking and the three poolers."""
import pytest
import torch

from course_lib import bert as B
from course_lib.text import CharTokenizer

transformers = pytest.importorskip("transformers")

SIZES = dict(vocab_size=40, d_model=32, n_layers=2, n_heads=4, d_ff=64, max_len=24)


def hf_pair(seed=0, pretraining=False):
    """A small randomly initialised Hugging Face BERT (never downloaded) and the course model with its weights."""
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=SIZES["vocab_size"], hidden_size=SIZES["d_model"], num_hidden_layers=SIZES["n_layers"],
        num_attention_heads=SIZES["n_heads"], intermediate_size=SIZES["d_ff"],
        max_position_embeddings=SIZES["max_len"], type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
        attn_implementation="eager")
    hf = (transformers.BertForPreTraining if pretraining else transformers.BertModel)(config).eval()
    bert = B.Bert(**SIZES)
    ours = B.BertForPretraining(bert) if pretraining else bert
    B.load_hf_bert(ours, hf)
    return hf, ours.eval()


def inputs():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, SIZES["vocab_size"], (3, 10), generator=g)
    ids[:, 0] = 2
    segments = torch.zeros_like(ids)
    segments[:, 5:] = 1
    mask = torch.ones_like(ids, dtype=torch.bool)
    mask[1, 7:] = False  # padding
    mask[2, 4:] = False
    ids[~mask] = 0
    segments[~mask] = 0
    return ids, segments, mask


def test_parity_with_hugging_face_bert():
    hf, bert = hf_pair()
    ids, segments, mask = inputs()
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=segments, attention_mask=mask.long())
        hidden, pooled, weights = bert(ids, segments, mask, need_weights=True)
    assert torch.allclose(hidden, ref.last_hidden_state, atol=1e-5)
    assert torch.allclose(pooled, ref.pooler_output, atol=1e-5)
    assert weights.shape == (3, 2, 4, 10, 10)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 2, 4, 10))
    assert weights[1, :, :, :, 7:].abs().max() == 0  # nobody attends to padding


def test_parity_attention_weights_and_state_dict_input():
    hf, _ = hf_pair(seed=3)
    bert = B.load_hf_bert(B.Bert(**SIZES), {"bert." + k: v for k, v in hf.state_dict().items()}).eval()
    ids, segments, mask = inputs()
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=segments, attention_mask=mask.long(), output_attentions=True)
        hidden, _, weights = bert(ids, segments, mask, need_weights=True)
    assert torch.allclose(hidden, ref.last_hidden_state, atol=1e-5)
    assert torch.allclose(weights, torch.stack(ref.attentions, dim=1), atol=1e-6)


def test_parity_of_pretraining_heads():
    hf, model = hf_pair(seed=1, pretraining=True)
    ids, segments, mask = inputs()
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=segments, attention_mask=mask.long())
        mlm, nsp, _ = model(ids, segments, mask)
    assert torch.allclose(mlm, ref.prediction_logits, atol=1e-5)
    assert torch.allclose(nsp, ref.seq_relationship_logits, atol=1e-5)
    assert model.mlm.decoder.weight is model.bert.embeddings.token.weight


def test_load_hf_bert_reports_mismatches():
    hf, _ = hf_pair()
    with pytest.raises(ValueError, match="shape"):
        B.load_hf_bert(B.Bert(**{**SIZES, "d_model": 16}), hf)
    sd = {k: v for k, v in hf.state_dict().items() if "pooler" not in k}
    with pytest.raises(KeyError, match="pooler"):
        B.load_hf_bert(B.Bert(**SIZES), sd)


def test_bert_errors_and_shapes():
    bert = B.Bert(**SIZES).eval()
    with pytest.raises(ValueError, match="max_len"):
        bert(torch.zeros(1, 30, dtype=torch.long))
    with pytest.raises(ValueError, match="shape"):
        bert(torch.zeros(5, dtype=torch.long))
    hidden, pooled, weights = bert(torch.zeros(2, 6, dtype=torch.long))
    assert hidden.shape == (2, 6, 32) and pooled.shape == (2, 32) and weights is None


def test_padding_does_not_change_real_tokens():
    bert = B.Bert(**SIZES).eval()
    ids = torch.tensor([[2, 7, 8, 9, 3]])
    padded = torch.tensor([[2, 7, 8, 9, 3, 0, 0]])
    with torch.no_grad():
        h1, p1, _ = bert(ids, mask=ids != 0)
        h2, p2, _ = bert(padded, mask=padded != 0)
    assert torch.allclose(h1, h2[:, :5], atol=1e-5) and torch.allclose(p1, p2, atol=1e-5)


def test_segment_ids_and_sentence_pair():
    ids, seg = B.sentence_pair([7, 8], [9], cls_id=2, sep_id=3)
    assert ids == [2, 7, 8, 3, 9, 3] and seg == [0, 0, 0, 0, 1, 1]
    batch = torch.tensor([ids + [0, 0], [2, 5, 3, 6, 7, 3, 0, 0]])
    assert B.segment_ids(batch, sep_id=3).tolist() == [[0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 0, 0]]


def test_mask_tokens_follows_80_10_10():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 50, (200, 100), generator=g)
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = special[:, -10:] = True
    u1, u2 = torch.rand(ids.shape, generator=g), torch.rand(ids.shape, generator=g)
    rnd = torch.randint(5, 50, ids.shape, generator=g)
    inputs, labels = B.mask_tokens(ids, special, u1, u2, rnd, mask_id=4)
    chosen = labels != B.IGNORE
    assert not chosen[special].any()
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    frac = chosen.float().sum() / (~special).sum()
    assert abs(frac - 0.15) < 0.01
    masked = (inputs[chosen] == 4).float().mean()
    kept = (inputs[chosen] == ids[chosen]).float().mean()
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1) < 0.02 + 0.01  # random ids sometimes equal the original


def test_pair_sampler_batch():
    texts = ["房间很干净，服务也好。", "价格太贵了，不推荐。", "书的内容很好，送货也快。", "电脑散热不好，声音大。"]
    tok = CharTokenizer.from_texts(texts)
    sampler = B.PairSampler(texts, tok, max_len=32)
    batch = sampler.batch(64, generator=torch.Generator().manual_seed(0))
    clean, segments, mask = batch["clean"], batch["segments"], batch["mask"]
    assert (clean[:, 0] == tok.cls_id).all()
    assert ((clean == tok.sep_id).sum(1) == 2).all()
    assert torch.equal(segments, B.segment_ids(clean, tok.sep_id))
    assert torch.equal(mask, clean != tok.pad_id)
    chosen = batch["labels"] != B.IGNORE
    assert not chosen[(clean == tok.cls_id) | (clean == tok.sep_id) | ~mask].any()
    assert 0 < batch["is_next"].sum() < 64
    model = B.BertForPretraining(B.Bert(len(tok), d_model=16, n_layers=1, n_heads=2, max_len=32))
    total, mlm, nsp = B.pretraining_loss(model, batch)
    total.backward()
    assert torch.isclose(total, mlm + nsp)


def test_poolers_ignore_padding():
    hidden = -torch.rand(2, 4, 3) - 1  # all negative: padding zeros must not win the max
    hidden[1, 2:] = 100.0  # padding values that must not leak into the mean
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    assert torch.equal(B.cls_pool(hidden, mask), hidden[:, 0])
    assert torch.allclose(B.mean_pool(hidden, mask)[1], hidden[1, :2].mean(0))
    assert torch.allclose(B.max_pool(hidden, mask)[1], hidden[1, :2].amax(0))
    assert (B.max_pool(hidden, mask) < 0).all()
    empty = torch.zeros(1, 4, dtype=torch.bool)
    assert torch.equal(B.mean_pool(hidden[:1], empty), torch.zeros(1, 3))
    assert torch.equal(B.max_pool(hidden[:1], empty), torch.zeros(1, 3))


@pytest.mark.parametrize("pool", ["cls", "mean", "max"])
def test_classifier(pool):
    bert = B.Bert(**SIZES)
    model = B.BertClassifier(bert, n_classes=3, pool=pool).eval()
    ids = torch.randint(5, 40, (2, 7))
    logits, weights = model(ids, ids != 0, need_weights=True)
    assert logits.shape == (2, 3) and weights.shape == (2, 2, 4, 7, 7)
    with pytest.raises(ValueError, match="pool"):
        B.BertClassifier(bert, pool="sum")


def test_checkpoint_round_trip(tmp_path):
    tok = CharTokenizer.from_texts(["床前明月光"])
    bert = B.Bert(len(tok), d_model=16, n_layers=1, n_heads=2, max_len=16).eval()
    B.save_checkpoint(tmp_path / "b.pt", bert, tok, steps=3)
    bert2, tok2, info = B.load_checkpoint(tmp_path / "b.pt")
    assert tok2.vocab == tok.vocab and info == {"steps": 3}
    ids = torch.tensor([tok.encode("明月光")])
    assert torch.equal(bert(ids)[0], bert2.eval()(ids)[0])


def test_checkpoint_with_heads(tmp_path):
    tok = CharTokenizer.from_texts(["床前明月光"])
    model = B.BertForPretraining(B.Bert(len(tok), d_model=16, n_layers=1, n_heads=2, max_len=16)).eval()
    B.save_checkpoint(tmp_path / "p.pt", model, tok, dtype=torch.float16)
    loaded, _, _ = B.load_checkpoint(tmp_path / "p.pt", heads=True)
    ids = torch.tensor([tok.encode("明月光")])
    mlm, nsp, _ = loaded.eval()(ids)
    ref_mlm, ref_nsp, _ = model(ids)
    assert loaded.mlm.decoder.weight is loaded.bert.embeddings.token.weight
    assert torch.allclose(mlm, ref_mlm, atol=1e-2) and torch.allclose(nsp, ref_nsp, atol=1e-2)
    with pytest.raises(ValueError, match="heads"):
        B.save_checkpoint(tmp_path / "b.pt", model.bert, tok)
        B.load_checkpoint(tmp_path / "b.pt", heads=True)


def test_shipped_checkpoint_loads():
    bert, tok, info = B.load_checkpoint(B.CHECKPOINT)
    assert bert.config["vocab_size"] == len(tok) and info["steps"] > 0
    assert bert.embeddings.token.weight.dtype == torch.float32


def test_shipped_checkpoint_has_its_pretraining_heads():
    model, tok, info = B.load_checkpoint(B.CHECKPOINT, heads=True)
    ids = torch.tensor([[tok.cls_id, *tok.encode("房间很干"), tok.mask_id, tok.sep_id]])
    mlm, nsp, _ = model.eval()(ids)
    assert mlm.shape == (1, 7, len(tok)) and nsp.shape == (1, 2) and "mlm_loss" in info


def _toy_task(n=64, T=6):
    """Label 1 when token 7 occurs: a task a classifier learns in a few dozen steps."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(8, 40, (n, T), generator=g)
    y = torch.arange(n) % 2
    ids[y == 1, 2] = 7
    return ids, torch.ones(n, T, dtype=torch.bool), y


@pytest.mark.parametrize("freeze", [False, True])
def test_fine_tune_trains_the_head_and_touches_the_encoder_only_when_asked(freeze):
    encoder = B.Bert(**SIZES)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    ids, mask, y = _toy_task()
    model, history = B.fine_tune(encoder, ids, mask, y, lr=1e-3, head_lr=1e-2, freeze=freeze, steps=60,
                                 batch_size=16, progress=False)
    assert all(torch.equal(v, encoder.state_dict()[k]) for k, v in before.items())   # the original is untouched
    moved = any(not torch.equal(v, model.bert.state_dict()[k]) for k, v in before.items())
    assert moved != freeze
    assert B.accuracy(model, ids, mask, y, batch_size=10) > 0.9 and len(history.train_loss) == 60
