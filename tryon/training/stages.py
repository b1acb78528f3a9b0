"""What each training stage builds, computes and measures: the human parser, the warp and the generator.

A stage owns its models and optimizers and knows one training step (losses, backward, optimizer steps), its
validation metrics, a sample grid and how to export its trained model. The loop in tryon.training.trainer
drives any of them the same way.
"""
import copy
import logging

import numpy as np
import torch
import torch.nn.functional as F

from tryon.data.labels import (GARMENT_LABELS, IGNORE, MERGED_LABELS, MERGED_LUT, PARSE_COLOURS, PARSE_LABELS,
                               PARTIAL_LABELS)
from tryon.errors import TryOnError
from tryon.metrics import Confusion, psnr, ssim
from tryon.models import GeometricMatcher, HumanParser, MultiScaleDiscriminator, TryOnGenerator, warp
from tryon.models.chain import batch_repr, load_pretrained, pose_layout_categories, warp_garment
from tryon.models.efficientnet import load_imagenet_weights
from tryon.preprocess.person import (CLOTH_CHANNELS, GENERATOR_CHANNELS, PERSON_REPR_CHANNELS, generator_input,
                                     paste_region)
from tryon.training import losses as L

log = logging.getLogger(__name__)


class NonFiniteLoss(TryOnError):
    """A loss became NaN or infinite; the message says at which step, in which loss, on which samples."""


def check_finite(losses: dict, step: int, batch: dict):
    for name, value in losses.items():
        if not torch.isfinite(value).all():
            names = ", ".join(batch["name"][:8])
            raise NonFiniteLoss(f"training stopped: loss '{name}' is {value.item()} at step {step} "
                                f"(samples: {names}); nothing after the last checkpoint was saved")


def garment_region(parse: torch.Tensor, categories) -> torch.Tensor:
    """[N, 1, H, W] float mask of the pixels the worn garment of each sample's category covers."""
    masks = [torch.isin(p, torch.tensor(GARMENT_LABELS[c], device=p.device)) for p, c in zip(parse, categories)]
    return torch.stack(masks)[:, None].float()


def _to01(x):
    return (x.float().clamp(-1, 1) + 1) / 2


class Stage:
    name = ""
    val_key = ""  # the validation metric that picks the best model (higher is better)

    def __init__(self, cfg, accelerator):
        self.cfg, self.acc = cfg, accelerator

    def _optimizer(self, params, lr):
        return torch.optim.Adam(params, lr=lr, betas=(self.cfg.beta1, self.cfg.beta2))

    def optimizers(self) -> list:
        """(optimizer, base learning rate) pairs, for the learning-rate schedule."""
        return [(self.opt, self.cfg.lr)]

    def set_lr(self, step: int):
        """The learning rates for optimizer step `step` (from 1): the base ones until cfg.lr_decay_from, then falling
        linearly to 0 at cfg.steps. A function of the step alone, so a resumed run follows the same schedule."""
        start, end = self.cfg.lr_decay_from, self.cfg.steps
        factor = 1.0 if not start or step <= start else max(0.0, (end - step) / (end - start))
        for opt, base in self.optimizers():
            for group in opt.param_groups:
                group["lr"] = base * factor

    def _init_or_new(self, cls, subfolder, **kwargs):
        if self.cfg.init:
            log.info("fine-tuning the %s from %s", subfolder, self.cfg.init)
            return load_pretrained(cls, self.cfg.init, subfolder)
        return cls(**kwargs)

    def _vgg(self):
        return L.VGGPerceptualLoss(self.cfg.vgg_weights).to(self.acc.device) if self.cfg.vgg_weights else None


def label_weights(spec: str, labels) -> torch.Tensor:
    """Per-label loss weights from "name=weight,name=weight" (every other label 1): [len(labels)] float."""
    weight = torch.ones(len(labels))
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        if name.strip() not in labels:
            raise TryOnError(f"label_weights: unknown label {name.strip()!r} (labels: {', '.join(labels)})")
        try:
            weight[labels.index(name.strip())] = float(value)
        except ValueError:
            raise TryOnError(f"label_weights: {item!r} is not name=number") from None
    if (weight < 0).any():
        raise TryOnError("label_weights: weights must be 0 or more")
    return weight


class ParserStage(Stage):
    """Human parsing from the raw photo (batch "image" -> "labels"): cross-entropy, where a partial label (CCP's one
    skin label) accepts any of its labels. Validated on the seven merged classes (tryon.data.labels.MERGED_LABELS),
    which every source labels alike: mean IoU ("miou", which picks the best model), each class's IoU and the
    pixel accuracy."""

    name, val_key = "parser", "miou"
    subfolder, labels, partial = "parser", PARSE_LABELS, PARTIAL_LABELS
    classes, lut = MERGED_LABELS, torch.from_numpy(MERGED_LUT).long()

    def __init__(self, cfg, accelerator):
        super().__init__(cfg, accelerator)
        self.model = self._init_or_new(HumanParser, self.subfolder, num_labels=len(self.labels),
                                       base_channels=cfg.parser_channels, backbone=cfg.parser_backbone)
        self.model.register_to_config(input_height=cfg.height, input_width=cfg.width)  # the size it learns to read
        self.weight = label_weights(cfg.label_weights, self.labels).to(accelerator.device)
        if not cfg.init and cfg.parser_backbone == "efficientnet_lite0":
            load_imagenet_weights(self.model.encoder)
            log.info("%s encoder: EfficientNet-Lite0 from its ImageNet weights", self.name)
        self.opt = self._optimizer(self.model.parameters(), cfg.lr)
        self.model, self.opt = accelerator.prepare(self.model, self.opt)

    def training_step(self, batch, step):
        with self.acc.accumulate(self.model):
            with self.acc.autocast():
                logits = self.model(batch["image"])
            losses = {"ce": L.partial_cross_entropy(logits, batch["labels"], self.partial, IGNORE, self.weight)}
            check_finite(losses, step, batch)
            self.acc.backward(losses["ce"])
            self.opt.step()
            self.opt.zero_grad()
        return losses

    @torch.no_grad()
    def evaluate(self, batch):
        pred = self.acc.unwrap_model(self.model)(batch["image"]).argmax(1)
        return {"pred": pred}

    def metrics(self, batches):
        confusion = Confusion(len(self.classes))
        for batch, out in batches:
            confusion.add(self.lut[batch["labels"].cpu()].numpy(), self.lut[out["pred"].cpu()].numpy())
        scores = confusion.scores(self.classes)
        return {"pixel_acc": scores["pixel_acc"], "miou": scores["miou"],
                **{f"iou_{name}": value for name, value in scores["iou"].items()}}

    def grid(self, batch, out):
        colours = torch.from_numpy(PARSE_COLOURS).float() / 255
        to_rgb = lambda p: colours[p.cpu()].permute(0, 3, 1, 2)
        return [_to01(batch["image"]).cpu(), to_rgb(batch["labels"]), to_rgb(out["pred"])]

    def export(self, path):
        self.acc.unwrap_model(self.model).save_pretrained(path)


class GarmentStage(ParserStage):
    """The garment segmenter (the parser's network with two labels: background, garment) on garment photos;
    the best model has the highest garment IoU."""

    name, val_key = "garment", "iou_garment"
    subfolder, labels, partial = "garment_segmenter", ("background", "garment"), ()
    classes, lut = ("background", "garment"), torch.arange(256)


class WarpStage(Stage):
    """Geometric matching: the warped flat garment should match the garment as worn (L1, mask, smoothness)."""

    name, val_key = "warp", "psnr_garment"

    def __init__(self, cfg, accelerator):
        super().__init__(cfg, accelerator)
        self.model = self._with_refiner(self._init_or_new(
            GeometricMatcher, "warp", person_channels=PERSON_REPR_CHANNELS, cloth_channels=CLOTH_CHANNELS,
            grid_size=cfg.warp_grid_size, flow_channels=cfg.warp_flow_channels, flow_stages=cfg.warp_flow_stages))
        self.opt = self._optimizer(self.model.parameters(), cfg.lr)
        self.model, self.opt = accelerator.prepare(self.model, self.opt)
        self.vgg = self._vgg()

    def _with_refiner(self, model: GeometricMatcher) -> GeometricMatcher:
        """`model`, given zero-initialised flow refiners where warp_flow_channels and warp_flow_stages ask for more
        than it has (a TPS-only warp fine-tuned into TPS + flow, or a cascade grown by a stage): it starts out as
        exactly that warp."""
        want, have = self.cfg.warp_flow_channels, model.config.flow_channels
        stages = max(self.cfg.warp_flow_stages, model.config.flow_stages)
        if have and want not in (0, have):
            raise TryOnError(f"{self.cfg.init}: this warp already has a flow refiner of {have} channels; "
                             f"set warp_flow_channels = {have} (or 0) to fine-tune it")
        channels = have or want
        if (channels, stages) == (have, model.config.flow_stages) or not channels:
            return model
        log.info("growing the warp of %s to %d flow refiner(s) of %d channels (it had %d of %d)", self.cfg.init,
                 stages, channels, model.config.flow_stages if have else 0, have)
        config = {k: v for k, v in model.config.items() if not k.startswith("_")}
        refined = GeometricMatcher(**{**config, "flow_channels": channels, "flow_stages": stages})
        missing, unexpected = refined.load_state_dict(model.state_dict(), strict=False)
        assert not unexpected and all(k.startswith(("refiner.", "cascade.")) for k in missing), (missing, unexpected)
        return refined

    @staticmethod
    def targets(batch):
        region = garment_region(batch["parse"], batch["category"])
        return batch["person"] * region + (1 - region), region  # the worn garment on white, and its mask

    def training_step(self, batch, step):
        cfg = self.cfg
        target, region = self.targets(batch)
        with self.acc.accumulate(self.model):
            with self.acc.autocast():
                grid, cps = self.model(batch_repr(batch), torch.cat([batch["cloth"], batch["cloth_mask"]], 1),
                                       return_control_points=True)
            warped, wmask = warp(batch["cloth"], grid).float(), warp(batch["cloth_mask"], grid, fill=0.0).float()
            losses = {"l1": F.l1_loss(warped, target), "mask": F.l1_loss(wmask, region),
                      "grid": L.tps_grid_regularisation(cps.float())}
            matcher = self.acc.unwrap_model(self.model)
            tps = matcher.grid(cps.float(), *grid.shape[1:3])
            if matcher.refiner is not None:  # the refiner's correction: what the grid adds to the TPS alone
                losses["flow_tv"] = L.total_variation((grid.float() - tps).permute(0, 3, 1, 2))
            if cfg.lambda_print > 0:
                losses["print"] = L.print_placement_loss(batch["cloth"], batch["prints"], tps, grid.float(), target)
            if cfg.lambda_ssim > 0:
                losses["ssim"] = 1 - ssim(warped, target).mean()
            if self.vgg is not None:
                losses["vgg"] = self.vgg(warped, target)
            total = (losses["l1"] + losses["mask"] + cfg.lambda_grid * losses["grid"]
                     + cfg.lambda_flow * losses.get("flow_tv", 0) + cfg.lambda_ssim * losses.get("ssim", 0)
                     + cfg.lambda_vgg * 0.1 * losses.get("vgg", 0) + cfg.lambda_print * losses.get("print", 0))
            check_finite(losses, step, batch)
            self.acc.backward(total)
            self.opt.step()
            self.opt.zero_grad()
        return losses

    @torch.no_grad()
    def evaluate(self, batch):
        matcher = self.acc.unwrap_model(self.model)
        warped, wmask, points, flow, _ = warp_garment(matcher, batch, batch_repr(batch), lay_prints=True)
        on_print = warp(batch["prints"], matcher.sampling_grid(points, flow, *warped.shape[-2:]), fill=0.0) > 0.5
        return {"warped": warped, "wmask": wmask, "on_print": on_print}

    def metrics(self, batches):
        """Over the worn garment: PSNR and SSIM of the warped garment (prints laid whole, as the pipeline lays them)
        and its mask's IoU; PSNR over where the prints land, for the garments that have one."""
        ps, ss, ious, pp = [], [], [], []
        for batch, out in batches:
            target, region = self.targets(batch)
            ps.append(psnr(out["warped"], target, region))
            ss.append(ssim(out["warped"], target, region))
            m = out["wmask"] > 0.5
            r = region > 0.5
            ious.append((m & r).sum(dim=(1, 2, 3)) / (m | r).sum(dim=(1, 2, 3)).clamp(min=1))
            printed = out["on_print"].flatten(1).any(1)
            pp.append(psnr(out["warped"], target, out["on_print"])[printed])
        pp = torch.cat(pp)
        return {"psnr_garment": torch.cat(ps).mean().item(), "ssim_garment": torch.cat(ss).mean().item(),
                "mask_iou": torch.cat(ious).float().mean().item(),
                "psnr_print": pp.mean().item() if len(pp) else float("nan")}

    def grid(self, batch, out):
        target, _ = self.targets(batch)
        return [_to01(batch["cloth"]), _to01(out["warped"]), _to01(target), _to01(batch["person"] * 0.5 + out["warped"] * 0.5)]

    def export(self, path):
        self.acc.unwrap_model(self.model).save_pretrained(path)


class GeneratorStage(Stage):
    """The try-on generator against a multi-scale PatchGAN, with a frozen trained warp in front of it."""

    name, val_key = "generator", "psnr"

    def __init__(self, cfg, accelerator):
        super().__init__(cfg, accelerator)
        if not cfg.warp_model:
            raise TryOnError("the generator stage needs a trained warp: set warp_model (a warp or pipeline folder)")
        self.matcher = load_pretrained(GeometricMatcher, cfg.warp_model, "warp").to(accelerator.device).eval()
        self.pose_layout = pose_layout_categories(cfg.pose_layout)
        self.matcher.requires_grad_(False)
        self.G = self._init_or_new(TryOnGenerator, "generator", in_channels=GENERATOR_CHANNELS, ngf=cfg.ngf,
                                   height=cfg.height, width=cfg.width)
        built = (self.G.config.height, self.G.config.width)
        if built != (cfg.height, cfg.width):
            raise TryOnError(f"{cfg.init}: its generator is built for {built[0]}x{built[1]}, and this run trains at "
                             f"{cfg.height}x{cfg.width}: set height and width to match, or train without --init")
        self.D = MultiScaleDiscriminator(in_channels=GENERATOR_CHANNELS + 3, ndf=cfg.ndf, num_scales=cfg.num_d)
        self.ema = copy.deepcopy(self.G).requires_grad_(False) if cfg.ema_decay > 0 else None
        self.opt_g = self._optimizer(self.G.parameters(), cfg.lr)
        self.opt_d = self._optimizer(self.D.parameters(), cfg.lr_d)
        self.G, self.D, self.opt_g, self.opt_d = accelerator.prepare(self.G, self.D, self.opt_g, self.opt_d)
        if self.ema is not None:
            self.ema.to(accelerator.device)
            accelerator.register_for_checkpointing(self.ema)
        self.vgg = self._vgg()
        self.perceptual = L.EfficientNetPerceptualLoss().to(accelerator.device) if cfg.lambda_perceptual > 0 else None

    def optimizers(self) -> list:
        return [(self.opt_g, self.cfg.lr), (self.opt_d, self.cfg.lr_d)]

    def _inputs(self, batch):
        with torch.no_grad():
            person = batch_repr(batch)
            warped, wmask, *_ = warp_garment(self.matcher, batch, person, self.pose_layout, lay_prints=True)
        return generator_input(person, warped, wmask), warped, wmask

    def training_step(self, batch, step):
        cfg, acc = self.cfg, self.acc
        x, warped, wmask = self._inputs(batch)
        real = batch["person"]
        n = real.shape[0]
        with acc.accumulate(self.G, self.D):
            with acc.autocast():
                out = self.G(x, warped)
                # one discriminator pass over fakes and reals together (a single forward per DDP step)
                preds = self.D(torch.cat([x, x]), torch.cat([out.image.detach(), real]))
                pred_fake = [[f[:n] for f in scale] for scale in preds]
                pred_real = [[f[n:] for f in scale] for scale in preds]
                loss_d = 0.5 * (L.adversarial_loss(pred_fake, False, cfg.gan_mode) + L.adversarial_loss(pred_real, True, cfg.gan_mode))
            check_finite({"d": loss_d}, step, batch)
            acc.backward(loss_d)
            self.opt_d.step()
            self.opt_d.zero_grad()

            d = acc.unwrap_model(self.D).requires_grad_(False)  # the generator's pass leaves D's gradients alone
            with acc.autocast():
                pred_fake = d(x, out.image)
            d.requires_grad_(True)
            image = out.image.float()
            losses = {
                "d": loss_d.detach(),
                "g_gan": L.adversarial_loss(pred_fake, True, cfg.gan_mode, for_discriminator=False),
                "fm": L.feature_matching_loss(pred_fake, pred_real),
                "l1": F.l1_loss(image, real),
                "mask": L.mask_loss(out.mask.float(), wmask),
            }
            if cfg.lambda_ssim > 0:
                losses["ssim"] = 1 - ssim(image, real).mean()
            if self.vgg is not None:
                losses["vgg"] = self.vgg(image, real)
            if self.perceptual is not None:
                losses["perceptual"] = self.perceptual(image, real)
            if cfg.lambda_aligned > 0:
                losses["aligned"] = L.aligned_composition_loss(out.mask.float(), warped, wmask, real,
                                                               cfg.aligned_threshold)
            total = (cfg.lambda_gan * losses["g_gan"] + cfg.lambda_fm * losses["fm"] + cfg.lambda_l1 * losses["l1"]
                     + cfg.lambda_ssim * losses.get("ssim", 0) + cfg.lambda_mask * losses["mask"]
                     + cfg.lambda_vgg * losses.get("vgg", 0) + cfg.lambda_perceptual * losses.get("perceptual", 0)
                     + cfg.lambda_aligned * losses.get("aligned", 0))
            check_finite(losses, step, batch)
            acc.backward(total)
            self.opt_g.step()
            self.opt_g.zero_grad()
        if self.ema is not None and acc.sync_gradients:
            with torch.no_grad():
                src = acc.unwrap_model(self.G)
                torch._foreach_lerp_(list(self.ema.parameters()), list(src.parameters()), 1 - cfg.ema_decay)
                for b_ema, b in zip(self.ema.buffers(), src.buffers()):
                    b_ema.copy_(b)
        return losses

    def _eval_model(self):
        return self.ema if self.ema is not None else self.acc.unwrap_model(self.G)

    @torch.no_grad()
    def evaluate(self, batch):
        x, warped, wmask = self._inputs(batch)
        out = self._eval_model()(x, warped)
        # scored as the pipeline pastes it: only over the old and the new garment (hard-edged here)
        parts = zip(batch["parse"].cpu().numpy(), batch["agnostic_mask"][:, 0].cpu().numpy() > 0.5,
                    wmask[:, 0].float().cpu().numpy() > 0.5, batch["category"])
        m = torch.from_numpy(np.stack([paste_region(*p) for p in parts]))[:, None].to(out.image)
        return {"image": out.image, "pasted": out.image * m + batch["person"] * (1 - m), "warped": warped, "mask": out.mask}

    def metrics(self, batches):
        s, p, pg = [], [], []
        for batch, out in batches:
            real = batch["person"]
            s.append(ssim(out["pasted"], real))
            p.append(psnr(out["pasted"], real))
            pg.append(psnr(out["pasted"], real, garment_region(batch["parse"], batch["category"])))
        return {"ssim": torch.cat(s).mean().item(), "psnr": torch.cat(p).mean().item(), "psnr_garment": torch.cat(pg).mean().item()}

    def grid(self, batch, out):
        return [_to01(batch["agnostic"]), _to01(batch["cloth"]), _to01(out["warped"]),
                out["mask"].expand(-1, 3, -1, -1).float(), _to01(out["pasted"]), _to01(batch["person"])]

    def export(self, path):
        self._eval_model().save_pretrained(path)


STAGES = {"parser": ParserStage, "garment": GarmentStage, "warp": WarpStage, "generator": GeneratorStage}
