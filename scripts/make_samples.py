"""Regenerate the demo media in samples/ from public-domain pictures shipped with scikit-image.

Run once by maintainers (``pip install scikit-image``); the outputs are committed so the demo
needs no extra download. Sources: astronaut and rocket (NASA, public domain), chelsea and coffee
(CC0, scikit-image contributors). Nothing here edits faces or bodies: only re-encoding, resizing,
rotation, bars and panning — what re-uploads of real content look like.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import skimage.data
from PIL import Image

ROOT = Path(__file__).resolve().parents[1] / "samples"


def picture(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def write_pan_video(image: Image.Image, path: Path, codec: str, size: tuple[int, int]) -> None:
    """A 3-second, 8 fps slow pan across a still picture."""
    width, height = size
    pixels = np.asarray(image.resize((width * 2, height * 2)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for step in range(24):
            x = step * (width // 24)
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(pixels[height // 2 : height // 2 + height, x : x + width]),
                format="rgb24",
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main() -> None:
    known, uploads = ROOT / "known", ROOT / "uploads"
    known.mkdir(parents=True, exist_ok=True)
    uploads.mkdir(parents=True, exist_ok=True)
    astronaut, rocket, chelsea = picture("astronaut"), picture("rocket"), picture("chelsea")
    astronaut.save(known / "astronaut.jpg", quality=90)
    rocket.save(known / "rocket.jpg", quality=90)
    write_pan_video(chelsea, known / "chelsea-pan.mp4", "mpeg4", (240, 160))

    astronaut.transpose(Image.Transpose.ROTATE_90).save(uploads / "rotated.jpg", quality=70)
    boxed = Image.new("RGB", (512, 900), "black")
    boxed.paste(astronaut, (0, 194))
    boxed.save(uploads / "story-letterbox.jpg", quality=75)
    rocket.resize((320, 213)).save(uploads / "small-recompressed.jpg", quality=35)
    picture("coffee").save(uploads / "unrelated-coffee.jpg", quality=85)
    write_pan_video(chelsea, uploads / "reencoded-pan.webm", "libvpx", (240, 160))


if __name__ == "__main__":
    main()
