"""Turn a CTranslate2 Whisper model (model.bin + config.json) into an openai-whisper checkpoint.

model.bin, binary versions 4-6 (CTranslate2's ``ModelSpec._serialize``), little-endian throughout:

    u32 binary version, str spec name ("WhisperSpec"), u32 spec revision, u32 variable count,
    per variable: str name, u8 rank, u32 × rank shape, u8 dtype id, u32 byte count, the bytes;
    u32 alias count, per alias: str alias, str name it stands for.
    str = u16 length including a trailing NUL, the UTF-8 bytes, the NUL.

CTranslate2 names the weights after its own layers (``encoder/layer_0/self_attention/linear_0/weight``) and
fuses attention projections: self-attention ``linear_0`` is Q, K and V stacked along the output axis,
cross-attention ``linear_0`` is Q and ``linear_1`` is K and V. Whisper's key projections have no bias, so the
converter stores zeros there; a constant key bias adds the same q·b to every logit of a query, which softmax
ignores, so dropping it is exact. The output projection is tied to the token embedding (an alias).
Needs only numpy; ``save_checkpoint`` needs torch and openai-whisper.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import struct
import uuid
from base64 import b85encode
from pathlib import Path
from typing import Any

import numpy as np

from slidegrab.errors import UsageError
from slidegrab.transcribe.models import ModelError

_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")  # CTranslate2's DataType order
_LINEARS = {"linear_0": "mlp.0", "linear_1": "mlp.2"}  # feed-forward layers
_NORM = {"gamma": "weight", "beta": "bias"}
# Scalars CTranslate2 stores as settings: the values an openai-whisper model implies.
_EXPECTED = {
    "decoder/activation": 3,
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/alibi": 0,
    "decoder/start_from_zero_embedding": 0,
}
_IGNORED = ("decoder/alignment_heads", "decoder/alignment_layer")  # ct2's decoding defaults; config.json rules


class ConversionError(ModelError):
    """The folder does not hold a CTranslate2 Whisper model this converter understands."""


def read_model_bin(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every variable of a CTranslate2 model.bin as a numpy array, and its aliases (alias -> name)."""
    try:
        return _read(_Reader(Path(path).read_bytes(), Path(path)))
    except (struct.error, UnicodeDecodeError, IndexError, ValueError) as error:
        raise ConversionError(f"{path}: truncated or not a CTranslate2 model.bin ({error})") from None


def _read(reader: _Reader) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    path = reader.path
    version = reader.int("I")
    if not 4 <= version <= 6:
        raise ConversionError(f"{path}: CTranslate2 binary version {version}; this converter reads 4 to 6")
    spec, _revision = reader.str(), reader.int("I")
    if spec != "WhisperSpec":
        raise ConversionError(f"{path}: a {spec} model, not Whisper")
    variables = dict(reader.variable() for _ in range(reader.int("I")))
    aliases = {reader.str(): reader.str() for _ in range(reader.int("I"))}
    return variables, aliases


class _Reader:
    def __init__(self, data: bytes, path: Path):
        self.data, self.path, self.offset = data, path, 0

    def int(self, fmt: str) -> int:
        (value,) = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize(fmt)
        return value

    def str(self) -> str:
        size = self.int("H")
        text = self.data[self.offset : self.offset + size - 1].decode("utf-8")
        self.offset += size
        return text

    def variable(self) -> tuple[str, np.ndarray]:
        name = self.str()
        shape = tuple(self.int("I") for _ in range(self.int("B")))
        dtype, size = _DTYPES[self.int("B")], self.int("I")
        raw = self.data[self.offset : self.offset + size]
        self.offset += size
        if len(raw) != size:
            raise ConversionError(f"{self.path}: truncated or not a CTranslate2 model.bin (in {name})")
        if dtype == "bfloat16":  # the high half of a float32
            array = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<"))
        if array.size != int(np.prod(shape)):
            raise ConversionError(f"{self.path}: variable {name} holds {array.size} values for shape {shape}")
        return name, array.reshape(shape)


class _Taker:
    """Hands out variables by name (following aliases, undoing int8/int16 quantization) and records use."""

    def __init__(self, variables: dict[str, np.ndarray], aliases: dict[str, str]):
        self.variables, self.aliases, self.used = variables, aliases, set()

    def __call__(self, name: str) -> np.ndarray:
        real = self.aliases.get(name, name)
        if real not in self.variables:
            raise ConversionError(f"model.bin lacks {name}")
        self.used.update({name, real})
        value, scale = self.variables[real], self.variables.get(real + "_scale")
        if scale is None:
            return value
        self.used.add(real + "_scale")
        scale = scale.reshape(scale.shape + (1,) * (value.ndim - scale.ndim))
        return (value.astype(np.float32) / scale).astype(np.float16)

    def scalar(self, name: str) -> int:
        return int(self(name))

    def unused(self) -> list[str]:
        return sorted(set(self.variables) - self.used) + sorted(set(self.aliases) - self.used)


def _split(take: _Taker, source: str, targets: list[str], out: dict[str, np.ndarray]) -> None:
    """A fused ct2 linear layer ``source`` as openai linear layers ``targets`` (equal slices of its rows)."""
    weights = np.split(take(f"{source}/weight"), len(targets))
    biases = np.split(take(f"{source}/bias"), len(targets))
    for target, weight, bias in zip(targets, weights, biases, strict=True):
        out[f"{target}.weight"] = weight
        if not target.endswith(".key"):  # openai's key projections have no bias (see the module notes)
            out[f"{target}.bias"] = bias


def _norm(take: _Taker, source: str, target: str, out: dict[str, np.ndarray]) -> None:
    for ct2, openai in _NORM.items():
        out[f"{target}.{openai}"] = take(f"{source}/{ct2}")


def _block(take: _Taker, side: str, index: int, out: dict[str, np.ndarray]) -> None:
    src, dst = f"{side}/layer_{index}", f"{side}.blocks.{index}"
    _split(take, f"{src}/self_attention/linear_0", [f"{dst}.attn.{p}" for p in ("query", "key", "value")], out)
    _split(take, f"{src}/self_attention/linear_1", [f"{dst}.attn.out"], out)
    _norm(take, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", out)
    if side == "decoder":
        _split(take, f"{src}/attention/linear_0", [f"{dst}.cross_attn.query"], out)
        _split(take, f"{src}/attention/linear_1", [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"], out)
        _split(take, f"{src}/attention/linear_2", [f"{dst}.cross_attn.out"], out)
        _norm(take, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln", out)
    for ct2, openai in _LINEARS.items():
        _split(take, f"{src}/ffn/{ct2}", [f"{dst}.{openai}"], out)
    _norm(take, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", out)


def _layers(variables: dict[str, np.ndarray], side: str) -> int:
    return len({name.split("/")[1] for name in variables if re.match(rf"{side}/layer_\d+/", name)})


def _check_settings(take: _Taker) -> None:
    for name, expected in _EXPECTED.items():
        if name in take.variables and take.scalar(name) != expected:
            raise ConversionError(f"model.bin sets {name} = {take.scalar(name)}; openai-whisper needs {expected}")
    for name in _IGNORED:
        if name in take.variables:
            take(name)
    projection = take.aliases.get("decoder/projection/weight")
    if projection != "decoder/embeddings/weight":  # openai ties the output projection to the embedding
        raise ConversionError("model.bin has an output projection of its own; openai-whisper ties it to the embedding")
    take("decoder/projection/weight")


def _dims(take: _Taker, variables: dict[str, np.ndarray]) -> dict[str, int]:
    audio_pos = variables["encoder/position_encodings/encodings"].shape
    text_pos = variables["decoder/position_encodings/encodings"].shape
    return {
        "n_mels": variables["encoder/conv1/weight"].shape[1],
        "n_audio_ctx": audio_pos[0],
        "n_audio_state": audio_pos[1],
        "n_audio_head": take.scalar("encoder/num_heads"),
        "n_audio_layer": _layers(variables, "encoder"),
        "n_vocab": variables["decoder/embeddings/weight"].shape[0],
        "n_text_ctx": text_pos[0],
        "n_text_state": text_pos[1],
        "n_text_head": take.scalar("decoder/num_heads"),
        "n_text_layer": _layers(variables, "decoder"),
    }


def alignment_heads(pairs: list[list[int]], dims: dict[str, int]) -> bytes:
    """(layer, head) pairs as openai-whisper's ``set_alignment_heads`` wants them: base85 of gzip of a bool mask."""
    mask = np.zeros((dims["n_text_layer"], dims["n_text_head"]), dtype=bool)
    for layer, head in pairs:
        mask[layer, head] = True
    return b85encode(gzip.compress(mask.tobytes(), mtime=0))


def convert(model_dir: Path) -> dict[str, Any]:
    """The openai-whisper checkpoint of a CTranslate2 Whisper folder, as numpy arrays.

    Returns ``{"dims": …, "model_state_dict": {name: float16 array}, "alignment_heads": bytes}``.
    """
    model_dir = Path(model_dir)
    if not (model_dir / "model.bin").is_file():
        raise ConversionError(f"{model_dir} holds no model.bin: not a CTranslate2 model folder")
    variables, aliases = read_model_bin(model_dir / "model.bin")
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    take = _Taker(variables, aliases)
    _check_settings(take)
    dims = _dims(take, variables)
    state: dict[str, np.ndarray] = {}
    _split(take, "encoder/conv1", ["encoder.conv1"], state)
    _split(take, "encoder/conv2", ["encoder.conv2"], state)
    state["encoder.positional_embedding"] = take("encoder/position_encodings/encodings")
    state["decoder.positional_embedding"] = take("decoder/position_encodings/encodings")
    state["decoder.token_embedding.weight"] = take("decoder/embeddings/weight")
    _norm(take, "encoder/layer_norm", "encoder.ln_post", state)
    _norm(take, "decoder/layer_norm", "decoder.ln", state)
    for side in ("encoder", "decoder"):
        for index in range(dims[f"n_{'audio' if side == 'encoder' else 'text'}_layer"]):
            _block(take, side, index, state)
    if take.unused():
        raise ConversionError(f"model.bin variables this converter does not understand: {take.unused()}")
    pairs = config.get("alignment_heads")
    heads = alignment_heads(pairs, dims) if pairs else None  # None: openai's default, the last half of layers
    return {"dims": dims, "model_state_dict": state, "alignment_heads": heads}


def save_checkpoint(model_dir: Path, out: Path) -> Path:
    """Convert ``model_dir`` and write the checkpoint to ``out`` (atomically) with ``torch.save``.

    Checks the result against the openai-whisper model its dims describe: the same names, the same shapes.
    """
    try:
        import torch
        import whisper  # noqa: F401 - _expected_state needs it; fail here, before the work
    except ImportError:
        raise UsageError(
            "writing an openai-whisper checkpoint needs torch and openai-whisper",
            hint="pip install 'slidegrab[openai-whisper]'",
        ) from None
    checkpoint = convert(model_dir)
    state = {name: torch.from_numpy(_float(value)) for name, value in checkpoint["model_state_dict"].items()}
    _compare(state, _expected_state(checkpoint["dims"]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.parent / f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"  # open() keeps the umask
    try:
        with open(temp, "xb") as file:
            torch.save({**checkpoint, "model_state_dict": state}, file)
        os.replace(temp, out)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return out


def _float(value: np.ndarray) -> np.ndarray:
    """A writable copy: float16 stays float16 (like openai's own checkpoints); anything else becomes float32."""
    return np.array(value, np.float16 if value.dtype == np.float16 else np.float32)


def _expected_state(dims: dict[str, int]) -> dict[str, Any]:
    """The names and shapes of the openai-whisper model ``dims`` describes, allocating no memory (meta device)."""
    import torch
    from whisper.model import AudioEncoder, TextDecoder

    audio = [dims[f"n_audio_{k}"] for k in ("ctx", "state", "head", "layer")]
    text = [dims[f"n_text_{k}"] for k in ("ctx", "state", "head", "layer")]
    with torch.device("meta"):
        parts = {"encoder": AudioEncoder(dims["n_mels"], *audio), "decoder": TextDecoder(dims["n_vocab"], *text)}
    return {f"{side}.{name}": value for side, module in parts.items() for name, value in module.state_dict().items()}


def _compare(state: dict[str, Any], expected: dict[str, Any]) -> None:
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or extra or wrong:
        raise ConversionError(
            f"converted weights do not fit openai-whisper: missing {missing}, unexpected {extra}, wrong shapes {wrong}"
        )
