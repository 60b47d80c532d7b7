"""The image opener: every accepted format decodes to RGB, every bad input is a clear MediaError."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retroface.errors import MediaError, MediaTooLargeError
from retroface.media import MediaLimits, load_image

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def photo(data: Path) -> Image.Image:
    return Image.open(data / "face_recognition" / "examples" / "obama.jpg").convert("RGB")


@pytest.mark.parametrize(
    "fmt,suffix",
    [("PNG", ".png"), ("WEBP", ".webp"), ("BMP", ".bmp"), ("TIFF", ".tif"), ("PPM", ".ppm")],
)
def test_accepted_formats_decode_to_rgb8(
    photo: Image.Image, tmp_path: Path, fmt: str, suffix: str
) -> None:
    path = tmp_path / f"evidence{suffix}"
    photo.save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    loaded = load_image(path)
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (photo.height, photo.width, 3)
    assert loaded.format == fmt
    assert np.array_equal(loaded.pixels, np.asarray(photo))


def test_sha256_is_of_the_exact_file_bytes(data: Path) -> None:
    path = data / "face_recognition" / "examples" / "obama.jpg"
    assert load_image(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_grey_pgm_and_extensionless_gif_open(data: Path) -> None:
    pgm = load_image(data / "att_faces" / "s1" / "1.pgm")
    assert pgm.pixels.shape == (112, 92, 3)
    gif = load_image(data / "yalefaces" / "subject01.glasses")  # a GIF with no extension
    assert gif.format == "GIF" and gif.pixels.shape == (243, 320, 3)


def test_animated_gif_gives_first_frame(photo: Image.Image, tmp_path: Path) -> None:
    first = photo.resize((64, 64))
    second = Image.new("RGB", (64, 64), (0, 0, 0))
    path = tmp_path / "anim.gif"
    first.save(path, save_all=True, append_images=[second], duration=100)
    pixels = load_image(path).pixels
    assert pixels.mean() > 20  # the black second frame would average 0


def test_rgba_png_is_composited_on_white(data: Path) -> None:
    loaded = load_image(data / "face_recognition" / "tests" / "test_images" / "32bit.png")
    assert loaded.pixels.shape[2] == 3 and loaded.format == "PNG"


def test_16bit_png_keeps_its_tonal_range(photo: Image.Image, tmp_path: Path) -> None:
    grey8 = np.asarray(photo.convert("L"), dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(grey8 * 257).save(path)  # 16-bit grey; values up to 65535
    assert Image.open(path).mode.startswith("I")
    pixels = load_image(path).pixels
    assert np.abs(pixels[:, :, 0].astype(int) - grey8).max() <= 1


def test_exif_orientation_is_applied(photo: Image.Image, tmp_path: Path) -> None:
    # A camera that stored the picture rotated and tagged Orientation=6 (rotate 90° CW to view).
    stored = photo.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.pixels.shape[:2] == (photo.height, photo.width)


def test_cmyk_jpeg_converts(photo: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "print.jpg"
    photo.convert("CMYK").save(path)
    assert load_image(path).pixels.shape == (photo.height, photo.width, 3)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        load_image(tmp_path / "absent.jpg")


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not a regular file"):
        load_image(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        load_image(path)


def test_text_file_with_image_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture")
    with pytest.raises(MediaError, match="not an image"):
        load_image(path)


def test_truncated_jpeg(data: Path, tmp_path: Path) -> None:
    raw = (data / "face_recognition" / "examples" / "obama.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MediaError, match="corrupt or truncated"):
        load_image(path)


def test_file_over_byte_limit(data: Path) -> None:
    with pytest.raises(MediaTooLargeError, match="bytes exceeds"):
        load_image(
            data / "face_recognition" / "examples" / "obama.jpg", MediaLimits(max_file_bytes=1000)
        )


def test_decompression_bomb_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)  # ~50 KB on disk, 400 megapixels decoded
    assert path.stat().st_size < 200_000
    with pytest.raises(MediaTooLargeError, match="pixels"):
        load_image(path)


def test_unaccepted_format_refused(photo: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "evidence.pdf"
    buffer = io.BytesIO()
    photo.save(buffer, format="ICO")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(MediaError, match="not accepted"):
        load_image(path)
