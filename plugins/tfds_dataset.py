"""A TensorFlow Datasets dataset, prepared beforehand: ``--dataset tfds:NAME[:TRAIN[:TEST]]``.

zoo reads what ``tfds build NAME --data_dir DIR`` prepared (offline: nothing is downloaded),
from ``--data-dir DIR`` or TFDS's own default (``TFDS_DATA_DIR``, else ``~/tensorflow_datasets``),
the newest version there. The splits are ``train`` and ``test`` unless named
(``tfds:oxford_flowers102:train:validation``); the image and label are the dataset's
``supervised_keys`` (else its first ``Image`` and ``ClassLabel`` features). The examples keep
TFDS's order, which TFDS shuffled when it prepared them.

It streams like a folder: the split's TFRecord shards are indexed record by record
(zoo.data.records) and each image is decoded when its batch is needed, at the trial's size. Each
record is read once when the dataset is loaded, for its label and its image's header.
Needs TensorFlow Datasets: ``pip install "zoo[tfds]"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

import zoo
from zoo.core.card import Dataset
from zoo.data import records
from zoo.data.sources import ImageFiles, fingerprint, median_size, scan_one
from zoo.errors import BadInput


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise BadInput('--dataset tfds:NAME needs TensorFlow Datasets: pip install "zoo[tfds]".') from None
    return tfds


def _version(folder: Path) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in folder.name.split("."))


def prepared_folder(data_dir: Path, name: str) -> Path:
    """The newest prepared version of ``name`` in ``data_dir`` (its folder holds dataset_info.json)."""
    versions = sorted((p.parent for p in (data_dir / name).glob("*/dataset_info.json")), key=_version)
    if not versions:
        raise BadInput(f"--dataset tfds:{name}: not prepared in {data_dir}: run `tfds build {name} --data_dir "
                       f"{data_dir}` where there is a network (or copy its folder here), or give --data-dir.")
    return versions[-1]


def _keys(info) -> tuple[str, str]:
    """The image feature and the label feature."""
    tfds = _tfds()
    if info.supervised_keys and len(info.supervised_keys) == 2 and all(isinstance(k, str)
                                                                          for k in info.supervised_keys):
        return tuple(info.supervised_keys)
    features = info.features
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
    if not images or not labels:
        raise BadInput(f"--dataset tfds:{info.name}: zoo needs an Image and a ClassLabel feature; "
                       f"it has {', '.join(features.keys())}.")
    return images[0], labels[0]


def _split(info, name: str, split: str, image_key: str, label_key: str):
    """The image references of ``split`` (zoo.data.records), their labels and what scanning them found."""
    if split not in info.splits:
        raise BadInput(f"--dataset tfds:{name}: no split {split!r}; it has {', '.join(info.splits.keys())}: "
                       f"name two, as tfds:{name}:TRAIN:TEST.")
    refs, labels, scans, shards = [], [], [], []
    for path in info.splits[split].filepaths:
        path = str(path)
        shards.append(path)
        try:
            found = records.index(path)
        except (OSError, ValueError) as exc:
            raise BadInput(f"--dataset tfds:{name}: shard {path} cannot be read ({exc}): prepare the dataset "
                           "again (`tfds build`).") from None
        for offset, length in found:
            ref = records.reference(image_key, path, offset, length)
            try:
                label = records.example(records.read(ref)).features.feature[label_key].int64_list.value[0]
            except Exception as exc:  # protobuf's DecodeError, or no label: this record is left out
                scans.append((None, False, f"record unreadable ({type(exc).__name__})"))
                refs.append(ref)
                labels.append(-1)
                continue
            refs.append(ref)
            labels.append(label)
            scans.append(scan_one(ref))
    return refs, np.array(labels, np.int64), scans, shards


def load_tfds(argument: str, data_dir: Optional[Path] = None) -> ImageFiles:
    """``tfds:NAME[:TRAIN[:TEST]]`` read from ``data_dir`` (default: TFDS's own), as files to stream."""
    tfds = _tfds()
    name, *splits = argument.split(":")
    if len(splits) > 2:
        raise BadInput(f"--dataset tfds:{argument}: give tfds:NAME, or tfds:NAME:TRAIN:TEST with two split names.")
    train_split, test_split = (splits + ["train", "test"][len(splits):])[:2]
    data_dir = Path(os.path.expanduser(str(data_dir or os.environ.get("TFDS_DATA_DIR")
                                           or "~/tensorflow_datasets")))
    folder = prepared_folder(data_dir, name)
    info = tfds.builder_from_directory(str(folder)).info
    if str(info.file_format.value) != "tfrecord":
        raise BadInput(f"--dataset tfds:{name}: prepared as {info.file_format.value}; zoo reads TFRecord, TFDS's "
                       "default: prepare it with `tfds build` without --file_format.")
    image_key, label_key = _keys(info)
    train = _split(info, name, train_split, image_key, label_key)
    test = _split(info, name, test_split, image_key, label_key)
    scans = train[2] + test[2]
    bad = [(ref, why) for ref, (_, _, why) in zip(train[0] + test[0], scans) if why]
    ok_train = [i for i, s in enumerate(train[2]) if not s[2]]
    ok_test = [i for i, s in enumerate(test[2]) if not s[2]]
    shards = train[3] + test[3]  # each shard's path, size and time, as a folder's files are fingerprinted
    digest = f"{fingerprint(folder, shards, np.zeros(len(shards), np.int64))}:{train_split}:{test_split}"
    return ImageFiles(
        f"tfds:{argument}", tuple(train[0][i] for i in ok_train), train[1][ok_train],
        tuple(test[0][i] for i in ok_test), test[1][ok_test], list(info.features[label_key].names),
        f"{folder} ({train_split}/{test_split})", grey=all(s[1] for s in scans if not s[2]), skipped=tuple(bad),
        median_size=median_size([s[0] for s in scans if not s[2]]), fingerprint=digest)


@zoo.hookimpl
def register_datasets(register):
    register(Dataset(
        name="tfds",
        num_classes=None,
        class_names=None,
        image_shape=None,
        load_local=lambda folder, argument: load_tfds(argument, folder),
        download=lambda argument: load_tfds(argument),
        argument="NAME[:TRAIN[:TEST]]",
        local_files="a TFDS data_dir where NAME is prepared (`tfds build NAME --data_dir DIR`)",
        description="A TensorFlow Datasets dataset prepared beforehand (read offline, streamed); "
                    "needs pip install \"zoo[tfds]\".",
        reference="https://www.tensorflow.org/datasets",
    ))
