"""The project's checkpoints in PyTorch: safetensors files with PyTorch's state_dict names and
shapes and the string metadata `model`, `input_mean`, `input_std` (and `input_channels`,
`input_size`, `classes`, defaulting to 1, 28, 10).

The format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length,
a JSON header mapping each tensor's name to its `dtype`, `shape` and `data_offsets` (a byte
range of the data that follows) plus an optional `__metadata__` map of strings, then the raw
little-endian data. Read and written here with the standard library and torch only (on
little-endian machines: x86-64, ARM).

    model, meta = discipline.checkpoint.load_model("runs/cnn/model.safetensors")
    /usr/bin/python3 -m discipline.checkpoint CKPT --images t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz

The command (from the project's shared/reference/check_checkpoint.py) evaluates a checkpoint
on an IDX test set and prints {"model", "loss", "accuracy"}; the project's own evaluation of
the same checkpoint must agree (accuracy to 0.1 points, loss to 1e-3 relative).
"""
import argparse
import gzip
import json
import os
import struct

# safetensors dtype -> torch dtype name
DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
          "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; names the file and key."""


def read_header(path):
    """The JSON header of a safetensors file and the byte offset where its data begins.
    Standard library only. Raises CheckpointError (naming the file) for a file shorter than its
    header, a header length that does not fit, or a header that is not a JSON object."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path} is not a safetensors file: only {len(head)} bytes")
        (n,) = struct.unpack("<Q", head)
        size = os.fstat(f.fileno()).st_size
        if n == 0 or n > size - 8:
            raise CheckpointError(f"{path} is not a safetensors file: header length {n} does not fit its {size} bytes")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except ValueError as e:
            raise CheckpointError(f"{path} is not a safetensors file: header is not JSON ({e})")
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file: header is not a JSON object")
    return header, 8 + n


def load(path):
    """The tensors (name -> torch.Tensor, a copy of the file's data) and the metadata (a dict
    of strings, empty if none) of a safetensors file. Raises CheckpointError for an unknown
    dtype or a byte range that does not match the shape or the file."""
    import torch
    header, base = read_header(path)
    metadata = header.pop("__metadata__", None) or {}
    with open(path, "rb") as f:
        data = bytearray(f.read())
    tensors = {}
    for name, entry in header.items():
        try:
            dtype = getattr(torch, DTYPES[entry["dtype"]])
            shape, (start, stop) = [int(s) for s in entry["shape"]], entry["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor '{name}' has no known dtype, shape or data_offsets: {entry}")
        count = 1
        for s in shape:
            count *= s
        itemsize = torch.empty(0, dtype=dtype).element_size()
        if start < 0 or stop - start != count * itemsize or base + stop > len(data):
            raise CheckpointError(f"{path}: tensor '{name}' with shape {shape} has byte range "
                                  f"{[start, stop]} that does not fit the data ({len(data) - base} bytes)")
        flat = torch.frombuffer(data, dtype=dtype, count=count, offset=base + start) if count else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(shape).clone()
    return tensors, metadata


def save(path, tensors, metadata=None):
    """Writes `tensors` (name -> tensor; made contiguous, on the CPU) and string `metadata` as
    safetensors, atomically (a temporary file renamed). Keys sorted, header padded with spaces
    to 8 bytes, as the project writes."""
    import torch
    names = {v: k for k, v in DTYPES.items()}
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": names[str(t.dtype).replace("torch.", "")], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for raw in chunks:
            f.write(raw)
    os.replace(tmp, path)


def load_model(path, name=None, dropout=0.0):
    """Builds the discipline.models model a checkpoint was written for (its metadata's `model`,
    else `name`) and loads the weights with strict names and shapes; BatchNorm's
    `num_batches_tracked` may be missing. Returns (model in eval mode, metadata). Raises
    CheckpointError naming the file and the missing, unexpected or mis-shaped tensors."""
    from .models import build
    tensors, meta = load(path)
    name = meta.get("model", name)
    if name is None:
        raise CheckpointError(f"{path}: no 'model' in the metadata; name the model")
    try:
        channels, size, classes = (int(meta.get(k, d)) for k, d in
                                   (("input_channels", 1), ("input_size", 28), ("classes", 10)))
        model = build(name, channels, classes, size, dropout)
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}")
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {path} does not match {name}: missing {missing}, unexpected {unexpected}")
    for k, t in tensors.items():
        if tuple(t.shape) != tuple(expected[k].shape):
            raise CheckpointError(f"checkpoint {path}: tensor '{k}' has shape {list(t.shape)}, "
                                  f"but {name} needs {list(expected[k].shape)}")
    model.load_state_dict(tensors, strict=False)
    return model.eval(), meta


def read_idx(path):
    """An IDX file (gzip if its name ends in .gz) as a uint8 or int tensor of its dimensions."""
    import torch
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = bytearray(f.read())
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(data, dtype=torch.uint8, offset=4 + 4 * ndim).reshape(dims)


def evaluate(path, images, labels, name=None, mean=None, std=None):
    """Loss and accuracy of the checkpoint at `path` on IDX `images`/`labels`, inputs scaled to
    [0, 1] and normalized with the metadata's input_mean/input_std (else `mean`/`std`)."""
    import torch
    import torch.nn.functional as F
    model, meta = load_model(path, name)
    mean, std = meta.get("input_mean", mean), meta.get("input_std", std)
    if mean is None or std is None:
        raise CheckpointError(f"{path}: no input_mean/input_std in the metadata; give --mean and --std")
    mean, std = float(mean), float(std)
    x = read_idx(images).float() / 255.0
    x = ((x - mean) / std).reshape(len(x), -1, x.shape[-2], x.shape[-1])
    y = read_idx(labels).long()
    with torch.no_grad():
        out = torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    return dict(model=meta.get("model", name), loss=F.cross_entropy(out, y).item(),
                accuracy=(out.argmax(1) == y).float().mean().item())


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m discipline.checkpoint",
                                description="Evaluate a project checkpoint in PyTorch; prints JSON.")
    p.add_argument("checkpoint"); p.add_argument("--model"); p.add_argument("--images", required=True)
    p.add_argument("--labels", required=True); p.add_argument("--mean", type=float); p.add_argument("--std", type=float)
    a = p.parse_args(argv)
    try:
        print(json.dumps(evaluate(a.checkpoint, a.images, a.labels, a.model, a.mean, a.std)))
    except (CheckpointError, OSError) as e:
        raise SystemExit(f"discipline.checkpoint: {e}")


if __name__ == "__main__":
    main()
