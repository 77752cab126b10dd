"""Images inside TFRecord shards (TensorFlow Datasets' prepared files), read one record at a time
by its place in the file, so that a TFDS split streams like a folder.

TFDS reads a TFRecord split only from start to end (``tf.data``); its random access
(``as_data_source``) needs the array_record format, which few prepared datasets use. Shuffled
training and batches decoded ahead need any record at any time, so the shards are indexed
here by their record headers (each record: its length as a little-endian uint64, 4 bytes of
CRC, the data, 4 bytes of CRC; TensorFlow's documented format) and a record is then one seek
and one read. The record is a ``tf.train.Example``, parsed with the proto TFDS ships (no
TensorFlow needed).

An image's reference is the text ``tfrecord:FEATURE:OFFSET:LENGTH:PATH``: small enough to
hand to trial processes and Ray workers in a dataset's description.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

PREFIX = "tfrecord:"
HEADER = 12  # the length (8 bytes) and its CRC (4)
FOOTER = 4  # the data's CRC


def index(path) -> list[tuple[int, int]]:
    """``(offset, length)`` of each record's data in the TFRecord file ``path``, in order, from the
    headers alone. Raises ValueError for a file cut short."""
    found, size = [], Path(path).stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset < size:
            f.seek(offset)
            header = f.read(HEADER)
            if len(header) < HEADER:
                raise ValueError(f"{path} ends inside a record header at byte {offset}")
            (length,) = struct.unpack("<Q", header[:8])
            if offset + HEADER + length + FOOTER > size:
                raise ValueError(f"{path} ends inside a record at byte {offset}")
            found.append((offset + HEADER, length))
            offset += HEADER + length + FOOTER
    return found


def reference(feature: str, path, offset: int, length: int) -> str:
    return f"{PREFIX}{feature}:{offset}:{length}:{path}"


def is_reference(item: str) -> bool:
    return item.startswith(PREFIX)


def read(item: str) -> bytes:
    """The data of the record ``item`` (a reference) names."""
    _, _, offset, length, path = item.split(":", 4)
    with open(path, "rb") as f:
        f.seek(int(offset))
        data = f.read(int(length))
    if len(data) != int(length):
        raise OSError(f"{path} is shorter than when it was indexed")
    return data


def example(data: bytes):
    """A serialized ``tf.train.Example`` parsed (TFDS's copy of the proto)."""
    from tensorflow_datasets.proto import tf_example_pb2

    return tf_example_pb2.Example.FromString(data)


def open_image(item: str) -> io.BytesIO:
    """The encoded image (PNG, JPEG...) the reference names, as a file Pillow opens. Raises
    OSError for a record that cannot be read or holds no such image."""
    feature = item[len(PREFIX):].split(":", 1)[0]
    try:
        return io.BytesIO(example(read(item)).features.feature[feature].bytes_list.value[0])
    except OSError:
        raise
    except Exception as exc:  # protobuf's DecodeError, or a record without the feature
        raise OSError(f"record unreadable ({type(exc).__name__})") from None
