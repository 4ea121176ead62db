"""Tests for dmad.nets: embeddings, ResidualMLP, UNet1D, UNet2D and build_net."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from dmad.nets import (
    ResidualMLP,
    TimeEmbedding,
    UNet1D,
    UNet2D,
    build_net,
    sinusoidal_embedding,
)
from dmad.nets.blocks import norm_groups
from dmad.nets.embeddings import as_timesteps

# Small configurations of every kind, with an input shape each.
SMALL = {
    "mlp": ({"in_features": 6, "hidden": 32, "n_blocks": 2}, (4, 6)),
    "unet1d": ({"in_channels": 3, "base_channels": 8}, (2, 3, 13)),
    "unet2d": ({"in_channels": 1, "base_channels": 8}, (2, 1, 11, 9)),
}


def _t(batch: int) -> torch.Tensor:
    return torch.linspace(0, 999, batch).long()


def _n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    # These nets are tiny: extra intra-op threads only add contention on a shared CI machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


# --- embeddings -----------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [1, 2, 7, 64])
def test_sinusoidal_embedding_shapes_and_values(dim):
    t = torch.tensor([0.0, 0.5, 10.0, 999.0])
    emb = sinusoidal_embedding(t, dim)
    assert emb.shape == (4, dim) and emb.dtype == torch.float32
    half = dim // 2
    torch.testing.assert_close(emb[0, :half], torch.ones(half))  # cos(0)
    torch.testing.assert_close(emb[0, half : 2 * half], torch.zeros(half))  # sin(0)
    if dim % 2:
        assert torch.all(emb[:, -1] == 0)
    if half:
        assert not torch.allclose(emb[1], emb[2])
    # Integer and float timesteps agree.
    torch.testing.assert_close(sinusoidal_embedding(t.long(), dim)[3], emb[3])


def test_time_embedding_and_timestep_broadcast():
    assert TimeEmbedding(16, 24)(torch.tensor([3, 4, 5])).shape == (3, 24)
    assert torch.equal(as_timesteps(7, 3, torch.device("cpu")), torch.full((3,), 7.0))
    with pytest.raises(ValueError, match="timesteps"):
        as_timesteps(torch.arange(2), 3, torch.device("cpu"))


def test_norm_groups_divide_channels():
    for channels in [1, 8, 32, 48, 55, 64, 96, 256]:
        groups = norm_groups(channels)
        assert channels % groups == 0 and 1 <= groups <= 32


# --- shapes -----------------------------------------------------------------------------


@pytest.mark.parametrize("out_features", [None, 7])
def test_mlp_shapes(out_features):
    net = ResidualMLP(5, hidden=16, n_blocks=2, out_features=out_features)
    out = net(torch.randn(3, 5), _t(3))
    assert out.shape == (3, out_features or 5)


def test_mlp_without_time_ignores_the_timestep():
    net = ResidualMLP(5, hidden=16, n_blocks=2, time_dim=0, out_features=3).eval()
    x = torch.randn(4, 5)
    assert net.time_embed is None and net(x).shape == (4, 3)
    torch.testing.assert_close(net(x, _t(4)), net(x), rtol=0, atol=0)
    timed = ResidualMLP(5, hidden=16, n_blocks=2)
    with pytest.raises(ValueError, match="pass the timesteps"):
        timed(x)
    cond_only = ResidualMLP(5, hidden=16, n_blocks=1, time_dim=0, cond_features=2).eval()
    c = torch.randn(4, 2)
    assert not torch.allclose(cond_only(x, cond=c), cond_only(x, cond=c + 1))


@pytest.mark.parametrize(("channels", "length"), [(1, 1), (1, 7), (55, 13), (2, 100), (3, 37)])
def test_unet1d_any_length_and_channels(channels, length):
    net = UNet1D(channels, base_channels=8, channel_mults=(1, 2, 2))
    assert net(torch.randn(2, channels, length), _t(2)).shape == (2, channels, length)


@pytest.mark.parametrize(("channels", "h", "w"), [(1, 1, 1), (1, 7, 13), (3, 32, 32), (3, 17, 5)])
def test_unet2d_any_size_and_channels(channels, h, w):
    net = UNet2D(channels, out_channels=2, base_channels=8, attention_levels=(1, 2))
    assert net(torch.randn(2, channels, h, w), _t(2)).shape == (2, 2, h, w)


def test_default_nets_run_and_stay_small():
    assert UNet2D(3)(torch.randn(1, 3, 24, 20), _t(1)).shape == (1, 3, 24, 20)
    assert UNet1D(55)(torch.randn(2, 55, 30), _t(2)).shape == (2, 55, 30)
    assert _n_params(UNet2D(3)) < 2_000_000
    assert _n_params(UNet1D(55)) < 500_000


# --- behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_gradients_reach_every_parameter(kind):
    config, shape = SMALL[kind]
    net = build_net(kind, **config)
    net(torch.randn(shape), _t(shape[0])).square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_timestep_changes_output(kind):
    config, shape = SMALL[kind]
    net = build_net(kind, **config)
    x = torch.randn(shape)
    early = net(x, torch.zeros(shape[0], dtype=torch.long))
    late = net(x, torch.full((shape[0],), 500.0))
    assert not torch.allclose(early, late)
    # A single timestep is broadcast over the batch.
    torch.testing.assert_close(net(x, torch.tensor(500)), late)


@pytest.mark.parametrize(
    ("net", "x", "cond"),
    [
        (ResidualMLP(4, hidden=16, cond_features=3), torch.randn(2, 4), torch.randn(2, 3)),
        (UNet1D(2, base_channels=8, cond_channels=3), torch.randn(2, 2, 9), torch.randn(2, 3, 9)),
        (
            UNet2D(1, base_channels=8, cond_channels=1),
            torch.randn(2, 1, 10, 7),
            torch.randn(2, 1, 10, 7),
        ),
    ],
)
def test_cond_path(net, x, cond):
    out = net(x, _t(2), cond=cond)
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, _t(2), cond=torch.zeros_like(cond)))
    with pytest.raises(ValueError, match="cond must have shape"):
        net(x, _t(2))
    with pytest.raises(ValueError, match="cond must have shape"):
        net(x, _t(2), cond=cond[:1])


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_wrong_input_raises(kind):
    config, shape = SMALL[kind]
    net = build_net(kind, **config)
    with pytest.raises(ValueError, match="x must have shape"):
        net(torch.randn(*shape[:-1], 1, 1), _t(shape[0]))
    with pytest.raises(ValueError, match="without conditioning"):
        net(torch.randn(shape), _t(shape[0]), cond=torch.randn(shape))


# --- build_net / persistence ------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_build_net_round_trip_through_json_and_safetensors(kind):
    config, shape = SMALL[kind]
    net = build_net(kind, **config, dropout=0.1).eval()
    saved_config = json.loads(json.dumps({"kind": net.kind, **net.config}))
    weights = load_safetensors(save_safetensors(net.state_dict()))

    clone = build_net(**saved_config)
    clone.load_state_dict(weights)
    clone.eval()
    x, t = torch.randn(shape), _t(shape[0])
    with torch.no_grad():
        assert torch.equal(net(x, t), clone(x, t))


def test_build_net_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        build_net("transformer", in_features=3)


def test_unet_rejects_bad_attention_level():
    with pytest.raises(ValueError, match="attention_levels"):
        UNet2D(1, channel_mults=(1, 2), attention_levels=(2,))


# --- learning -----------------------------------------------------------------------------


def test_mlp_overfits_fixed_target():
    net = ResidualMLP(4, hidden=64, n_blocks=2)
    x, t, target = torch.randn(32, 4), torch.randint(0, 1000, (32,)), torch.randn(32, 4)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        loss = (net(x, t) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
