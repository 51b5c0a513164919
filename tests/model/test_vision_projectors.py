"""OryxViT's native-resolution pieces and the ola_mlp projector, on their own."""

from __future__ import annotations

import torch

from ola_core.model.projectors import NormalizedDwPooler, OlaMLP
from ola_core.model.vision import POS_GRID, OryxViT


def vit(seed: int = 0) -> OryxViT:
    torch.manual_seed(seed)
    model = OryxViT(width=16, depth=2, num_heads=2).eval()
    with torch.no_grad():
        model.pos_embed.normal_()
    return model


def test_position_embedding_is_identity_at_full_grid_and_bilinear_below() -> None:
    model = vit()
    assert model.position_embedding(POS_GRID, POS_GRID) is model.pos_embed
    # A grid that is linear in x and y stays linear under bilinear resizing (align_corners=False):
    ys, xs = torch.meshgrid(
        torch.arange(POS_GRID.__float__()), torch.arange(POS_GRID.__float__()), indexing="ij"
    )
    with torch.no_grad():
        model.pos_embed.copy_((2 * ys + 3 * xs).reshape(1, -1, 1).expand(1, -1, 16))
    resized = model.position_embedding(4, 8)[0, :, 0].reshape(4, 8)
    # output cell centres map to source coordinates (i + 0.5)·scale − 0.5
    y = (torch.arange(4) + 0.5) * (POS_GRID / 4) - 0.5
    x = (torch.arange(8) + 0.5) * (POS_GRID / 8) - 0.5
    torch.testing.assert_close(resized, 2 * y[:, None] + 3 * x[None, :])


def test_list_path_pads_to_patch_multiples_and_matches_batch_path() -> None:
    model = vit()
    image = torch.randn(3, 40, 56)
    with torch.no_grad():
        (features,), (size,) = model.forward_list([image])
        padded = torch.nn.functional.pad(image, (0, 8, 0, 8))
        batch, batch_size = model.forward_batch(padded[None])
    assert size == batch_size == (3, 4)
    torch.testing.assert_close(features, batch[0], rtol=1e-5, atol=1e-5)


def test_pooler_is_a_per_channel_convex_combination_of_each_2x2_group() -> None:
    torch.manual_seed(0)
    pooler = NormalizedDwPooler(8)
    x = torch.randn(1, 4, 6, 8)
    with torch.no_grad():
        out = pooler(x)
    assert out.shape == (1, 2, 3, 8)
    groups = x.reshape(1, 2, 2, 3, 2, 8).permute(0, 1, 3, 2, 4, 5).reshape(1, 2, 3, 4, 8)
    assert bool((out >= groups.amin(-2) - 1e-6).all() and (out <= groups.amax(-2) + 1e-6).all())
    with torch.no_grad():  # equal scores ⇒ the plain mean
        pooler.predictor[2].weight.zero_()
        pooler.predictor[2].bias.zero_()
        torch.testing.assert_close(pooler(x), groups.mean(-2))


def test_projector_layout_markers() -> None:
    torch.manual_seed(0)
    projector = OlaMLP(16, 12).eval()
    with torch.no_grad():
        image = projector.forward_image(torch.randn(4 * 6, 16), (4, 6), torch.randn(8 * 4, 16), (8, 4))
        video = projector.forward_video(torch.randn(3, 4 * 4, 16), (4, 4))
    assert image.shape == (3 + 2 * 4 + 4 * 3, 12)
    assert torch.equal(image[0], projector.image_begin) and torch.equal(image[-1], projector.image_end)
    assert torch.equal(image[1 + 2 * 4], projector.image_sep)
    for row in range(2):  # newline closes each pooled row of the low-res view
        assert torch.equal(image[1 + row * 4 + 3], projector.image_newline)
    per_frame = 2 * 3 + 1
    assert video.shape == (2 + 3 * per_frame, 12)
    for frame in range(3):
        assert torch.equal(video[1 + frame * per_frame + per_frame - 1], projector.image_sep)
    assert torch.equal(video[0], projector.image_begin) and torch.equal(video[-1], projector.image_end)
