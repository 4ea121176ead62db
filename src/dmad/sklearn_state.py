"""Fitted scikit-learn / PyOD estimators as dmad state (arrays + JSON values), never pickle.

A dmad model file holds nested dicts of arrays and JSON values (:mod:`dmad.io`). This module turns
a fitted estimator into such a dict and back, following the pickle protocol's *data* (each
object's ``__reduce_ex__``: its class, constructor arguments and ``__getstate__``) but never its
code: a class is recorded as ``"module:qualname"`` and re-created only if its module starts with
``pyod.`` or ``sklearn.``, so a saved file cannot make dmad build anything else.

What it can represent: ``None``, booleans, numbers, strings; numpy scalars and numeric arrays
(any layout, 0-d included); string arrays; structured arrays (one array per field, e.g. the
``nodes`` of a scikit-learn ``Tree`` or a ``KDTree``'s node data); lists, tuples and dicts of
these; and objects of PyOD / scikit-learn classes whose state is made of these (estimators,
``Tree``, ``KDTree``/``BallTree`` and their ``DistanceMetric``). An object reached twice (PyOD's
``KNN.tree_`` is its ``neigh_._tree``) is stored once and restored as one object. Anything else
(callables, random generators, sparse matrices, cycles) is refused with a ``TypeError`` naming
where it was found.

Examples
--------
>>> import numpy as np
>>> from sklearn.ensemble import IsolationForest
>>> X = np.random.default_rng(0).normal(size=(100, 3))
>>> forest = IsolationForest(n_estimators=5, random_state=0).fit(X)
>>> again = restore_estimator(estimator_state(forest))
>>> bool(np.array_equal(again.score_samples(X), forest.score_samples(X)))
True
"""

from __future__ import annotations

import copyreg
import importlib
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from dmad.exceptions import ModelFileError

__all__ = ["ALLOWED_MODULES", "estimator_state", "restore_estimator"]

#: only classes from modules under these prefixes are ever re-created on load
ALLOWED_MODULES = ("pyod.", "sklearn.")
FORMAT = "sklearn-state"
VERSION = 1
_PRIMITIVES = (type(None), bool, int, float, str)
_NUMERIC_KINDS = "biuf"


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in ("scikit-learn", "pyod", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _allowed(module: str) -> bool:
    return isinstance(module, str) and module.startswith(ALLOWED_MODULES)


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _safe_key(key: Any) -> bool:
    # io.py joins nested keys with "/"; an empty key would vanish there
    return isinstance(key, str) and key != "" and "/" not in key


def estimator_state(estimator: Any, skip: Iterable[str] = ()) -> dict[str, Any]:
    """A fitted PyOD / scikit-learn estimator as nested dicts of numpy arrays and JSON values.

    Parameters
    ----------
    estimator : object
        An instance of a class from a ``pyod.*`` or ``sklearn.*`` module.
    skip : iterable of str
        Top-level attributes left out (scratch values the estimator recomputes when used).

    Returns
    -------
    dict
        Restore it with :func:`restore_estimator`; :func:`dmad.io.save_detector` writes it.

    Raises
    ------
    TypeError
        If the estimator holds something this format cannot represent (the message says where).
    """
    encoder = _Encoder(frozenset(skip))
    root = encoder.encode(estimator, ("root",), "estimator", top=True)
    if not (isinstance(root, dict) and root.get("kind") == "object"):
        raise TypeError(f"estimator_state needs a PyOD / scikit-learn object, got {estimator!r}.")
    return {"format": FORMAT, "version": VERSION, "versions": _versions(), "root": root}


def restore_estimator(state: dict[str, Any]) -> Any:
    """Rebuild the estimator saved by :func:`estimator_state` (nothing is refitted).

    Raises
    ------
    ModelFileError
        If the state names a class outside ``pyod.*`` / ``sklearn.*``, is malformed, or does not
        load into the installed scikit-learn / PyOD.
    """
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelFileError("the saved model state is not a scikit-learn/PyOD estimator state.")
    if not isinstance(state.get("version"), int) or state["version"] > VERSION:
        raise ModelFileError(
            f"the estimator state has format version {state.get('version')!r}, newer than this "
            f"dmad reads ({VERSION}); upgrade dmad."
        )
    saved = state.get("versions") or {}
    now = _versions()
    if saved.get("pyod") != now["pyod"]:
        warnings.warn(
            f"the model was saved with PyOD {saved.get('pyod')} and is loaded with PyOD "
            f"{now['pyod']}; its scores may differ or it may fail to load.",
            UserWarning,
            stacklevel=2,
        )
    decoder = _Decoder(state["root"])
    try:
        return decoder.decode(state["root"], ("root",))
    except ModelFileError:
        raise
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"the saved estimator does not load into scikit-learn {now['scikit-learn']} / PyOD "
            f"{now['pyod']} (saved with scikit-learn {saved.get('scikit-learn')} / PyOD "
            f"{saved.get('pyod')}): {exc}; install the versions it was saved with or refit."
        ) from exc


class _Encoder:
    """One walk over an object graph; ``memo`` maps objects already stored to their path."""

    def __init__(self, skip: frozenset[str]) -> None:
        self.skip = skip
        self.memo: dict[int, tuple[str, ...]] = {}
        self.active: set[int] = set()
        self.keep_alive: list[Any] = []  # ids stay unique while the walk runs

    def refuse(self, where: str, value: Any, why: str = "") -> TypeError:
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        return TypeError(
            f"cannot save {where} (a {kind}) in a dmad model file{why}: only arrays, JSON values, "
            "lists/tuples/dicts of them and PyOD / scikit-learn objects are stored (no pickle)."
        )

    def encode(self, value: Any, path: tuple[str, ...], where: str, top: bool = False) -> Any:
        if type(value) in _PRIMITIVES:
            return value
        if isinstance(value, np.generic):
            return self.scalar(value, where)
        if type(value) is np.ndarray:
            return self.array(value, where)
        if type(value) in (list, tuple):
            items = {
                str(i): self.encode(v, (*path, "items", str(i)), f"{where}[{i}]")
                for i, v in enumerate(value)
            }
            return {"kind": type(value).__name__, "items": items}
        if type(value) is dict:
            return self.mapping(value, path, where)
        if _allowed(type(value).__module__):
            return self.obj(value, path, where, top)
        raise self.refuse(where, value)

    def scalar(self, value: np.generic, where: str) -> dict[str, Any]:
        dtype = value.dtype
        if dtype.kind not in _NUMERIC_KINDS + "U" or (dtype.kind == "f" and dtype.itemsize > 8):
            raise self.refuse(where, value)
        return {"kind": "scalar", "dtype": dtype.str, "value": value.item()}

    def array(self, value: np.ndarray, where: str) -> Any:
        dtype = value.dtype
        if dtype.names is not None:
            return self.structured(value, where)
        if dtype.kind == "U" or (dtype.kind == "O" and all(type(v) is str for v in value.flat)):
            items = [str(v) for v in value.flat]
            return {
                "kind": "strings",
                "dtype": dtype.str,
                "shape": list(value.shape),
                "items": items,
            }
        if dtype.kind not in _NUMERIC_KINDS or dtype.itemsize > 8 or not dtype.isnative:
            raise self.refuse(where, value, f" (dtype {dtype})")
        if value.ndim == 0:  # safetensors via np.ascontiguousarray would make it 1-d
            return {"kind": "array", "shape": [], "order": "C", "data": value.reshape(1)}
        if value.ndim > 1 and value.flags.f_contiguous and not value.flags.c_contiguous:
            # keep Fortran order: BLAS-backed code may sum in a layout-dependent order
            return {"kind": "array", "shape": list(value.shape), "order": "F", "data": value.T}
        return value

    def structured(self, value: np.ndarray, where: str) -> dict[str, Any]:
        dtype = value.dtype
        names, spec = list(dtype.names or ()), dict(dtype.fields or {})
        fields = {}
        for name in names:
            field = spec[name][0]
            if not _safe_key(name) or field.names is not None or field.subdtype is not None:
                raise self.refuse(where, value, f" (structured field {name!r} of {dtype})")
            fields[name] = self.array(np.ascontiguousarray(value[name]), f"{where}[{name!r}]")
        layout = {
            "names": names,
            "formats": [spec[n][0].str for n in names],
            "offsets": [spec[n][1] for n in names],
            "itemsize": dtype.itemsize,
        }
        return {"kind": "structured", "dtype": layout, "shape": list(value.shape), "fields": fields}

    def mapping(
        self, value: dict, path: tuple[str, ...], where: str, attributes: bool = False
    ) -> dict[str, Any]:
        if all(_safe_key(k) for k in value):
            items = {
                k: self.encode(
                    v, (*path, "items", k), f"{where}.{k}" if attributes else f"{where}[{k!r}]"
                )
                for k, v in value.items()
            }
            return {"kind": "dict", "items": items}
        keys = list(value)
        if not all(type(k) in _PRIMITIVES for k in keys):
            raise self.refuse(where, value, " (a dict key is not a string or number)")
        values = {
            str(i): self.encode(value[k], (*path, "values", str(i)), f"{where}[{k!r}]")
            for i, k in enumerate(keys)
        }
        return {"kind": "dict", "keys": keys, "values": values}

    def obj(self, value: Any, path: tuple[str, ...], where: str, top: bool) -> dict[str, Any]:
        if id(value) in self.active:
            raise self.refuse(where, value, " (it contains itself)")
        if id(value) in self.memo:
            return {"kind": "ref", "path": list(self.memo[id(value)])}
        cls = type(value)
        try:
            found = _resolve(_class_name(cls), where)
        except ModelFileError:
            found = None
        if found is not cls:
            raise self.refuse(where, value, " (its class cannot be found by its name)")
        try:
            reduced = value.__reduce_ex__(4)
        except Exception as exc:  # e.g. a DistanceMetric around a Python callable
            raise self.refuse(where, value, f" ({exc})") from exc
        if isinstance(reduced, str) or len(reduced) < 2:
            raise self.refuse(where, value, " (a module-level singleton)")
        parts: tuple[Any, ...] = (*reduced, None)
        func, args, state, rest = parts[0], parts[1], parts[2], parts[3:]
        if any(r is not None for r in rest):
            raise self.refuse(where, value, " (its pickled form adds items or a state setter)")
        if func is cls:
            construct = "call"
        elif args == (cls,) and (
            func is copyreg.__newobj__  # type: ignore[attr-defined]
            or (getattr(func, "__name__", "") == "newObj" and _allowed(func.__module__))
        ):
            construct, args = "new", ()  # cls.__new__(cls), as copyreg / sklearn's newObj do
        else:
            raise self.refuse(where, value, f" (it is rebuilt by {func!r})")
        if state is not None and not hasattr(value, "__setstate__") and type(state) is not dict:
            raise self.refuse(where, value, " (its state is not a dict)")
        if top and self.skip and type(state) is dict:
            state = {k: v for k, v in state.items() if k not in self.skip}
        self.memo[id(value)] = path
        self.active.add(id(value))
        self.keep_alive.append(value)
        node = {
            "kind": "object",
            "class": _class_name(cls),
            "construct": construct,
            "args": self.encode(list(args), (*path, "args"), f"{where}.<args>"),
            "state": (
                self.mapping(state, (*path, "state"), where, attributes=True)
                if type(state) is dict
                else self.encode(state, (*path, "state"), where)
            ),
        }
        self.active.discard(id(value))
        return node


def _resolve(name: Any, where: str = "saved state") -> type:
    """The class ``"module:qualname"``, only from an allowed module."""
    if not isinstance(name, str) or ":" not in name:
        raise ModelFileError(f"{where}: {name!r} is not a class name of the form module:qualname.")
    module, qualname = name.split(":", 1)
    if not _allowed(module):
        raise ModelFileError(
            f"{where} names the class {name!r}; dmad only re-creates PyOD and scikit-learn "
            f"classes (modules {', '.join(p + '*' for p in ALLOWED_MODULES)}) from a model file, "
            "so this file was not written by dmad or was altered; do not load it."
        )
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelFileError(
            f"{where} needs the class {name!r}, which the installed PyOD / scikit-learn lack "
            f"({exc}); install the versions the model was saved with."
        ) from exc
    if not isinstance(obj, type) or obj.__module__ != module or obj.__qualname__ != qualname:
        raise ModelFileError(f"{where}: {name!r} is not a class defined in {module}.")
    return obj


class _Decoder:
    """Rebuilds objects; a reference to an object not yet rebuilt rebuilds it first."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.memo: dict[tuple[str, ...], Any] = {}
        self.active: set[tuple[str, ...]] = set()

    def bad(self, path: tuple[str, ...], what: str) -> ModelFileError:
        return ModelFileError(f"saved estimator state at {'/'.join(path)}: {what}.")

    def decode(self, node: Any, path: tuple[str, ...]) -> Any:
        if type(node) in _PRIMITIVES:
            return node
        if isinstance(node, np.ndarray):
            if node.dtype.kind not in _NUMERIC_KINDS:
                raise self.bad(path, f"unexpected array dtype {node.dtype}")
            return node
        if not isinstance(node, dict) or not isinstance(node.get("kind"), str):
            raise self.bad(path, f"unexpected value of type {type(node).__name__}")
        kind = node["kind"]
        if kind in ("list", "tuple"):
            items = node["items"]
            seq = [self.decode(items[str(i)], (*path, "items", str(i))) for i in range(len(items))]
            return seq if kind == "list" else tuple(seq)
        if kind == "dict":
            if "items" in node:
                return {k: self.decode(v, (*path, "items", k)) for k, v in node["items"].items()}
            keys, values = node["keys"], node["values"]
            return {
                k: self.decode(values[str(i)], (*path, "values", str(i)))
                for i, k in enumerate(keys)
            }
        if kind == "scalar":
            dtype = np.dtype(node["dtype"])
            if dtype.kind not in _NUMERIC_KINDS + "U":
                raise self.bad(path, f"unexpected scalar dtype {dtype}")
            return dtype.type(node["value"])
        if kind == "array":
            data = self.decode(node["data"], (*path, "data"))
            return (
                data.reshape(())
                if node["shape"] == []
                else (data.T if node["order"] == "F" else data)
            )
        if kind == "strings":
            dtype = np.dtype(node["dtype"])
            if dtype.kind not in "OU":
                raise self.bad(path, f"unexpected string dtype {dtype}")
            return np.array(node["items"], dtype=dtype).reshape(node["shape"])
        if kind == "structured":
            return self.structured(node, path)
        if kind == "ref":
            return self.ref(node, path)
        if kind == "object":
            return self.obj(node, path)
        raise self.bad(path, f"unknown kind {kind!r}")

    def structured(self, node: dict[str, Any], path: tuple[str, ...]) -> np.ndarray:
        layout = node["dtype"]
        given = {k: layout[k] for k in ("names", "formats", "offsets", "itemsize")}
        dtype = np.dtype(given)  # type: ignore[call-overload]
        names, spec = list(dtype.names or ()), dict(dtype.fields or {})
        if any(spec[n][0].kind not in _NUMERIC_KINDS for n in names):
            raise self.bad(path, f"unexpected structured dtype {dtype}")
        out = np.zeros(tuple(node["shape"]), dtype=dtype)
        for name in names:
            out[name] = self.decode(node["fields"][name], (*path, "fields", name))
        return out

    def ref(self, node: dict[str, Any], path: tuple[str, ...]) -> Any:
        target = tuple(node["path"])
        if target in self.memo:
            return self.memo[target]
        if target in self.active or target[:1] != ("root",):
            raise self.bad(path, f"bad reference to {'/'.join(target)}")
        found = {"root": self.root}
        here: Any = found
        for key in target:
            if not isinstance(here, dict) or key not in here:
                raise self.bad(path, f"reference to missing {'/'.join(target)}")
            here = here[key]
        if not isinstance(here, dict) or here.get("kind") != "object":
            raise self.bad(path, f"reference to a non-object at {'/'.join(target)}")
        return self.obj(here, target)

    def obj(self, node: dict[str, Any], path: tuple[str, ...]) -> Any:
        if path in self.memo:  # rebuilt already, through a reference
            return self.memo[path]
        cls = _resolve(node["class"], f"saved estimator state at {'/'.join(path)}")
        self.active.add(path)
        if node["construct"] == "call":
            if cls.__reduce__ is object.__reduce__:  # pickle calls only classes that ask for it
                raise self.bad(path, f"{cls.__qualname__} is not rebuilt by calling it")
            value = cls(*self.decode(node["args"], (*path, "args")))
        elif node["construct"] == "new":
            value = cls.__new__(cls)  # type: ignore[call-overload]
        else:
            raise self.bad(path, f"unknown construction {node['construct']!r}")
        state = self.decode(node["state"], (*path, "state"))
        if state is not None:
            if hasattr(value, "__setstate__"):
                value.__setstate__(state)
            elif type(state) is dict:
                value.__dict__.update(state)
            else:
                raise self.bad(path, f"{cls.__qualname__} takes no state of this form")
        self.active.discard(path)
        self.memo[path] = value
        return value
