"""Real image folders: every format and Pillow mode, EXIF orientation, transparency, 16-bit depth,
the resize policies, bad files skipped (or refused with --strict), the size images are decoded at,
the store's fingerprint of a folder, and the executors reading the files themselves.

Every image here is written by Pillow in its real format; nothing is mocked."""

import dataclasses
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from zoo.data import sources
from zoo.data.decode import EXTENSIONS, decode
from zoo_plugins import image_folder

from ..conftest import TINY_PLUGIN
from ..dataset_files import write_image_folder

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 200, 0), (0, 0, 255), (255, 255, 255)
RANK = ["--plugin", TINY_PLUGIN, "rank", "tiny", "--weights", "none", "--json"]


def near(pixel, colour, tolerance=40) -> bool:
    """Whether ``pixel`` is ``colour`` within what JPEG and WebP compression leave."""
    return bool(np.all(np.abs(np.asarray(pixel, int) - colour) <= tolerance))


def test_every_format_torchvision_reads_is_read_in_any_case(tmp_path):
    for i, extension in enumerate(EXTENSIONS):
        name = f"{i:02d}{extension.upper() if i % 2 else extension}"
        Image.new("RGB", (16, 16), RED).save(tmp_path / name, format=Image.registered_extensions()[extension])
    frames = [Image.new("RGB", (16, 16), colour) for colour in (GREEN, BLUE)]  # an animated GIF: its first frame
    frames[0].save(tmp_path / "animated.gif", save_all=True, append_images=frames[1:])
    found = sources.scan(sorted(tmp_path.iterdir()))
    assert len(found.readable) == len(EXTENSIONS) + 1 and not found.skipped
    for path in found.readable:
        expected = GREEN if path.name == "animated.gif" else RED
        if path.suffix.lower() == ".pgm":  # grey: red's luma, 0.299 x 255
            expected = (76,)
        assert near(decode(path, 8, grey=path.suffix.lower() == ".pgm")[4, 4], expected), path.name


@pytest.mark.parametrize("mode, colour, expected", [
    ("RGBA", (255, 0, 0, 0), WHITE),  # transparent: the background, not the red it holds
    ("RGBA", (255, 0, 0, 255), RED),
    ("LA", (0, 0), WHITE),
    ("CMYK", (0, 255, 255, 0), RED),  # as a JPEG
    ("L", 128, (128, 128, 128)),
    ("I;16", 65535, WHITE),  # 16 bits scaled: the maximum is 255
    ("I;16", 32896, (128, 128, 128)),  # 32896 / 257 = 128
    ("I", 65535, WHITE),
    ("F", 1.0, WHITE),  # floats 0-1
    ("1", 1, WHITE),
])
def test_every_pillow_mode_becomes_rgb_correctly(tmp_path, mode, colour, expected):
    path = tmp_path / ("image.jpg" if mode == "CMYK" else "image.tif" if mode in ("F", "I") else "image.png")
    if mode == "I;16":
        Image.fromarray(np.full((8, 8), colour, np.uint16)).save(path)
    else:
        Image.new(mode, (8, 8), colour).save(path)
    assert near(decode(path, 8, grey=False)[4, 4], expected, 2 if mode != "CMYK" else 40)


def test_a_palette_image_with_transparency_is_composited(tmp_path):
    image = Image.new("P", (8, 8), 0)
    image.putpalette([*RED, *GREEN])
    image.paste(1, (0, 0, 8, 4))  # top half green, bottom half index 0: red, transparent
    image.save(tmp_path / "p.png", transparency=0)
    pixels = decode(tmp_path / "p.png", 8, grey=False)
    assert near(pixels[1, 4], GREEN, 2) and near(pixels[6, 4], WHITE, 2)


def test_a_phone_photo_stored_sideways_is_seen_upright(tmp_path):
    upright = Image.new("RGB", (40, 20), BLUE)
    upright.paste(RED, (0, 0, 40, 10))  # the top half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display", as phones write it
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    pixels = decode(tmp_path / "photo.jpg", 20, grey=False, resize="squash")
    assert near(pixels[1, 1], RED) and near(pixels[1, -2], RED), "the top row is red"
    assert near(pixels[-2, 1], BLUE) and near(pixels[-2, -2], BLUE), "the bottom row is blue"


def test_the_resize_policies(tmp_path):
    bands = Image.new("RGB", (60, 20), RED)  # red, green and blue thirds, left to right
    bands.paste(GREEN, (20, 0, 40, 20))
    bands.paste(BLUE, (40, 0, 60, 20))
    bands.save(tmp_path / "wide.png")
    crop, squash, pad = (decode(tmp_path / "wide.png", 12, False, policy) for policy in ("crop", "squash", "pad"))
    assert near(crop[6, 1], GREEN, 2) and near(crop[6, -2], GREEN, 2), "the centre kept, the aspect too"
    assert near(squash[6, 0], RED, 2) and near(squash[6, 6], GREEN, 2) and near(squash[6, -1], BLUE, 2)
    assert near(pad[0, 6], (0, 0, 0), 0) and near(pad[-1, 6], (0, 0, 0), 0), "black above and below"
    assert near(pad[6, 0], RED, 2) and near(pad[6, -1], BLUE, 2)


@pytest.mark.parametrize("width, height", [(382, 500), (500, 382), (107, 144), (191, 228)])
def test_a_photo_whose_centre_square_rounds_outside_it_is_cropped(tmp_path, width, height):
    """224 / (224 / 382) is 382.00000000000006: the crop box began a hair left of the image and
    Pillow refused it (ValueError: box offset can't be negative), for 15 of the 398 photos of
    PyTorch's ants and bees, failing the whole trial (#31's real-features kit found it)."""
    Image.new("RGB", (width, height), GREEN).save(tmp_path / "photo.jpg")
    pixels = decode(tmp_path / "photo.jpg", 224, False, "crop")
    assert pixels.shape == (224, 224, 3) and near(pixels[112, 112], GREEN, 4)


def test_one_grey_scan_that_sorts_first_does_not_turn_the_folder_grey(tmp_path):
    # Red versus green: a grey first file used to make the whole folder grey, and the two
    # classes read as the same grey.
    for name, colour in (("green", GREEN), ("red", RED)):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.new("RGB", (8, 8), colour).save(tmp_path / name / f"{i}.png")
    Image.new("L", (8, 8), 90).save(tmp_path / "green" / "0000-scan.png")
    data = image_folder.load_folder(tmp_path)
    assert not data.grey
    view = data.view("train")
    pixels = view.decode(range(len(view)), 8, "crop")
    assert pixels.shape[-1] == 3
    for image, label in zip(pixels, data.y_train):
        assert near(image[4, 4], (GREEN, RED)[label], 2) or near(image[4, 4], (90, 90, 90), 2)
    assert any(near(image[4, 4], RED, 2) for image in pixels), "red stays red"


def test_a_folder_of_16_bit_scans_keeps_its_classes_apart(tmp_path):
    # 12-bit scans in 16-bit PNGs, with one 8-bit file that sorts first: they used to be refused,
    # or clipped to 255 when the 8-bit file came first.
    for label, level in (("dark", 1000), ("light", 3000)):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(np.full((8, 8), level, np.uint16)).save(tmp_path / label / f"{i}.png")
    Image.new("L", (8, 8), 4).save(tmp_path / "dark" / "0-eight-bit.png")
    data = image_folder.load_folder(tmp_path)
    assert data.grey
    view = data.view("train")
    levels = {int(label): set() for label in data.y_train}
    for image, label in zip(view.decode(range(len(view)), 8, "crop"), data.y_train):
        levels[int(label)].add(int(image[4, 4, 0]))
    assert levels[1] == {round(3000 / 257)} and levels[0] <= {round(1000 / 257), 4}


def bad_folder(root):
    """A folder as people have them: images, and 3 corrupt files (one truncated, its header
    whole), 1 empty file, and what zoo passes over silently (.DS_Store, notes.txt, ._ files,
    __MACOSX). Returns the path of the truncated file."""
    write_image_folder(root, classes=("cat", "dog"), per_class=8, size=(16, 16), splits=True)
    rng = np.random.default_rng(0)
    photo = root / "train" / "cat" / "truncated.jpg"
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(photo, quality=95)
    photo.write_bytes(photo.read_bytes()[:2000])  # half-copied
    (root / "train" / "dog" / "garbage.png").write_bytes(b"this is not a png at all")
    (root / "train" / "dog" / "notes-renamed.jpg").write_text("a note, saved with the wrong name")
    (root / "train" / "cat" / "empty.png").write_bytes(b"")
    (root / "train" / "cat" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "train" / "cat" / "notes.txt").write_text("where these came from")
    (root / "train" / "dog" / "._000.png").write_bytes(b"\0\5\26\7 AppleDouble")
    (root / "__MACOSX" / "cat").mkdir(parents=True)
    (root / "__MACOSX" / "cat" / "._000.png").write_bytes(b"\0\5\26\7")
    return photo


def test_bad_files_are_skipped_counted_and_listed_and_strict_refuses_them(run_zoo, tmp_path):
    bad_folder(tmp_path / "photos")
    dataset = ["--dataset", f"folder:{tmp_path / 'photos'}"]
    result = run_zoo(*RANK, *dataset, "--output", tmp_path / "run", check=0)
    [row] = json.loads(result.stdout)
    assert row["status"] == "ok" and row["skipped_images"] == 4, "3 corrupt files and an empty one"
    assert row["train_images"] + row["val_images"] == 16, "the truncated file left out of the scores"
    assert "3 file(s) skipped as unreadable images" in result.stderr, "the truncated one is found when decoded"
    assert "tiny: 1 file(s) could not be decoded and were left out: " in result.stderr
    assert "truncated.jpg: image file is truncated" in result.stderr
    listed = (tmp_path / "run" / "skipped_images.csv").read_text()
    assert "garbage.png" in listed and "empty.png" in listed and ".DS_Store" not in listed

    refused = run_zoo(*RANK, *dataset, "--strict", "--output", tmp_path / "strict", check=2)
    [line] = refused.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"Error: {tmp_path / 'photos' / 'train' / 'cat' / 'empty.png'} is not a readable image")
    assert "--strict" in line


def test_a_truncated_file_stops_a_strict_run_when_it_is_decoded_or_read_from_the_store(run_zoo, tmp_path):
    photo = bad_folder(tmp_path / "photos")
    for path in (tmp_path / "photos" / "train").glob("*/*"):  # only the truncated one left bad
        if path.name in ("garbage.png", "notes-renamed.jpg", "empty.png"):
            path.unlink()
    dataset = ["--dataset", f"folder:{tmp_path / 'photos'}"]
    result = run_zoo(*RANK, *dataset, "--strict", "--output", tmp_path / "run", check=2)
    [row] = json.loads(result.stdout)
    assert row["status"] == "failed" and row["error"].startswith(f"{photo} is not a readable image")
    [row] = json.loads(run_zoo(*RANK, *dataset, "--output", tmp_path / "lenient", check=0).stdout)
    assert row["status"] == "ok" and row["skipped_images"] == 1  # its features are stored now
    result = run_zoo(*RANK, *dataset, "--strict", "--output", tmp_path / "again", check=2)
    [row] = json.loads(result.stdout)
    assert row["status"] == "failed" and row["error"].startswith(f"{photo}: image file is truncated")


def test_a_file_that_fails_when_decoded_counts_in_neither_accuracy_nor_images(run_zoo, tmp_path):
    # Trained from the files (--no-cache): Keras's accuracy must leave the failed file out as the
    # confusion matrix does, so the two agree.
    write_image_folder(tmp_path / "photos", classes=("cat", "dog"), per_class=8, size=(16, 16), splits=True)
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        photo = tmp_path / "photos" / split / "dog" / "truncated.jpg"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(photo, quality=95)
        photo.write_bytes(photo.read_bytes()[:2000])
    result = run_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", "--dataset", f"folder:{tmp_path / 'photos'}",
                     "--weights", "none", "--epochs", "1", "--no-cache", "--output", tmp_path / "run", "--json",
                     check=0)
    [row] = json.loads(result.stdout)
    assert row["status"] == "ok" and row["skipped_images"] == 2 and row["test_images"] == 8
    [matrix] = [c["matrix"] for c in json.loads((tmp_path / "run" / "confusion.json").read_text()).values()]
    assert sum(map(sum, matrix)) == 8
    assert row["test_accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(2)) / 8)


def test_what_is_the_folder_and_not_the_image_is_said_as_such(tmp_path):
    from zoo.data.datasets import check
    from zoo.data.sources import FileView
    from zoo.errors import BadInput

    view = FileView((str(tmp_path / "gone.png"),), np.zeros(1, np.int64), False, "x")
    with pytest.raises(BadInput, match="gone.png cannot be read .* at the same path for every trial process"):
        view.decode([0], 8, "crop")
    write_image_folder(tmp_path / "pets", classes=("a", "b"), per_class=3, size=(8, 8))
    data = image_folder.load_folder(tmp_path / "pets")
    with pytest.raises(BadInput, match="4 train files but 3 labels"):
        check(dataclasses.replace(data, y_train=data.y_train[:3]), "mine")
    assert check(dataclasses.replace(data, fingerprint=""), "mine").fingerprint, "a plugin's folder gets one"


def test_a_transparent_colour_and_an_image_too_large_to_open(tmp_path):
    Image.new("L", (8, 8), 7).save(tmp_path / "key.png", transparency=7)  # a tRNS grey: transparent
    assert near(decode(tmp_path / "key.png", 8, grey=False)[4, 4], WHITE, 0)
    # A header that claims 20,000 x 20,000 pixels: Pillow refuses it as a decompression bomb.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"")
                                        + chunk(b"IEND", b""))
    found = sources.scan([tmp_path / "huge.png"])
    assert not found.readable
    assert found.skipped[0][1] == "too large to open (image size (400000000 pixels) exceeds Pillow's MAX_IMAGE_PIXELS)"


def test_folders_are_decoded_at_the_cards_size_and_the_plan_says_so(run_zoo, tmp_path):
    write_image_folder(tmp_path / "big", classes=("a", "b"), per_class=6, size=(48, 64), splits=True)
    dataset = ["--dataset", f"folder:{tmp_path / 'big'}"]
    result = run_zoo(*RANK, *dataset, "--output", tmp_path / "run", check=0)
    [row] = json.loads(result.stdout)
    assert row["input_size"] == 32 and row["resize"] == "crop", "tiny's default_input_size"
    assert "18 images (RGB), decoded at 32 px (--resize crop)" in result.stderr
    assert "the images are about 64x48 (median), larger than the 32 px they are decoded at" in result.stderr
    small = run_zoo(*RANK, *dataset, "--input-size", "16", "--resize", "squash", "--output", tmp_path / "b", check=0)
    [row] = json.loads(small.stdout)
    assert (row["input_size"], row["resize"]) == (16, "squash")


def test_an_unchanged_folder_is_read_from_the_store_without_decoding_an_image(run_zoo, tmp_path, monkeypatch):
    write_image_folder(tmp_path / "pets", classes=("cat", "dog"), per_class=6, size=(16, 16), splits=True)
    args = [*RANK, "--dataset", f"folder:{tmp_path / 'pets'}"]
    first = json.loads(run_zoo(*args, "--output", tmp_path / "a", check=0).stdout)
    decoded = []
    real = sources.decode
    monkeypatch.setattr(sources, "decode", lambda path, *rest: decoded.append(path) or real(path, *rest))
    again = json.loads(run_zoo(*args, "--output", tmp_path / "b", check=0).stdout)
    assert [r["feature_store"] for r in first + again] == ["miss", "hit"] and decoded == []
    assert again[0]["logme"] == pytest.approx(first[0]["logme"])
    changed = sorted((tmp_path / "pets" / "train" / "cat").iterdir())[0]
    Image.new("RGB", (16, 16), RED).save(changed)  # an edited file: a new fingerprint
    edited = json.loads(run_zoo(*args, "--output", tmp_path / "c", check=0).stdout)
    assert edited[0]["feature_store"] == "miss" and decoded


@pytest.mark.slow  # trial processes and a local Ray instance
@pytest.mark.parametrize("command", ["rank", "compare", "top"])
def test_a_folder_gives_the_same_rows_under_every_executor(run_zoo, tmp_path, command):
    if command != "rank":
        pytest.importorskip("ray", reason="the ray extra: pip install -e '.[ray]'")
    bad_folder(tmp_path / "photos")
    base = ["--plugin", TINY_PLUGIN, "compare" if command != "rank" else "rank", "tiny",
            "--dataset", f"folder:{tmp_path / 'photos'}", "--weights", "none", "--json", "--no-store"]
    if command != "rank":
        base += ["--epochs", "1", "--optimizer", "adam", "--lr", "0.01"]
    if command == "top":
        base += ["--top", "1"]
    rows = {}
    for executor in ("local", "process", "ray"):
        rows[executor] = json.loads(run_zoo(*base, "--executor", executor, "--output", tmp_path / executor,
                                            check=0).stdout)
    score = "logme" if command == "rank" else "test_accuracy"
    for executor in ("process", "ray"):
        assert [r["skipped_images"] for r in rows[executor]] == [r["skipped_images"] for r in rows["local"]] == [4]
        assert [r[score] for r in rows[executor]] == pytest.approx([r[score] for r in rows["local"]], abs=1e-6)


# TensorFlow Datasets: a prepared data_dir, streamed like a folder.

@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    pytest.importorskip("tensorflow_datasets", reason='the tfds extra: pip install -e ".[tfds]"')
    from ..dataset_files import write_tfds

    folder = tmp_path_factory.mktemp("tfds")
    return folder, write_tfds(folder)


def test_a_tfds_dataset_streams_from_its_prepared_data_dir(tfds_dir):
    import zoo

    folder, written = tfds_dir
    data = zoo.load_dataset("tfds:zoo_tiny_images", folder)
    assert data.class_names == ["cat", "dog", "fox"] and not data.grey and not data.skipped
    for split in ("train", "test"):
        images, labels = written[split]
        view = data.view(split)
        np.testing.assert_array_equal(getattr(data, f"y_{split}"), labels)
        np.testing.assert_array_equal(view.decode(range(len(view)), 16, "crop"), images)  # PNG: lossless


def test_tfds_mistakes_are_one_line(run_zoo, tfds_dir):
    folder, _ = tfds_dir
    result = run_zoo(*RANK, "--dataset", "tfds:nosuch", "--data-dir", folder, check=2)
    assert f"tfds:nosuch: not prepared in {folder}: run `tfds build nosuch --data_dir {folder}`" in result.stderr
    result = run_zoo(*RANK, "--dataset", "tfds:zoo_tiny_images:train:validation", "--data-dir", folder, check=2)
    assert "no split 'validation'; it has train, test" in result.stderr
    assert "--dataset tfds needs an argument: --dataset tfds:NAME[:TRAIN[:TEST]]." in \
        run_zoo(*RANK, "--dataset", "tfds", check=2).stderr


def test_zoo_rank_on_a_tfds_dataset(run_zoo, tfds_dir, tmp_path):
    folder, _ = tfds_dir
    dataset = ["--dataset", "tfds:zoo_tiny_images", "--data-dir", folder]
    [ranked] = json.loads(run_zoo(*RANK, *dataset, "--output", tmp_path / "rank", check=0).stdout)
    assert ranked["status"] == "ok" and ranked["input_size"] == 32 and ranked["skipped_images"] == 0
    assert ranked["train_images"] + ranked["val_images"] == 24


@pytest.mark.slow  # a training run; rank above covers the reading
def test_zoo_compare_on_a_tfds_dataset(run_zoo, tfds_dir, tmp_path):
    folder, _ = tfds_dir
    dataset = ["--dataset", "tfds:zoo_tiny_images", "--data-dir", folder]
    compared = run_zoo("--plugin", TINY_PLUGIN, "compare", "tiny", *dataset, "--weights", "none", "--epochs", "1",
                       "--json", "--output", tmp_path / "compare", check=0)
    [row] = json.loads(compared.stdout)
    assert row["status"] == "ok" and row["test_images"] == 9 and row["data_shape"] == "32x32x3"


def test_class_folders_with_unusual_names_and_a_single_image(tmp_path):
    for name, count in (("café au lait", 4), ("日本", 4), ("only one", 1)):
        (tmp_path / name).mkdir()
        for i in range(count):
            Image.new("RGB", (8, 8), RED).save(tmp_path / name / f"image {i}.png")
    data = image_folder.load_folder(tmp_path)
    assert data.class_names == sorted(["café au lait", "日本", "only one"])
    single = data.class_names.index("only one")
    assert list(data.y_train).count(single) == 1 and single not in data.y_test, "one image: it trains"
    view = data.view("train")
    assert view.decode(range(len(view)), 8, "crop").shape == (len(view), 8, 8, 3) and not view.failed
