"""Invented faces for the demo: the virtual card's chip photo and the synthetic camera draw the same person.

The officer's central task is to compare the face on camera with the chip's 顔写真 (docs/domain.md). So that
people can rehearse it, one drawing routine paints an invented person from parameters derived from a seed (the
virtual person's key): once as the still chip photo, and frame by frame for the camera with a slight head sway
and a blink every few seconds, so a liveness challenge still has something alive to look at. `contrasting`
gives a clearly different person for practising a mismatch. Nobody here exists; nothing is a real likeness.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

RGB = tuple[int, int, int]

# Palettes, ordered so that indices half a palette apart look far apart.
_SKINS: tuple[RGB, ...] = (
    (244, 214, 190),
    (232, 190, 160),
    (214, 168, 132),
    (186, 136, 100),
    (150, 104, 72),
    (112, 76, 52),
)
_HAIRS: tuple[RGB, ...] = (
    (24, 20, 18),
    (70, 44, 26),
    (130, 90, 50),
    (200, 190, 180),
    (150, 40, 30),
    (40, 40, 60),
)
_CLOTHES: tuple[RGB, ...] = ((40, 60, 110), (90, 90, 90), (150, 40, 50), (40, 100, 70), (220, 220, 215))
_BACKDROPS: tuple[RGB, ...] = ((214, 222, 232), (226, 226, 222), (206, 218, 214))
HAIR_STYLES = ("short", "long", "bob", "crop")


@dataclass(frozen=True)
class FaceLook:
    """The parameters of one invented face (fractions are of the portrait's width or height)."""

    skin: int  # index into _SKINS
    hair: int  # index into _HAIRS
    hair_style: str
    clothes: int
    backdrop: int
    head_width: float  # half-width of the head
    head_height: float  # half-height of the head
    eye_gap: float  # half the distance between the eyes
    eye_size: float
    brow_tilt: float  # + raised outer ends, - lowered
    mouth_width: float
    glasses: bool


def look_of(seed: str) -> FaceLook:
    """The face a seed (e.g. a virtual person's key) always gets."""
    rng = random.Random(f"face:{seed}")  # noqa: S311 - a drawing, not a secret
    return FaceLook(
        skin=rng.randrange(len(_SKINS)),
        hair=rng.randrange(len(_HAIRS)),
        hair_style=rng.choice(HAIR_STYLES),
        clothes=rng.randrange(len(_CLOTHES)),
        backdrop=rng.randrange(len(_BACKDROPS)),
        head_width=rng.uniform(0.19, 0.25),
        head_height=rng.uniform(0.25, 0.3),
        eye_gap=rng.uniform(0.075, 0.1),
        eye_size=rng.uniform(0.022, 0.032),
        brow_tilt=rng.uniform(-0.015, 0.015),
        mouth_width=rng.uniform(0.06, 0.1),
        glasses=rng.random() < 0.35,
    )


def contrasting(look: FaceLook) -> FaceLook:
    """Someone else, plainly: other skin tone, hair, hairstyle, head shape, clothes and glasses."""
    style = HAIR_STYLES[(HAIR_STYLES.index(look.hair_style) + 2) % len(HAIR_STYLES)]
    return replace(
        look,
        skin=(look.skin + len(_SKINS) // 2) % len(_SKINS),
        hair=(look.hair + len(_HAIRS) // 2) % len(_HAIRS),
        hair_style=style,
        clothes=(look.clothes + 2) % len(_CLOTHES),
        head_width=0.44 - look.head_width,
        head_height=0.55 - look.head_height,
        eye_gap=0.175 - look.eye_gap,
        mouth_width=0.16 - look.mouth_width,
        brow_tilt=-look.brow_tilt,
        glasses=not look.glasses,
    )


def _shade(colour: RGB, factor: float) -> RGB:
    r, g, b = colour
    return (min(int(r * factor), 255), min(int(g * factor), 255), min(int(b * factor), 255))


def draw_portrait(
    image: Image.Image,
    look: FaceLook,
    box: tuple[int, int, int, int],
    *,
    eyes_open: float = 1.0,
    backdrop: bool = True,
) -> None:
    """Paint `look` as a head-and-shoulders portrait into `box` (left, top, right, bottom) of an RGB image."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    draw = ImageDraw.Draw(image)

    def px(u: float, v: float) -> tuple[float, float]:
        return left + u * w, top + v * h

    def ellipse(cu: float, cv: float, ru: float, rv: float, fill: RGB) -> None:
        draw.ellipse((*px(cu - ru, cv - rv), *px(cu + ru, cv + rv)), fill=fill)

    skin, hair = _SKINS[look.skin], _HAIRS[look.hair]
    if backdrop:
        draw.rectangle(box, fill=_BACKDROPS[look.backdrop])
    cx, cy, hw, hh = 0.5, 0.44, look.head_width, look.head_height
    if look.hair_style in ("long", "bob"):  # hair behind the head, down to the shoulders or the jaw
        drop = 0.34 if look.hair_style == "long" else 0.14
        draw.rounded_rectangle(
            (*px(cx - hw - 0.04, cy - hh - 0.03), *px(cx + hw + 0.04, cy + hh * 0.4 + drop)),
            radius=int(0.12 * w),
            fill=hair,
        )
    ellipse(0.5, 1.08, 0.48, 0.26, _CLOTHES[look.clothes])  # shoulders
    draw.rectangle((*px(0.43, cy + hh * 0.6), *px(0.57, 0.86)), fill=_shade(skin, 0.9))  # neck
    for side in (-1, 1):  # ears
        ellipse(cx + side * hw, cy + 0.01, 0.03, 0.05, _shade(skin, 0.95))
    ellipse(cx, cy, hw, hh, skin)
    # Hair on top: a cap over the upper part of the head with a fringe line.
    cap = 0.1 if look.hair_style == "crop" else 0.3
    draw.chord(
        (*px(cx - hw - 0.015, cy - hh - 0.035), *px(cx + hw + 0.015, cy + hh * cap)),
        180,
        360,
        fill=hair,
    )
    eye_v = cy - hh * 0.08
    for side in (-1, 1):
        ex = cx + side * look.eye_gap
        size = look.eye_size
        base = eye_v - size * 2.0
        outer_left = look.brow_tilt if side < 0 else 0.0  # the outer end rises (or drops) by brow_tilt
        draw.line(
            (
                *px(ex - size * 1.4, base - outer_left),
                *px(ex + size * 1.4, base - (look.brow_tilt - outer_left)),
            ),
            fill=_shade(hair, 0.8),
            width=max(int(0.012 * h), 1),
        )
        if eyes_open > 0.2:
            ellipse(ex, eye_v, size * 1.3, size * 0.8 * eyes_open, (245, 245, 240))
            ellipse(ex, eye_v, size * 0.6, size * 0.6 * eyes_open, (40, 30, 25))
        else:  # a blink: the lid's line
            draw.line(
                (*px(ex - size * 1.3, eye_v), *px(ex + size * 1.3, eye_v)), fill=_shade(skin, 0.6), width=2
            )
        if look.glasses:
            draw.rounded_rectangle(
                (*px(ex - size * 2.2, eye_v - size * 1.6), *px(ex + size * 2.2, eye_v + size * 1.6)),
                radius=int(size * w * 0.6),
                outline=(30, 30, 30),
                width=max(int(0.01 * h), 1),
            )
    if look.glasses:
        draw.line(
            (
                *px(cx - look.eye_gap + look.eye_size * 2.2, eye_v),
                *px(cx + look.eye_gap - look.eye_size * 2.2, eye_v),
            ),
            fill=(30, 30, 30),
            width=max(int(0.008 * h), 1),
        )
    nose = _shade(skin, 0.78)
    draw.line(
        (*px(cx, eye_v + 0.03), *px(cx - 0.012, cy + hh * 0.3), *px(cx + 0.01, cy + hh * 0.32)),
        fill=nose,
        width=2,
    )
    mouth_v = cy + hh * 0.55
    mw = look.mouth_width
    draw.chord((*px(cx - mw, mouth_v - 0.03), *px(cx + mw, mouth_v + 0.025)), 10, 170, fill=(170, 70, 70))


def portrait(look: FaceLook, size: tuple[int, int], *, supersample: int = 4) -> Image.Image:
    """The still portrait of `look` at `size` (the chip photo), drawn large and scaled down for smooth edges."""
    width, height = size
    big = Image.new("RGB", (width * supersample, height * supersample))
    draw_portrait(big, look, (0, 0, big.width, big.height))
    return big.resize(size, Image.Resampling.LANCZOS)


def portrait_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Where the person stands in a camera frame of `width`×`height`: a centred 4:5 box of the frame's height."""
    box_h = height
    box_w = box_h * 4 // 5
    left = (width - box_w) // 2
    return left, 0, left + box_w, box_h


def camera_frame(look: FaceLook, width: int, height: int, index: int, fps: int = 15) -> Image.Image:
    """Frame `index` of the person in front of the counter camera: a gentle sway and a blink every ~4 s."""
    image = Image.new("RGB", (width, height), _BACKDROPS[look.backdrop])
    seconds = index / fps
    sway = round(width * 0.012 * math.sin(2 * math.pi * seconds / 3.0))
    nod = round(height * 0.006 * math.sin(2 * math.pi * seconds / 4.7))
    blink_phase = seconds % 4.0
    eyes_open = 0.0 if blink_phase >= 3.85 else 1.0
    left, top, right, bottom = portrait_box(width, height)
    draw_portrait(
        image, look, (left + sway, top + nod, right + sway, bottom + nod), eyes_open=eyes_open, backdrop=False
    )
    return image
