"""THA1's networks start at "return the input" (flow at identity, keep-alphas near 1)."""

from __future__ import annotations

import pytest
import torch

from thagen.train.core.metrics import rmse, to_metric_space
from thagen.train.tha1.networks import INITIAL_KEEP, NetSpec, build, count_parameters


def _error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(rmse(to_metric_space(a), to_metric_space(b)).max())


@pytest.mark.parametrize("spec", [NetSpec(8, 2), NetSpec(16, 1)])
def test_untrained_networks_return_their_input(spec: NetSpec) -> None:
    torch.manual_seed(0)
    x, y = torch.rand(2, 4, 32, 32) * 2 - 1, torch.rand(2, 4, 32, 32) * 2 - 1
    p = torch.rand(2, 3) * 2 - 1
    with torch.no_grad():
        morphed = build("morpher", spec)(x, p)
        by_change, by_flow = build("rotator", spec)(x, p)
        combined = build("combiner", spec)(x, y, p)
    # each keep-alpha leaves 1 - INITIAL_KEEP of a tanh colour: at most 2 * 0.01 in [-1, 1] values
    bound = 2 * (1 - INITIAL_KEEP) + 1e-5
    assert (morphed - x).abs().max() <= bound and (by_change - x).abs().max() <= bound
    assert torch.allclose(by_flow, x, atol=1e-5)
    assert (combined - (x + y) / 2).abs().max() <= bound  # both rotator outputs, evenly mixed
    assert _error(morphed, x) < 0.01
    with torch.no_grad():  # PyTorch's default heads (keep_input_init: false) do not keep it
        assert _error(build("morpher", spec, keep_input=False)(x, p), x) > 0.05


def test_the_init_keeps_thas_parameter_counts_and_trains_every_weight() -> None:
    assert count_parameters(build("morpher")) == 33_878_720  # no bias was added to a head
    torch.manual_seed(1)
    m = build("morpher", NetSpec(8, 1))
    x = torch.rand(2, 4, 16, 16) * 2 - 1
    (m(x, torch.rand(2, 3)) - x.flip(-1)).abs().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.alpha.parameters())
    norm = m.body.final_norm()
    assert norm.weight.grad is not None and norm.weight.grad[0] != 0  # the constant channel can learn
