"""The built-in dataset plugins read real files in each dataset's published format.

The files are small ones written by tests/dataset_files.py. The plugin modules'
loaders are called directly (not through zoo's registry).
"""

import gzip
import os
import pickle
import tarfile

import numpy as np
import pytest

from zoo.errors import BadInput
from zoo_plugins import cifar, image_folder, mnist, synthetic

from ..dataset_files import (CIFAR100_COARSE, CIFAR100_FINE, CLASS_NAMES, FASHION_FILES, idx_bytes, write_cifar10,
                            write_cifar100, write_cifar_batch, write_fashion_idx, write_image_folder, write_mnist_npz)

# What a value out of 0-255 is told to do.
PIXEL_FIX = (": scale the images to 0-255 (16-bit ones: divide by 257), or give them as files "
             "(zoo.ImageFiles), which zoo scales itself")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No network (every proxy is a closed port, so downloads fail at once) and an empty Keras home."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "keras-home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def one_line(info):
    message = str(info.value)
    assert "\n" not in message
    return message


# CIFAR-10: the original python-batch format, read without running code.

class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch /tmp/zoo-pwned-by-pickle",))


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    folder = write_cifar10(tmp_path, 20, 10)
    (folder / "data_batch_3").write_bytes(pickle.dumps({b"data": RunsCode(), b"labels": []}, protocol=2))
    if os.path.exists("/tmp/zoo-pwned-by-pickle"):
        os.remove("/tmp/zoo-pwned-by-pickle")
    with pytest.raises(BadInput, match=r"data_batch_3 is not a valid CIFAR python-batch file "
                                       r"\(UnpicklingError: refusing to load posix.system"):
        cifar.load_cifar10(folder)
    assert not os.path.exists("/tmp/zoo-pwned-by-pickle")


def test_a_truncated_file_is_named(tmp_path):
    folder = write_cifar10(tmp_path, 20, 10)
    (folder / "test_batch").write_bytes((folder / "test_batch").read_bytes()[:500])
    with pytest.raises(BadInput) as info:
        cifar.load_cifar10(folder)
    assert one_line(info).startswith(f"{folder}/test_batch is not a valid CIFAR python-batch file")
    assert "cifar-10-python.tar.gz" in str(info.value)


def test_missing_files_are_listed(tmp_path):
    folder = write_cifar10(tmp_path, 20, 10)
    (folder / "data_batch_5").unlink()
    with pytest.raises(BadInput, match="lacks CIFAR-10 files data_batch_5"):
        cifar.load_cifar10(folder)


def test_out_of_range_pixels_and_fractional_labels_are_named_not_wrapped(tmp_path):
    folder = write_cifar10(tmp_path, 20, 10)
    rows = np.full((4, 3072), 7, dtype=np.int64)
    rows[1, 5] = 300  # as uint8 this would silently be 44
    write_cifar_batch(folder / "data_batch_2", rows, [0, 1, 2, 3])
    with pytest.raises(BadInput) as info:
        cifar.load_cifar10(folder)
    assert one_line(info) == f"{folder}/data_batch_2: pixel values must be 0-255, found 300{PIXEL_FIX}."
    write_cifar_batch(folder / "data_batch_2", rows[:2] * 0, [1.0, 3.5])  # as int64 this would be 3
    with pytest.raises(BadInput) as info:
        cifar.load_cifar10(folder)
    assert one_line(info) == f"{folder}/data_batch_2: labels must be integers, found float64 values like 3.5."


def test_whole_number_labels_and_pixels_of_any_type_are_taken(tmp_path):
    folder = write_cifar10(tmp_path, 20, 10)
    write_cifar_batch(folder / "data_batch_2", np.full((2, 3072), 255.0), [1.0, 3.0])
    data = cifar.load_cifar10(folder)
    assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
    assert (data.x_train[4:6] == 255).all() and data.y_train[4:6].tolist() == [1, 3]


def test_the_three_local_layouts_and_any_batch_size(tmp_path):
    folder = write_cifar10(tmp_path / "cifar-10-batches-py", n_train=37, n_test=13)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    loaded = [cifar.load_cifar10(p) for p in (folder, tmp_path, archive)]
    for data in loaded:
        assert data.x_train.shape == (37, 32, 32, 3) and data.x_test.shape == (13, 32, 32, 3)
        assert data.x_train.dtype == np.uint8 and data.y_train.dtype == np.int64
        assert data.class_names == CLASS_NAMES and data.name == "cifar10"
        np.testing.assert_array_equal(data.x_train, loaded[0].x_train)
        np.testing.assert_array_equal(data.y_test, loaded[0].y_test)
    # Channel order: the first 1024 values are red.
    raw = pickle.load(open(folder / "data_batch_1", "rb"), encoding="bytes")
    np.testing.assert_array_equal(loaded[0].x_train[0, :, :, 0].ravel(), raw[b"data"][0, :1024])
    np.testing.assert_array_equal(loaded[0].y_train[:len(raw[b"labels"])], raw[b"labels"])


def test_a_cut_off_archive_is_named(tmp_path):
    folder = write_cifar10(tmp_path / "cifar-10-batches-py", n_train=10, n_test=5)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    archive.write_bytes(archive.read_bytes()[:-300])
    with pytest.raises(BadInput) as info:
        cifar.load_cifar10(archive)
    assert one_line(info).startswith(f"{archive} is not a readable cifar-10-python.tar.gz (EOFError")


def test_keras_cache_is_used_before_any_download(offline):
    write_cifar10(offline / "datasets" / "cifar-10-batches-py", n_train=10, n_test=5)
    data = cifar.download_cifar10()
    assert len(data.x_train) == 10 and data.source == str(offline / "datasets" / "cifar-10-batches-py")


def test_keras_own_cifar10_cache_layout_is_found(offline):
    # keras.datasets.cifar10.load_data() unpacks into datasets/cifar-10-batches-py-target/.
    write_cifar10(offline / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py", n_train=10, n_test=5)
    assert len(cifar.download_cifar10().x_test) == 5


def test_a_failed_cifar10_download_says_where_to_put_the_archive(offline):
    with pytest.raises(BadInput) as info:
        cifar.download_cifar10()
    message = one_line(info)
    assert message.startswith("CIFAR-10 is not cached and could not be downloaded")
    assert f"put cifar-10-python.tar.gz (or its cifar-10-batches-py/ folder) in {offline / 'datasets'}/" in message


# CIFAR-100: one train and one test file, fine and coarse labels.

@pytest.mark.parametrize("variant", ["fine", "coarse"])
def test_cifar100_reads_exactly_what_was_written(tmp_path, variant):
    written = write_cifar100(tmp_path / "cifar-100-python", n_train=30, n_test=12)
    data = cifar.load_cifar100(tmp_path, variant)  # the parent folder
    labels = 1 if variant == "fine" else 2
    for split in ("train", "test"):
        np.testing.assert_array_equal(getattr(data, f"x_{split}"), written[split][0])
        np.testing.assert_array_equal(getattr(data, f"y_{split}"), written[split][labels])
        assert getattr(data, f"y_{split}").dtype == np.int64
    assert data.class_names == (CIFAR100_FINE if variant == "fine" else CIFAR100_COARSE)
    assert data.name == f"cifar100:{variant}"


def test_cifar100_from_its_archive_defaults_to_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    written = write_cifar100(folder, n_train=10, n_test=5)
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-100-python")
    data = cifar.load_cifar100(archive, None)
    np.testing.assert_array_equal(data.y_test, written["test"][1])
    assert len(data.class_names) == 100 and data.source == f"{archive}:cifar-100-python"


def test_cifar100_rejects_an_unknown_variant_and_names_missing_files(tmp_path):
    folder = tmp_path / "cifar-100-python"
    write_cifar100(folder, n_train=10, n_test=5)
    with pytest.raises(BadInput, match="fine or coarse, not 'medium'"):
        cifar.load_cifar100(folder, "medium")
    (folder / "meta").unlink()
    with pytest.raises(BadInput, match="lacks CIFAR-100 files meta: give --data-dir a folder with train, test, meta"):
        cifar.load_cifar100(folder, "fine")


def test_a_cifar10_folder_is_not_taken_for_cifar100(tmp_path):
    folder = write_cifar10(tmp_path, 10, 5)
    with pytest.raises(BadInput, match=f"{tmp_path} lacks CIFAR-100 files train, test, meta"):
        cifar.load_cifar100(folder, "fine")


def test_a_failed_cifar100_download_says_where_to_put_the_archive(offline):
    with pytest.raises(BadInput) as info:
        cifar.download_cifar100("coarse")
    assert f"put cifar-100-python.tar.gz (or its cifar-100-python/ folder) in {offline / 'datasets'}/" in one_line(info)


def test_cifar100_in_the_keras_cache(offline):
    written = write_cifar100(offline / "datasets" / "cifar-100-python", n_train=10, n_test=5)
    np.testing.assert_array_equal(cifar.download_cifar100("coarse").y_train, written["train"][2])


# MNIST: Keras's mnist.npz, read without pickle.

def test_mnist_from_a_folder_or_the_file_itself(tmp_path):
    written = write_mnist_npz(tmp_path / "mnist.npz", n_train=30, n_test=10)
    for path in (tmp_path, tmp_path / "mnist.npz"):
        data = mnist.load_mnist(path, None)
        np.testing.assert_array_equal(data.x_train, written["x_train"][..., None])
        np.testing.assert_array_equal(data.y_train, written["y_train"])
        np.testing.assert_array_equal(data.x_test, written["x_test"][..., None])
        np.testing.assert_array_equal(data.y_test, written["y_test"])
        assert data.x_train.shape == (30, 28, 28, 1) and data.x_train.dtype == np.uint8
        assert data.y_train.dtype == np.int64 and data.class_names == [str(d) for d in range(10)]


def test_mnist_missing_file_and_keys_are_named(tmp_path):
    with pytest.raises(BadInput, match=f"{tmp_path} has no mnist.npz"):
        mnist.load_mnist(tmp_path, None)
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8), y_train=np.zeros(2, np.uint8))
    with pytest.raises(BadInput, match="mnist.npz lacks x_test, y_test"):
        mnist.load_mnist(tmp_path, None)


def test_an_npz_holding_pickled_objects_is_refused(tmp_path):
    arrays = write_mnist_npz(tmp_path / "mnist.npz", n_train=4, n_test=2)
    np.savez(tmp_path / "mnist.npz", **{**arrays, "y_test": np.array([RunsCode(), 1], dtype=object)})
    with pytest.raises(BadInput) as info:
        mnist.load_mnist(tmp_path, None)
    assert one_line(info).startswith(f"{tmp_path / 'mnist.npz'} is not a valid mnist.npz (ValueError")


@pytest.mark.parametrize("key, value, problem", [
    ("x_train", np.full((4, 28, 28), 300, np.int64), "pixel values must be 0-255, found 300" + PIXEL_FIX),
    ("x_test", np.full((2, 28, 28), -1.0), "pixel values must be 0-255, found -1" + PIXEL_FIX),
    ("y_train", np.array([0, 1, 2.5, 3]), "labels must be integers, found float64 values like 2.5"),
])
def test_mnist_values_out_of_range_are_named(tmp_path, key, value, problem):
    arrays = write_mnist_npz(tmp_path / "mnist.npz", n_train=4, n_test=2)
    np.savez(tmp_path / "mnist.npz", **{**arrays, key: value})
    with pytest.raises(BadInput) as info:
        mnist.load_mnist(tmp_path, None)
    assert one_line(info) == f"{tmp_path / 'mnist.npz'} ({key}): {problem}."


def test_a_corrupt_npz_is_named(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(BadInput, match=r"mnist.npz is not a valid mnist.npz"):
        mnist.load_mnist(tmp_path / "mnist.npz", None)


def test_a_failed_mnist_download_says_where_to_put_the_file(offline):
    with pytest.raises(BadInput) as info:
        mnist.download_mnist()
    message = one_line(info)
    assert message.startswith("MNIST is not cached and could not be downloaded")
    assert f"put mnist.npz in {offline / 'datasets'}/" in message


def test_mnist_in_the_keras_cache(offline):
    written = write_mnist_npz(offline / "datasets" / "mnist.npz", n_train=6, n_test=3)
    np.testing.assert_array_equal(mnist.download_mnist().y_test, written["y_test"])


# Fashion-MNIST: gzip IDX files with checked headers.

def test_fashion_mnist_reads_exactly_what_was_written(tmp_path):
    written = write_fashion_idx(tmp_path, n_train=25, n_test=9)
    data = mnist.load_fashion_mnist(tmp_path, None)
    for split in ("train", "test"):
        np.testing.assert_array_equal(getattr(data, f"x_{split}"), written[split][0][..., None])
        np.testing.assert_array_equal(getattr(data, f"y_{split}"), written[split][1])
    assert data.x_train.shape == (25, 28, 28, 1) and data.y_train.dtype == np.int64
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"


def test_a_wrong_idx_magic_names_the_file(tmp_path):
    write_fashion_idx(tmp_path, n_train=5, n_test=3)
    images, labels = FASHION_FILES["test"]
    (tmp_path / images).write_bytes((tmp_path / labels).read_bytes())  # a labels file where images belong
    with pytest.raises(BadInput) as info:
        mnist.load_fashion_mnist(tmp_path, None)
    assert one_line(info).startswith(f"{tmp_path / images} is not an IDX images file: magic number 2049, expected 2051")


def test_truncated_idx_files_are_named(tmp_path):
    written = write_fashion_idx(tmp_path, n_train=5, n_test=3)
    images, _ = FASHION_FILES["train"]
    # Cut off inside the gzip stream, then a whole gzip file whose IDX data is cut off.
    (tmp_path / images).write_bytes(gzip.compress(idx_bytes(written["train"][0]))[:200])
    with pytest.raises(BadInput, match=f"{tmp_path / images} is not a readable gzip file"):
        mnist.load_fashion_mnist(tmp_path, None)
    (tmp_path / images).write_bytes(gzip.compress(idx_bytes(written["train"][0])[:-100]))
    with pytest.raises(BadInput) as info:
        mnist.load_fashion_mnist(tmp_path, None)
    assert one_line(info).startswith(f"{tmp_path / images} is truncated: 3836 bytes where its header (5 x 28 x 28) "
                                     "needs 3936")


def test_fashion_counts_must_agree(tmp_path):
    written = write_fashion_idx(tmp_path, n_train=5, n_test=3)
    _, labels = FASHION_FILES["train"]
    (tmp_path / labels).write_bytes(gzip.compress(idx_bytes(written["train"][1][:4])))
    with pytest.raises(BadInput, match="train-images-idx3-ubyte.gz holds 5 images but train-labels-idx1-ubyte.gz 4"):
        mnist.load_fashion_mnist(tmp_path, None)


def test_fashion_missing_files_are_listed(tmp_path):
    write_fashion_idx(tmp_path, n_train=5, n_test=3)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(BadInput, match=f"{tmp_path} lacks Fashion-MNIST files t10k-labels-idx1-ubyte.gz: "
                                       "give --data-dir a folder with train-images-idx3-ubyte.gz"):
        mnist.load_fashion_mnist(tmp_path, None)


def test_a_failed_fashion_download_says_where_to_put_the_files(offline):
    with pytest.raises(BadInput) as info:
        mnist.download_fashion_mnist()
    message = one_line(info)
    assert message.startswith("Fashion-MNIST is not cached and could not be downloaded")
    assert f"t10k-labels-idx1-ubyte.gz in {offline / 'datasets' / 'fashion-mnist'}/" in message


def test_fashion_in_the_keras_cache(offline):
    written = write_fashion_idx(offline / "datasets" / "fashion-mnist", n_train=5, n_test=3)
    np.testing.assert_array_equal(mnist.download_fashion_mnist().y_train, written["train"][1])


# A folder of images, one sub-folder per class.

def decoded(data, part: str, size: int) -> np.ndarray:
    """Every image of a folder dataset's ``part``, decoded at ``size`` (the images are square)."""
    view = data.view(part)
    return view.decode(range(len(view)), size, "crop")


def test_folder_with_train_and_test_splits_grey(tmp_path):
    written = write_image_folder(tmp_path, classes=("b", "a"), per_class=3, size=(10, 10), grey=True, splits=True)
    data = image_folder.load_folder(tmp_path)
    assert data.class_names == ["a", "b"] and data.grey and len(data.train_files) == 6
    for split in ("train", "test"):
        images, labels = written[split]
        order = image_folder.interleaved(labels)  # every image once, the classes mixed
        assert sorted(order) == list(range(len(labels)))
        np.testing.assert_array_equal(decoded(data, split, 10), images[order])
        np.testing.assert_array_equal(getattr(data, f"y_{split}"), labels[order])
    assert data.y_train.dtype == np.int64 and decoded(data, "train", 10).dtype == np.uint8


@pytest.mark.parametrize("splits", [True, False])
def test_folder_validation_and_limit_see_every_class(tmp_path, splits):
    # zoo validates on the first 20% of the training set and --limit keeps the first images:
    # a folder read class after class would validate on its first class alone.
    from zoo.data.datasets import Splits

    write_image_folder(tmp_path, classes=("cat", "dog", "fox"), per_class=10, splits=splits)
    data = image_folder.load_folder(tmp_path)
    whole = Splits.from_data(data, 0.2)
    assert np.bincount(whole.y_val, minlength=3).min() >= 1, whole.y_val
    limited = Splits.from_data(data, 0.2, limit=9)
    assert sorted(set(limited.y_train) | set(limited.y_val)) == [0, 1, 2]
    assert sorted(set(limited.y_test)) == [0, 1, 2]
    assert (len(limited.x_train), len(limited.x_val), len(limited.x_test)) == (7, 2, 9 if splits else 6)


def test_folder_without_splits_is_split_by_class_with_a_fixed_seed(tmp_path):
    images, labels = write_image_folder(tmp_path, classes=("cat", "dog", "fox"), per_class=5, size=(12, 12))["all"]
    data = image_folder.load_folder(tmp_path, None)
    train, test = image_folder.seeded_split(labels)
    np.testing.assert_array_equal(decoded(data, "train", 12), images[train])
    np.testing.assert_array_equal(data.y_train, labels[train])
    np.testing.assert_array_equal(decoded(data, "test", 12), images[test])
    np.testing.assert_array_equal(data.y_test, labels[test])
    assert len(data.train_files) == 12 and np.bincount(data.y_test).tolist() == [1, 1, 1]
    assert data.class_names == ["cat", "dog", "fox"]
    assert image_folder.load_folder(tmp_path).test_files == data.test_files  # same split each time


def test_folder_mistakes_are_named(tmp_path):
    with pytest.raises(BadInput, match=f"{tmp_path / 'nowhere'} is not a folder"):
        image_folder.load_folder(tmp_path / "nowhere")
    with pytest.raises(BadInput, match=f"{tmp_path} has no class folders"):
        image_folder.load_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match=f"{tmp_path / 'empty'} holds no images"):
        image_folder.load_folder(tmp_path)
    (tmp_path / "empty" / "a.png").write_bytes(b"")  # a class whose only image is unreadable
    with pytest.raises(BadInput, match=f"{tmp_path / 'empty'} holds no readable images"):
        image_folder.load_folder(tmp_path)
    write_image_folder(tmp_path / "singles", classes=("a", "b"), per_class=1)
    with pytest.raises(BadInput, match="every class has a single image, too few to split off a test set"):
        image_folder.load_folder(tmp_path / "singles")


def test_train_and_test_must_have_the_same_classes(tmp_path):
    write_image_folder(tmp_path, classes=("a", "b"), per_class=2, splits=True)
    write_image_folder(tmp_path / "test", classes=("c",), per_class=1)
    with pytest.raises(BadInput) as info:
        image_folder.load_folder(tmp_path)
    assert "must hold the same class folders; only in train: none; only in test: c." in one_line(info)


# Synthetic: generated, the same every time.

def test_synthetic_is_deterministic_balanced_and_says_so():
    first, second = synthetic.download(None), synthetic.download(None)
    for part in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(first, part), getattr(second, part))
    n_train, n_test = synthetic.N_TRAIN, synthetic.N_TEST
    assert first.x_train.shape == (n_train, 32, 32, 3) and first.x_test.shape == (n_test, 32, 32, 3)
    assert first.x_train.dtype == np.uint8 and first.y_train.dtype == np.int64
    assert np.bincount(first.y_train).tolist() == [n_train // 10] * 10
    assert np.bincount(first.y_test).tolist() == [n_test // 10] * 10
    assert len(first.class_names) == 10 and first.class_names[:2] == ["square", "circle"]
    assert "synthetic" in first.note
    assert not np.array_equal(synthetic.generate(20, 10, seed=1).x_train, synthetic.generate(20, 10).x_train)


# What any loader returns is checked: a third-party plugin's too.

def test_check_names_the_dataset_and_the_values():
    from zoo.data.datasets import ImageData, check

    def data(**changes):
        arrays = dict(x_train=np.zeros((4, 8, 8, 3), np.uint8), y_train=np.arange(4),
                      x_test=np.zeros((2, 8, 8, 3), np.uint8), y_test=np.arange(2))
        return ImageData("mine", **{**arrays, **changes}, class_names=list("abcd"), source="memory")

    checked = check(data(x_train=np.full((4, 8, 8, 3), 255, np.int32), y_test=np.array([1.0, 0.0])), "mine")
    assert checked.x_train.dtype == np.uint8 and checked.y_test.dtype == np.int64
    for changes, problem in [
        ({"x_test": np.full((2, 8, 8, 3), 256.0)}, "(test): pixel values must be 0-255, found 256" + PIXEL_FIX),
        ({"x_train": np.full((4, 8, 8, 3), 0.5)}, "(train): pixel values must be 0-255, found 0.5" + PIXEL_FIX),
        ({"y_train": np.array([0, 1, 2, 3.5])}, "(train): labels must be integers, found float64 values like 3.5"),
        ({"y_test": np.array([0, -1])}, "(test): labels must be 0 or more, found -1"),
        ({"y_test": np.array(["a", "b"])}, "(test): labels must be integers, not <U1"),
    ]:
        with pytest.raises(BadInput) as info:
            check(data(**changes), "mine")
        assert one_line(info) == f"dataset mine {problem}."


# --dataset A,B: the comma-separated specs.

def test_parse_dataset_specs():
    from zoo.data.datasets import parse_dataset_specs

    assert parse_dataset_specs("cifar10") == ["cifar10"]
    assert parse_dataset_specs(" mnist , cifar100:coarse,,mnist") == ["mnist", "cifar100:coarse"]
    for text in (",", "", " , ,"):
        with pytest.raises(BadInput) as info:
            parse_dataset_specs(text)
        assert one_line(info) == f"--dataset {text!r}: name at least one dataset (see `zoo datasets`)."
