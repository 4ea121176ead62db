"""Safe persistence: ``config.json`` + ``weights.safetensors`` + ``meta.json`` in a directory.

Nothing is ever unpickled: parameters and small fitted values are JSON, arrays and network
weights are safetensors. Parameters that are themselves detectors (a window detector's vector
detector, an ensemble's members), threshold rules or arrays are written as tagged JSON (arrays
into the safetensors file). The state comes from the detector's public
:meth:`~dmad.detectors.BaseDetector.get_state`. A directory is written next to its target and
moved into place in one rename, so a crash never leaves a half-written model, and an existing model
is replaced only once the new one is complete. A model saved by a newer, incompatible dmad (or by
the dmad before format 2) is refused with a clear error.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dmad.exceptions import ModelFileError

if TYPE_CHECKING:
    from dmad.detectors.base import BaseDetector

__all__ = ["FORMAT_VERSION", "decode_params", "load_detector", "save_detector", "write_atomic"]

FORMAT_NAME = "dmad-model"
#: 2: public state protocol, nested detector / threshold / array parameters
FORMAT_VERSION = 2
CONFIG, WEIGHTS, META = "config.json", "weights.safetensors", "meta.json"
_DETECTOR, _THRESHOLD, _ARRAY = "__detector__", "__threshold__", "__array__"


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a dmad model file")


def _encode_param(value: Any, path: str, arrays: dict[str, torch.Tensor]) -> Any:
    """A parameter value as JSON; arrays go to ``arrays`` under ``params/<path>``."""
    from dmad.detectors.base import BaseDetector
    from dmad.thresholds import Threshold

    if isinstance(value, BaseDetector):
        return {_DETECTOR: value.registry_name, "params": _encode_params(value, path, arrays)}
    if isinstance(value, Threshold):
        config = {k: _encode_param(v, f"{path}/{k}", arrays) for k, v in value.get_config().items()}
        return {_THRESHOLD: value.kind, "config": config}
    if isinstance(value, (np.ndarray, torch.Tensor)):
        key = f"params/{path}"
        arrays[key] = torch.as_tensor(np.ascontiguousarray(np.asarray(value))).clone()
        return {_ARRAY: key}
    if isinstance(value, (list, tuple)):
        return [_encode_param(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _encode_param(v, f"{path}/{k}", arrays) for k, v in value.items()}
    return _to_json(value)


def _encode_params(detector: BaseDetector, path: str, arrays: dict[str, torch.Tensor]) -> Any:
    return {
        k: _encode_param(v, f"{path}/{k}" if path else k, arrays)
        for k, v in detector.get_params(deep=False).items()
    }


def _decode_param(value: Any, arrays: dict[str, torch.Tensor] | None) -> Any:
    from dmad.detectors.registry import get_detector_class
    from dmad.thresholds import THRESHOLDS

    if isinstance(value, list):
        return [_decode_param(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if _DETECTOR in value:
        cls = get_detector_class(value[_DETECTOR])
        return cls(**cls._params_from_json(decode_params(value["params"], arrays)))
    if _THRESHOLD in value:
        return THRESHOLDS[value[_THRESHOLD]](**decode_params(value["config"], arrays))
    if _ARRAY in value:
        if arrays is None:
            raise ModelFileError(f"parameter array {value[_ARRAY]!r} has no weights file to read.")
        return arrays[value[_ARRAY]].numpy()
    return {k: _decode_param(v, arrays) for k, v in value.items()}


def decode_params(
    params: dict[str, Any], arrays: dict[str, torch.Tensor] | None = None
) -> dict[str, Any]:
    """Parameters as written in a config (tagged nested detectors, threshold rules, array
    references) back to values.

    Examples
    --------
    >>> decode_params({"members": [{"__detector__": "dte_np", "params": {}}]})["members"]
    [DTENonParametric()]
    """
    return {k: _decode_param(v, arrays) for k, v in params.items()}


def _holds_array(value: Any) -> bool:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return True
    return isinstance(value, dict) and any(_holds_array(v) for v in value.values())


def _flatten(state: dict[str, Any], prefix: str, arrays: dict, kinds: dict, plain: dict) -> None:
    """Split a nested state into tensors (by '/'-joined key) and JSON values."""
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, torch.Tensor):
            arrays[name] = value.detach().cpu().contiguous().clone()
            kinds[name] = "torch"
        elif isinstance(value, np.ndarray) and value.dtype != object:
            arrays[name] = torch.from_numpy(np.ascontiguousarray(value).copy())
            kinds[name] = "numpy"
        elif isinstance(value, dict) and _holds_array(value):
            _flatten(value, f"{name}/", arrays, kinds, plain)
        else:
            plain[name] = _to_json(value)


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in flat.items():
        node = out
        *parents, leaf = name.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def write_atomic(path: str | Path, text: str) -> Path:
    """Write a text file so that a reader (or a crash) sees the old or the new file, never half.

    Examples
    --------
    >>> write_atomic("BENCHMARKS.md", "# results\\n")  # doctest: +SKIP
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_detector(detector: BaseDetector, path: str | Path) -> Path:
    """Write a fitted detector to directory ``path``; an existing model there is replaced
    only once the new one is completely written."""
    from safetensors.torch import save_file

    import dmad

    path = Path(path)
    state = detector.get_state()
    arrays: dict[str, torch.Tensor] = {}
    kinds: dict[str, str] = {}
    plain: dict[str, Any] = {}
    _flatten(state, "state/", arrays, kinds, plain)
    config = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "detector": detector.registry_name,
        "params": _encode_params(detector, "", arrays),
    }
    kinds.update({k: "numpy" for k in arrays if k.startswith("params/")})
    meta = {
        "dmad_version": dmad.__version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "array_kinds": kinds,
        "state": plain,
    }
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"{path} exists and is not a directory; choose another path.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.saving-"))
    try:
        save_file(arrays, str(staging / WEIGHTS), metadata={"format": FORMAT_NAME})
        (staging / META).write_text(json.dumps(meta, indent=2))
        (staging / CONFIG).write_text(json.dumps(config, indent=2))
        if path.exists():  # swap: the old model survives until the new one is in place
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


def _read_json(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise ModelFileError(
            f"{file} is missing: {file.parent} is not a dmad model directory (save one with "
            "detector.save(path))."
        )
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{file} is corrupt or truncated ({exc}); re-save the model.") from exc
    if not isinstance(data, dict):
        raise ModelFileError(f"{file} does not hold a JSON object; it is not a dmad model file.")
    return data


def load_detector(path: str | Path) -> BaseDetector:
    """Read a detector saved by :func:`save_detector`; :class:`ModelFileError` if unusable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from dmad.detectors.registry import get_detector_class

    path = Path(path)
    if not path.is_dir():
        raise ModelFileError(f"model path {path} is not a directory saved by detector.save().")
    config = _read_json(path / CONFIG)
    if config.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path / CONFIG} is not a dmad model config (foreign file).")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was saved with model format {version}, newer than this dmad supports "
            f"({FORMAT_VERSION}); upgrade dmad (pip install -U dmad) to load it."
        )
    if version < FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was saved with model format {version} by an earlier dmad (0.1 before the "
            "engine redesign), whose detector state this dmad cannot read; fit the detector "
            "again and save it."
        )
    meta = _read_json(path / META)
    try:
        cls = get_detector_class(config["detector"])
    except (KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: unknown detector {config.get('detector')!r}.") from exc
    weights_file = path / WEIGHTS
    if not weights_file.is_file():
        raise ModelFileError(f"{weights_file} is missing; the model directory is incomplete.")
    try:
        arrays = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{weights_file} is corrupt or truncated ({exc}).") from exc
    kinds = meta.get("array_kinds", {})
    if set(kinds) != set(arrays):
        raise ModelFileError(f"{weights_file} does not match {path / META}; re-save the model.")
    flat: dict[str, Any] = dict(meta.get("state", {}))
    for name, tensor in arrays.items():
        if name.startswith("state/"):
            flat[name] = tensor.numpy() if kinds[name] == "numpy" else tensor
    try:
        params = decode_params(config.get("params", {}), arrays)
        detector = cls(**cls._params_from_json(params))
        detector.set_state(_unflatten(flat)["state"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: saved state does not fit {cls.__name__} ({exc}).") from exc
    return detector
