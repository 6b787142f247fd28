"""Rebuild openai-whisper's checkpoint for Whisper base from the shipped CTranslate2 model.

No registry package ships openai-whisper's own ``base.pt``; the CTranslate2 ``model.bin``
of :func:`dubpreview.models.registry.whisper_base_dir` holds the same fp16 tensors under
other names. This module parses CTranslate2's binary format (version 6, as written by
``ctranslate2/specs/model_spec.py::_serialize``)::

    u32 binary_version | str spec_name | u32 revision | u32 n_variables
    n_variables x (str name | u8 rank | rank x u32 dim | u8 dtype_id | u32 n_bytes | bytes)
    u32 n_aliases | n_aliases x (str alias | str target)

where ``str`` is ``u16 length-including-NUL | utf-8 bytes | NUL``, all little-endian, and
``dtype_id`` indexes ``(float32, int8, int16, int32, float16, bfloat16)``. It then maps
the tensors one to one onto openai-whisper's state dict (splitting the fused q/k/v and
k/v projections; Whisper's key projection has no bias, CTranslate2 stores zeros there),
and writes ``{"dims": ..., "model_state_dict": ...}`` with :func:`torch.save`.

The build is deterministic: tensors are written in a fixed order through a file object
(so the zip's folder name is always ``archive``), and :data:`CHECKPOINT_SHA256` is the
sha256 of the resulting file with torch 2.13. :data:`TENSORS_SHA256` hashes a canonical
serialization of the tensors (name, dtype, shape, bytes, sorted by name), which does not
depend on torch's container format; it is checked on every build.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dubpreview.errors import DubError

CT2_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # None: bfloat16 (unused here)
"""CTranslate2's ``DataType`` enum order (``include/ctranslate2/types.h``)."""

BASE_DIMS: dict[str, int] = {
    "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 512, "n_audio_head": 8, "n_audio_layer": 6,
    "n_vocab": 51865, "n_text_ctx": 448, "n_text_state": 512, "n_text_head": 8, "n_text_layer": 6,
}
"""openai-whisper ``ModelDimensions`` of Whisper base."""

TENSORS_SHA256 = "6e33e86a60cd149774a27402c511a3b70fc1d1604f2cca2a0478e7313e1dafb8"
"""sha256 of :func:`canonical_bytes` of the converted base state dict (torch-independent)."""

CHECKPOINT_SHA256 = "c809f29cfe2d12f21dbb21c3f65251f7114226c38eb1a927cc6699dedf458a30"
"""sha256 of the ``.pt`` file :func:`build_checkpoint` writes (torch 2.13 zip format)."""


@dataclass
class Ct2Model:
    """A parsed CTranslate2 ``model.bin``: spec name, revision, variables and aliases.

    ``variables`` maps each name to a read-only numpy array with the stored shape and
    dtype (scalars have shape ``()``); ``aliases`` maps an alias to the variable it names.
    """

    spec: str
    revision: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


class _Reader:
    """Little-endian cursor over a bytes buffer."""

    def __init__(self, data: bytes | memoryview):
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str) -> int:
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return value

    def string(self) -> str:
        n = self.unpack("H")
        raw = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        if not raw.endswith(b"\0"):
            raise ValueError("string not NUL-terminated")
        return raw[:-1].decode("utf-8")

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        view = memoryview(self.data)[self.pos:self.pos + n]
        self.pos += n
        return view


def read_ct2(path: Path) -> Ct2Model:
    """Parse a CTranslate2 ``model.bin`` (binary version 6) into a :class:`Ct2Model`.

    Raises:
        DubError: the file is not a version-6 CTranslate2 model or is truncated.
    """
    data = Path(path).read_bytes()
    r = _Reader(data)
    try:
        version = r.unpack("I")
        if version != 6:
            raise ValueError(f"binary version {version}, expected 6")
        model = Ct2Model(spec=r.string(), revision=r.unpack("I"))
        for _ in range(r.unpack("I")):
            name = r.string()
            shape = tuple(r.unpack("I") for _ in range(r.unpack("B")))
            dtype = CT2_DTYPES[r.unpack("B")]
            raw = r.take(r.unpack("I"))
            if dtype is None:
                raise ValueError(f"{name}: bfloat16 is not supported")
            model.variables[name] = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
        for _ in range(r.unpack("I")):
            alias = r.string()
            model.aliases[alias] = r.string()
        if r.pos != len(data):
            raise ValueError(f"{len(data) - r.pos} trailing bytes")
    except (ValueError, IndexError, struct.error) as e:
        raise DubError(f"cannot read the CTranslate2 model {path}: {e}; delete it to have it rebuilt") from None
    return model


def _split_rows(a: np.ndarray, parts: int) -> list[np.ndarray]:
    """Split a fused projection (weight ``(parts*d, d_in)`` or bias ``(parts*d,)``) into ``parts``."""
    return np.split(a, parts, axis=0)


def _linear(sd: dict, dst: str, v: dict, src: str, bias: bool = True) -> None:
    sd[f"{dst}.weight"] = v[f"{src}/weight"]
    if bias:
        sd[f"{dst}.bias"] = v[f"{src}/bias"]


def _layer_norm(sd: dict, dst: str, v: dict, src: str) -> None:
    sd[f"{dst}.weight"] = v[f"{src}/gamma"]
    sd[f"{dst}.bias"] = v[f"{src}/beta"]


def _qkv(sd: dict, dst: str, weight: np.ndarray, bias: np.ndarray, names: tuple[str, ...]) -> None:
    """Store a fused projection as separate ``query``/``key``/``value`` linears (key: no bias)."""
    for name, w, b in zip(names, _split_rows(weight, len(names)), _split_rows(bias, len(names))):
        sd[f"{dst}.{name}.weight"] = w
        if name == "key":
            if np.any(b != 0):
                raise DubError("unexpected non-zero key bias in the CTranslate2 Whisper model")
        else:
            sd[f"{dst}.{name}.bias"] = b


def _block(sd: dict, dst: str, v: dict, src: str, cross: bool) -> None:
    """One residual attention block (encoder: ``cross=False``; decoder: ``cross=True``)."""
    sa = f"{src}/self_attention"
    _layer_norm(sd, f"{dst}.attn_ln", v, f"{sa}/layer_norm")
    _qkv(sd, f"{dst}.attn", v[f"{sa}/linear_0/weight"], v[f"{sa}/linear_0/bias"], ("query", "key", "value"))
    _linear(sd, f"{dst}.attn.out", v, f"{sa}/linear_1")
    if cross:
        ca = f"{src}/attention"
        _layer_norm(sd, f"{dst}.cross_attn_ln", v, f"{ca}/layer_norm")
        _linear(sd, f"{dst}.cross_attn.query", v, f"{ca}/linear_0")
        _qkv(sd, f"{dst}.cross_attn", v[f"{ca}/linear_1/weight"], v[f"{ca}/linear_1/bias"], ("key", "value"))
        _linear(sd, f"{dst}.cross_attn.out", v, f"{ca}/linear_2")
    _layer_norm(sd, f"{dst}.mlp_ln", v, f"{src}/ffn/layer_norm")
    _linear(sd, f"{dst}.mlp.0", v, f"{src}/ffn/linear_0")
    _linear(sd, f"{dst}.mlp.2", v, f"{src}/ffn/linear_1")


def openai_state_dict(ct2: Ct2Model, dims: dict[str, int] = BASE_DIMS) -> dict[str, np.ndarray]:
    """openai-whisper's state dict (fp16 numpy arrays, keyed as in ``whisper.model.Whisper``).

    Conv weights keep CTranslate2's ``(out, in, kernel)`` layout, which is PyTorch's
    ``Conv1d`` layout. The encoder's sinusoidal ``positional_embedding`` (``(1500, 512)``) is
    taken as stored and checked against :func:`whisper.model.sinusoids`.

    Raises:
        DubError: the model is not a Whisper model of these ``dims``.
    """
    if ct2.spec != "WhisperSpec":
        raise DubError(f"expected a CTranslate2 WhisperSpec model, got {ct2.spec}")
    v = ct2.variables
    try:
        sd: dict[str, np.ndarray] = {}
        for i in (1, 2):
            _linear(sd, f"encoder.conv{i}", v, f"encoder/conv{i}")
        sd["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
        for i in range(dims["n_audio_layer"]):
            _block(sd, f"encoder.blocks.{i}", v, f"encoder/layer_{i}", cross=False)
        _layer_norm(sd, "encoder.ln_post", v, "encoder/layer_norm")
        sd["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
        sd["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
        for i in range(dims["n_text_layer"]):
            _block(sd, f"decoder.blocks.{i}", v, f"decoder/layer_{i}", cross=True)
        _layer_norm(sd, "decoder.ln", v, "decoder/layer_norm")
    except KeyError as e:
        raise DubError(f"the CTranslate2 Whisper model lacks the tensor {e}") from None
    _check_shapes(sd, dims)
    _check_sinusoids(sd["encoder.positional_embedding"])
    return sd


def _check_shapes(sd: dict[str, np.ndarray], dims: dict[str, int]) -> None:
    expect = {
        "encoder.conv1.weight": (dims["n_audio_state"], dims["n_mels"], 3),
        "encoder.conv2.weight": (dims["n_audio_state"], dims["n_audio_state"], 3),
        "encoder.positional_embedding": (dims["n_audio_ctx"], dims["n_audio_state"]),
        "decoder.token_embedding.weight": (dims["n_vocab"], dims["n_text_state"]),
        "decoder.positional_embedding": (dims["n_text_ctx"], dims["n_text_state"]),
        "encoder.blocks.0.attn.key.weight": (dims["n_audio_state"], dims["n_audio_state"]),
        "decoder.blocks.0.cross_attn.value.weight": (dims["n_text_state"], dims["n_text_state"]),
    }
    for name, shape in expect.items():
        if sd[name].shape != shape:
            raise DubError(f"{name} has shape {sd[name].shape}, expected {shape} for Whisper base")


def _check_sinusoids(pos: np.ndarray) -> None:
    from whisper.model import sinusoids

    ref = sinusoids(pos.shape[0], pos.shape[1]).numpy()
    if np.abs(pos.astype(np.float32) - ref).max() > 2e-3:  # fp16 rounding of values in [-1, 1]
        raise DubError("the encoder positional embedding is not Whisper's sinusoidal table")


def alignment_heads(ct2_dir: Path, dims: dict[str, int] = BASE_DIMS) -> np.ndarray:
    """Boolean mask ``(n_text_layer, n_text_head)`` of the cross-attention heads used for
    word timestamps, from the CTranslate2 folder's ``config.json`` ``alignment_heads``."""
    pairs = json.loads((Path(ct2_dir) / "config.json").read_text())["alignment_heads"]
    mask = np.zeros((dims["n_text_layer"], dims["n_text_head"]), dtype=bool)
    for layer, head in pairs:
        mask[layer, head] = True
    return mask


def canonical_bytes_hash(sd: dict[str, np.ndarray], dims: dict[str, int]) -> str:
    """sha256 over ``dims`` (sorted JSON) then, per tensor sorted by name: name, dtype,
    shape and little-endian bytes. Independent of torch's file format."""
    h = hashlib.sha256(json.dumps(dims, sort_keys=True).encode())
    for name in sorted(sd):
        a = np.ascontiguousarray(sd[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()


def build_checkpoint(ct2_dir: Path, out: Path, dims: dict[str, int] = BASE_DIMS) -> str:
    """Write openai-whisper's checkpoint for the CTranslate2 Whisper folder ``ct2_dir`` to
    ``out`` (any writable path; callers rename it into place). Returns the tensors' hash
    (:func:`canonical_bytes_hash`).

    Raises:
        DubError: the source cannot be read or does not match Whisper base.
    """
    import torch

    sd = openai_state_dict(read_ct2(Path(ct2_dir) / "model.bin"), dims)
    digest = canonical_bytes_hash(sd, dims)
    tensors = {name: torch.from_numpy(np.array(sd[name])) for name in sorted(sd)}
    checkpoint = {"dims": dict(dims), "model_state_dict": tensors}
    with open(out, "wb") as f:  # a file object: the zip folder is "archive", not the file's name
        torch.save(checkpoint, f)
    return digest
