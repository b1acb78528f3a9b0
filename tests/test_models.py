import pytest
import torch
import torch.nn.functional as F

from tryon.data.labels import NUM_PARSE, PARSE_FLIP
from tryon.models import GeneratorOutput, GeometricMatcher, HumanParser, MultiScaleDiscriminator, TryOnGenerator, warp

SIZES = [(256, 192), (512, 384), (1024, 768)]


def garment(n, height, width):
    """A smooth patterned garment on white: RGB [n,3,H,W] in [-1,1] and its mask [n,1,H,W]."""
    ys = torch.linspace(-1, 1, height)[:, None]
    xs = torch.linspace(-1, 1, width)[None]
    mask = ((xs.abs() < 0.5) & (ys.abs() < 0.6)).float()
    pattern = torch.stack([torch.sin(4 * xs + 2 * ys), torch.cos(3 * ys - xs), torch.sin(10 * xs * ys)])
    rgb = pattern * mask + (1 - mask)
    return rgb.expand(n, -1, -1, -1), mask.expand(n, 1, -1, -1)


def small(cls):
    """Each model with small channel counts, as the tests build it."""
    return {
        HumanParser: lambda: HumanParser(base_channels=8),
        GeometricMatcher: lambda: GeometricMatcher(person_channels=5, feature_channels=32, flow_channels=8),
        TryOnGenerator: lambda: TryOnGenerator(in_channels=5, ngf=8, height=64, width=48),
        MultiScaleDiscriminator: lambda: MultiScaleDiscriminator(in_channels=5 + 3, ndf=8, spectral_norm=True),
    }[cls]()


def example_inputs(cls, n=1, height=64, width=48):
    torch.manual_seed(1)
    if cls is HumanParser:
        return (torch.rand(n, 3, height, width) * 2 - 1,)
    if cls is GeometricMatcher:
        rgb, mask = garment(n, height, width)
        return torch.rand(n, 5, height, width), torch.cat([rgb, mask], 1)
    return torch.rand(n, 5, height, width), torch.rand(n, 3, height, width) * 2 - 1


def flat(out):
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in flat(item)]


@pytest.mark.parametrize("size", SIZES)
def test_parser_gives_logits_for_every_label(size):
    parser = HumanParser(base_channels=8).eval()
    x = example_inputs(HumanParser, height=size[0], width=size[1])[0]
    with torch.no_grad():
        logits = parser(x)
    assert logits.shape == (1, NUM_PARSE, *size)
    labels = parser.predict(x, mirror=False)
    assert labels.dtype == torch.int64 and labels.shape == (1, *size)
    assert torch.equal(labels, logits.argmax(1))


def test_parser_reads_a_photo_and_its_mirror_image_alike():
    """With mirror=True the labels of a mirrored photo are the mirrored labels of the photo, the person's left and
    right swapped; a single pass of an untrained parser is far from that."""
    torch.manual_seed(0)
    parser = HumanParser(base_channels=8).eval()
    x = torch.rand(2, 3, 64, 48) * 2 - 1
    swap = torch.from_numpy(PARSE_FLIP[:NUM_PARSE])
    labels, of_mirror = parser.predict(x), parser.predict(x.flip(-1))
    assert torch.equal(swap[of_mirror.flip(-1)], labels)
    single, single_of_mirror = parser.predict(x, mirror=False), parser.predict(x.flip(-1), mirror=False)
    assert (swap[single_of_mirror.flip(-1)] != single).float().mean() > 0.05
    garment = HumanParser(num_labels=2, base_channels=8).eval()  # two labels: nothing to swap
    assert torch.equal(garment.predict(x.flip(-1)).flip(-1), garment.predict(x))


@pytest.mark.parametrize("size", SIZES)
def test_untrained_matcher_is_the_identity_warp(size):
    matcher = GeometricMatcher(person_channels=5, feature_channels=32).eval()
    person, cloth = example_inputs(GeometricMatcher, n=2, height=size[0], width=size[1])
    with torch.no_grad():
        grid, points = matcher(person, cloth, return_control_points=True)
    assert grid.shape == (2, *size, 2)
    assert points.shape == (2, 5, 5, 2)
    assert torch.equal(matcher(person, cloth), grid)
    assert torch.equal(points[0, 0, 0], torch.tensor([-1.0, -1.0]))  # [row, col] -> (x, y), starting on the lattice
    assert torch.allclose(points[1, 1, 2], torch.tensor([0.0, -0.5]))
    assert (warp(cloth[:, :3], grid) - cloth[:, :3]).abs().max() < 1e-4
    assert (warp(cloth[:, 3:], grid, fill=0.0) - cloth[:, 3:]).abs().max() < 1e-4


@pytest.mark.parametrize("size", SIZES)
def test_flow_refiner_starts_as_the_tps_warp_and_shifts_the_grid_in_grid_units(size):
    torch.manual_seed(0)
    tps = GeometricMatcher(person_channels=5, feature_channels=32).eval()
    refined = GeometricMatcher(person_channels=5, feature_channels=32, flow_channels=8).eval()
    missing, _ = refined.load_state_dict(tps.state_dict(), strict=False)
    assert missing and all(k.startswith("refiner.") for k in missing)
    with torch.no_grad():
        tps.regressor[-1].bias.normal_(0, 0.05)  # a non-identity TPS, shared by both
        refined.regressor[-1].bias.copy_(tps.regressor[-1].bias)
    person, cloth = example_inputs(GeometricMatcher, n=2, height=size[0], width=size[1])
    with torch.no_grad():
        assert torch.equal(refined(person, cloth), tps(person, cloth))  # the refiner's last conv starts at zero
        refined.refiner.head.bias.copy_(torch.tensor([0.1, -0.05]))  # a constant flow: x then y
        shifted = refined(person, cloth)
    assert shifted.shape == (2, *size, 2)
    torch.testing.assert_close(shifted, tps(person, cloth) + torch.tensor([0.1, -0.05]), rtol=0, atol=1e-5)


def test_a_flow_cascade_starts_as_the_warp_it_grew_from_and_each_refiner_sees_the_last_ones_grid():
    torch.manual_seed(0)
    one = GeometricMatcher(person_channels=5, feature_channels=32, flow_channels=8).eval()
    two = GeometricMatcher(person_channels=5, feature_channels=32, flow_channels=8, flow_stages=2).eval()
    missing, _ = two.load_state_dict(one.state_dict(), strict=False)
    assert missing and all(k.startswith("cascade.0.") for k in missing)
    person, cloth = example_inputs(GeometricMatcher, n=2)
    with torch.no_grad():
        one.refiner.head.bias.copy_(torch.tensor([0.1, -0.05]))
        two.refiner.head.bias.copy_(one.refiner.head.bias)
        assert torch.equal(two(person, cloth), one(person, cloth))  # the added refiner's last conv starts at zero
        seen = []
        handle = two.cascade[0].register_forward_hook(lambda module, args, out: seen.append(args[0][:, -4:]))
        two.cascade[0].head.bias.copy_(torch.tensor([-0.02, 0.03]))
        shifted = two(person, cloth)
        handle.remove()
        size = (two.config.work_height // 2, two.config.work_width // 2)
        small = F.interpolate(cloth, size=size, mode="bilinear", align_corners=False, antialias=True)
        first = two.grid(two.control_points(person, cloth), *size) + torch.tensor([0.1, -0.05])
        expected = torch.cat([warp(small[:, :3], first), warp(small[:, 3:], first, fill=0.0)], 1)
    torch.testing.assert_close(seen[0], expected, rtol=0, atol=1e-5)  # the garment after the first refiner
    torch.testing.assert_close(shifted, one(person, cloth) + torch.tensor([-0.02, 0.03]), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="flow_stages must be at least 1"):
        GeometricMatcher(person_channels=5, feature_channels=32, flow_channels=8, flow_stages=0)


def test_flow_refiner_fits_a_local_bend_the_tps_alone_cannot():
    torch.manual_seed(0)
    height, width = 128, 96
    rgb, mask = garment(1, height, width)
    identity = F.affine_grid(torch.eye(2, 3)[None], (1, 1, height, width), align_corners=False)
    ys = identity[..., 1:]
    bend = identity + torch.cat([0.15 * torch.sin(12 * ys), torch.zeros_like(ys)], -1)  # a ripple along x
    target = warp(rgb, bend)
    person = torch.cat([target, warp(mask, bend, fill=0.0)], 1)
    cloth = torch.cat([rgb, mask], 1)
    final = {}
    for flow_channels in (0, 8):
        torch.manual_seed(0)
        matcher = GeometricMatcher(person_channels=4, feature_channels=32, work_height=height, work_width=width,
                                   flow_channels=flow_channels)
        final[flow_channels] = _train(matcher, lambda: F.l1_loss(warp(rgb, matcher(person, cloth)), target), 30,
                                      lr=2e-3)[-1]
    assert final[8] < 0.6 * final[0], final


def test_warp_reads_white_and_empty_mask_outside_the_garment():
    rgb, mask = garment(1, 64, 48)
    outside = torch.full((1, 64, 48, 2), 1.5)
    assert torch.equal(warp(rgb, outside), torch.ones_like(rgb))
    assert torch.equal(warp(mask, outside, fill=0.0), torch.zeros_like(mask))


def test_matcher_grid_follows_affine_control_points_at_any_resolution():
    matcher = GeometricMatcher(person_channels=5, feature_channels=32)
    points = matcher.lattice[None] * 0.8 + torch.tensor([0.1, -0.05])
    for height, width in SIZES:
        identity = F.affine_grid(torch.eye(2, 3)[None], (1, 1, height, width), align_corners=False)
        expected = identity * 0.8 + torch.tensor([0.1, -0.05])
        assert torch.allclose(matcher.grid(points, height, width), expected, atol=1e-5)


@pytest.mark.parametrize("size,num_downs", list(zip(SIZES, (6, 7, 8))))
def test_generator_composes_rendered_person_and_warped_garment(size, num_downs):
    gen = TryOnGenerator(in_channels=5, ngf=8, height=size[0], width=size[1]).eval()
    assert len(gen.down) == num_downs
    x, warped = example_inputs(TryOnGenerator, height=size[0], width=size[1])
    with torch.no_grad():
        out = gen(x, warped)
    assert isinstance(out, GeneratorOutput)
    assert out.image.shape == out.rendered.shape == (1, 3, *size) and out.mask.shape == (1, 1, *size)
    assert out.image.min() >= -1 and out.image.max() <= 1 and out.mask.min() >= 0 and out.mask.max() <= 1
    assert torch.allclose(out.image, out.mask * warped + (1 - out.mask) * out.rendered)


def test_generator_group_norm_and_dropout_options():
    x, warped = example_inputs(TryOnGenerator)
    gen = TryOnGenerator(in_channels=5, ngf=8, height=64, width=48, norm="group", dropout=0.5)
    assert gen(x, warped).image.shape == (1, 3, 64, 48)
    gen.eval()
    assert torch.equal(gen(x, warped).image, gen(x, warped).image)  # dropout off in eval


def test_generator_rejects_other_sizes():
    with pytest.raises(ValueError, match="4:3"):
        TryOnGenerator(height=256, width=256)
    with pytest.raises(ValueError, match="4:3"):
        TryOnGenerator(height=192, width=144)  # 4:3 but 192 / 4 is not a power of two
    gen = TryOnGenerator(in_channels=5, ngf=8, height=64, width=48)
    with pytest.raises(ValueError, match="64x48"):
        gen(*example_inputs(TryOnGenerator, height=128, width=96))


@pytest.mark.parametrize("size", SIZES)
def test_discriminator_returns_features_per_scale(size):
    disc = MultiScaleDiscriminator(in_channels=5 + 3, ndf=8, num_scales=2)
    cond, image = example_inputs(MultiScaleDiscriminator, n=2, height=size[0], width=size[1])
    out = disc(cond, image)
    assert len(out) == 2 and all(len(scale) == 5 for scale in out)
    assert [f.shape[1] for f in out[0]] == [8, 16, 32, 64, 1]
    h, w = size
    assert out[0][-1].shape == (2, 1, h // 8 - 2, w // 8 - 2)  # 70x70 PatchGAN: 3 stride-2 convs, 2 stride-1
    assert out[1][-1].shape == (2, 1, h // 16 - 2, w // 16 - 2)


@pytest.mark.parametrize("cls", [HumanParser, GeometricMatcher, TryOnGenerator, MultiScaleDiscriminator])
def test_save_and_load_give_the_same_model(cls, tmp_path):
    model = small(cls)
    inputs = example_inputs(cls, n=2)
    model.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "diffusion_pytorch_model.safetensors"]
    loaded = cls.from_pretrained(tmp_path)
    assert not loaded.training
    public = lambda config: {k: v for k, v in config.items() if not k.startswith("_")}  # noqa: E731
    assert public(loaded.config) == public(model.config)
    saved, restored = model.state_dict(), loaded.state_dict()
    assert saved.keys() == restored.keys() and all(torch.equal(saved[k], restored[k]) for k in saved)
    model.eval()
    with torch.no_grad():
        for a, b in zip(flat(model(*inputs)), flat(loaded(*inputs)), strict=True):
            # equal weights; spectral norm's sigma may round differently on differently aligned memory (~1e-6)
            torch.testing.assert_close(b, a, rtol=0, atol=1e-5)


def test_two_versions_of_a_model_average_weight_by_weight(tmp_path):
    from tryon.errors import TryOnError
    from tryon.models.chain import average_pretrained

    torch.manual_seed(0)
    a, b = small(GeometricMatcher), small(GeometricMatcher)
    a.save_pretrained(tmp_path / "a")
    b.save_pretrained(tmp_path / "pipe" / "warp")  # a pipeline folder holding it serves too
    mixed = average_pretrained("warp", tmp_path / "a", tmp_path / "pipe", 0.25).state_dict()
    first, second = a.state_dict(), b.state_dict()
    assert mixed.keys() == first.keys()
    for k in first:
        torch.testing.assert_close(mixed[k], 0.75 * first[k] + 0.25 * second[k])
    assert any(not torch.equal(first[k], second[k]) for k in first)
    with pytest.raises(TryOnError, match="alpha"):
        average_pretrained("warp", tmp_path / "a", tmp_path / "pipe", 1.5)
    GeometricMatcher(person_channels=5, feature_channels=16).save_pretrained(tmp_path / "other")
    with pytest.raises(TryOnError, match="built differently"):
        average_pretrained("warp", tmp_path / "a", tmp_path / "other", 0.5)


def _train(model, loss_fn, steps, lr=2e-3):
    opt = torch.optim.Adam(model.parameters(), lr)
    losses = []
    for _ in range(steps):
        loss = loss_fn()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_parser_learns_a_fixed_labelling():
    torch.manual_seed(0)
    parser = HumanParser(base_channels=8)
    x = example_inputs(HumanParser, n=2)[0]
    target = torch.randint(0, NUM_PARSE, (2, 8, 6)).repeat_interleave(8, 1).repeat_interleave(8, 2)  # 8x8 blocks
    losses = _train(parser, lambda: F.cross_entropy(parser(x), target), 15)
    assert losses[-1] < 0.8 * losses[0]


def test_generator_learns_a_fixed_target():
    torch.manual_seed(0)
    gen = TryOnGenerator(in_channels=5, ngf=8, height=64, width=48)
    x, warped = example_inputs(TryOnGenerator, n=2)
    target = garment(2, 64, 48)[0].flip(-1)
    losses = _train(gen, lambda: F.l1_loss(gen(x, warped).image, target), 15)
    assert losses[-1] < 0.7 * losses[0]


def test_matcher_learns_to_lay_a_garment_on_a_known_affine_target():
    torch.manual_seed(0)
    height, width = 128, 96
    rgb, mask = garment(2, height, width)
    theta = torch.tensor([[0.9, 0.0, 0.15], [0.0, 0.9, -0.1]]).expand(2, -1, -1)  # shrink and shift
    target_grid = F.affine_grid(theta, (2, 3, height, width), align_corners=False)
    target_rgb, target_mask = warp(rgb, target_grid), warp(mask, target_grid, fill=0.0)
    person = torch.cat([target_rgb * target_mask, target_mask], 1)  # where and what the garment is on the "body"
    cloth = torch.cat([rgb, mask], 1)
    matcher = GeometricMatcher(person_channels=4, feature_channels=32, work_height=height, work_width=width)
    losses = _train(matcher, lambda: F.l1_loss(warp(rgb, matcher(person, cloth)), target_rgb), 25, lr=1e-3)
    assert losses[-1] < 0.5 * losses[0]
