"""The sandbox wire format: length-prefixed frames of JSON, and a faithful codec for numpy values.

Shared by the host, the zygote and the child (stdlib + numpy only, never imports `selftaught`), so there
is exactly one implementation of how values cross the trust boundary. Never pickle: a pickle from the
child would run code in the host. Every decoder is bounded because the peer may be hostile. The frames
that carry encoded values are `frames.py`; an array's own wire form (dtype, shape, bytes) is `arrays.py`.

Value encoding (`encode`/`decode`): plain data comes back as it went. JSON scalars, lists and
str-keyed dicts stay as they are; everything else is a tagged dict `{"__st__": kind, ...}`: tuples
(nested too) stay tuples, complex numbers complex, numpy arrays keep dtype and shape (a (n, 1) array
stays (n, 1), so scorers can reject shapes that would broadcast) and numpy scalars their dtype (an
int64 stays an int64; numpy text and bytes scalars become str and bytes); large input arrays may live in
a read-only shared file (`file`); sets, bytes and dicts with other keys (int, tuple, ...) are tagged.
A list of at least `arrays.PACKED_MIN` items that are all exactly `float`, all exactly `int` (within int64) or
all exactly `complex` travels as a one-dimensional array tagged `"list": true` and arrives as the same
list of Python numbers (a list of equal rows of such numbers, as a two-dimensional one) (a 100 x 100 list of floats costs ~50 times less to encode and decode than JSON
numbers); its items count against the decoder's item cap as JSON items would. Between the two sandboxed
children of an OpenEvolve evaluation, large arrays (and packed lists) travel as raw message bodies
instead of base64 (`Bodies`, the `body` tag): each body may be used by one array only.
Other libraries' arrays (`__array__`, the array interface or DLPack: jax, torch on the CPU) arrive as
numpy arrays of the same dtype and shape. Anything else raises `Unserializable`, naming the element's
path and type (`unserializable: result[1]['x']: some.Type`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Re-exported: every string a child names in a header passes through it (zygote) before the host sees it.
if __package__:  # on the host, as selftaught.sandbox.inside.wire
    from selftaught.codetext.safetext import safe_text as safe_text
else:
    try:  # in the zygote and its children, where the codetext directory is on sys.path
        from safetext import safe_text as safe_text  # type: ignore[no-redef]
    except ImportError:  # inside/ put on sys.path by a host-side tool or test
        from selftaught.codetext.safetext import safe_text as safe_text  # type: ignore[no-redef]

if __package__:  # on the host, as selftaught.sandbox.inside.wire
    from selftaught.sandbox.inside import arrays
    from selftaught.sandbox.inside.frames import MAX_BODIES, WireError
else:  # in the zygote and its children, where the inside directory is on sys.path
    import arrays  # type: ignore[no-redef]
    from frames import MAX_BODIES, WireError  # type: ignore[no-redef]

TAG = "__st__"
MAX_DEPTH = 200
MAX_ITEMS = 2_000_000  # JSON containers' items in one value: bounds the decoded objects' memory
BODY_MIN = 2048  # smaller arrays stay base64 in the JSON (a body costs a frame)
PEER_BODY_MIN = 256  # the same between two sandboxed children, whose messages are read whole


class Unserializable(Exception):
    """A value that cannot cross the boundary.

    `str()` is "unserializable: <type>" for the value itself, "unserializable: <root><path>: <type>" for
    an element inside it (`unserializable: result[1]['x']: jaxlib...ArrayImpl`): `path` lists the steps.
    """

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
        self.path: list[str] = []
        self.root = "value"

    def __str__(self) -> str:
        where = f"{self.root}{''.join(self.path)}: " if self.path else ""
        return f"unserializable: {where}{self.what}"


ArrayHook = Callable[[np.ndarray], "dict[str, Any] | None"]
# Encodes a value of a type this module does not know (e.g. the host's `Proxy`), or returns None.
OtherHook = Callable[[Any], "dict[str, Any] | None"]
Resolver = Callable[[str], Any]
RefResolver = Callable[["Ref"], Any]
Shared = arrays.Shared  # where shared input arrays come from (see `arrays.Shared`)


_ARRAY_PROTOCOLS = ("__array__", "__array_interface__", "__array_struct__", "__dlpack__")


def _encode_array(arr: np.ndarray, hook: ArrayHook | None) -> dict[str, Any]:
    if not arrays.safe_dtype(arr.dtype):
        raise Unserializable(f"ndarray of dtype {arr.dtype}")
    if hook is not None:
        ref = hook(arr)
        if ref is not None:
            return ref
    data = np.ascontiguousarray(arr).tobytes()
    return {
        TAG: "nd",
        "dtype": arr.dtype.str,
        "shape": list(arr.shape),
        "b64": base64.b64encode(data).decode(),
    }


def _type_name(value: Any) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", "") or ""
    name = getattr(kind, "__qualname__", None) or kind.__name__
    return name if module == "builtins" else f"{module}.{name}"


def _at(exc: Unserializable, step: str) -> Unserializable:
    """Prefix the element's position (`[1]`, `["x"]`) to a refusal raised below it."""
    exc.path.insert(0, step)
    return exc


def _from_array_like(value: Any) -> np.ndarray | None:
    """A numpy copy of another library's array (`__array__`, the array interface, or DLPack: jax,
    torch on the CPU, ...), or None if `value` is not one. Looked up on the type, never the instance,
    so a hostile `__getattr__` cannot pretend; whatever the conversion raises becomes a refusal."""
    kind = type(value)
    if not any(hasattr(kind, name) for name in _ARRAY_PROTOCOLS):
        return None
    try:
        if (
            hasattr(kind, "__array__")
            or hasattr(kind, "__array_interface__")
            or hasattr(kind, "__array_struct__")
        ):
            arr = np.asarray(value)
        else:
            arr = np.from_dlpack(value)
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"conversion gave {type(arr).__name__}")
        return np.array(arr, copy=True, subok=False)  # never a view of the other library's buffer
    except Exception as exc:  # a broken or lying array-like: this value cannot cross
        raise Unserializable(
            f"{_type_name(value)} (its array conversion failed: {type(exc).__name__})"
        ) from None


def encode(
    value: Any, array_hook: ArrayHook | None = None, other_hook: OtherHook | None = None, _depth: int = 0
) -> Any:
    """Turn a Python value into a JSON-able structure (see the module docstring), or raise Unserializable.

    A refusal's `path` names the element that could not cross (`[1]["x"]`), its message its type.
    """
    if _depth > MAX_DEPTH:
        raise Unserializable("nesting deeper than 200")
    if value is None or isinstance(value, (bool, str)):
        return str(value) if isinstance(value, str) and type(value) is not str else value
    if isinstance(value, np.generic):
        return _encode_scalar(value, array_hook)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, complex):
        return {TAG: "complex", "re": value.real, "im": value.imag}
    if isinstance(value, list):
        packed = arrays.packed(value)
        if packed is not None:
            owner = getattr(array_hook, "__self__", None)
            if isinstance(owner, Bodies):
                owner.packed_items += packed.size
            return _encode_array(packed, array_hook) | {"list": True}
        return _encode_items(value, array_hook, other_hook, _depth)
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": _encode_items(value, array_hook, other_hook, _depth)}
    if isinstance(value, dict):
        return _encode_dict(value, array_hook, other_hook, _depth)
    if isinstance(value, np.ndarray):
        return _encode_array(value, array_hook)
    if isinstance(value, (set, frozenset)):
        kind = "frozenset" if isinstance(value, frozenset) else "set"
        return {TAG: kind, "items": _encode_items(value, array_hook, other_hook, _depth)}
    if isinstance(value, (bytes, bytearray)):
        return {TAG: "bytes", "b64": base64.b64encode(bytes(value)).decode()}
    if other_hook is not None:
        encoded = other_hook(value)
        if encoded is not None:
            return encoded
    as_ref = getattr(type(value), "__wire_ref__", None)
    if as_ref is not None:
        ref = as_ref(value)
        if isinstance(ref, Ref):
            return ref.tag()
    arr = _from_array_like(value)
    if arr is not None:
        return _encode_array(arr, array_hook)
    raise Unserializable(_type_name(value))


def _encode_scalar(value: np.generic, array_hook: ArrayHook | None) -> Any:
    """numpy scalars keep their dtype (an int64 stays an int64); text and bytes become str and bytes."""
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, np.bytes_):
        return {TAG: "bytes", "b64": base64.b64encode(bytes(value)).decode()}
    return _encode_array(np.asarray(value), array_hook) | {"scalar": True}


def _encode_items(
    items: Any, array_hook: ArrayHook | None, other_hook: OtherHook | None, depth: int
) -> list[Any]:
    out = []
    for index, item in enumerate(items):
        try:
            out.append(encode(item, array_hook, other_hook, depth + 1))
        except Unserializable as exc:
            raise _at(exc, f"[{index}]") from None
    return out


def _encode_dict(
    value: dict[Any, Any], array_hook: ArrayHook | None, other_hook: OtherHook | None, depth: int
) -> Any:
    if all(type(key) is str for key in value) and TAG not in value:
        out = {}
        for key, item in value.items():
            try:
                out[key] = encode(item, array_hook, other_hook, depth + 1)
            except Unserializable as exc:
                raise _at(exc, f"[{key[:40]!r}]") from None
        return out
    pairs = []
    for key, item in value.items():
        try:
            pairs.append(
                [
                    encode(key, array_hook, other_hook, depth + 1),
                    encode(item, array_hook, other_hook, depth + 1),
                ]
            )
        except Unserializable as exc:
            raise _at(exc, f"[{_brief_key(key)}]") from None
    return {TAG: "dict", "items": pairs}


def _brief_key(key: Any) -> str:
    try:
        return repr(key)[:40]
    except Exception:
        return f"<{_type_name(key)} key>"


def dumps(
    value: Any, array_hook: ArrayHook | None = None, other_hook: OtherHook | None = None, root: str = "value"
) -> bytes:
    """`encode` then JSON bytes; Unserializable for values that cannot be represented (its message
    names the element by `root` and its path, e.g. `result[1]['x']`)."""
    try:
        return json.dumps(encode(value, array_hook, other_hook), separators=(",", ":")).encode()
    except Unserializable as exc:
        exc.root = root
        raise
    except RecursionError:
        raise Unserializable("nesting too deep") from None
    except (TypeError, ValueError) as exc:
        raise Unserializable(str(exc)) from None


def _decode_array(
    obj: dict[str, Any],
    shared_dir: Shared,
    budget: list[int] | None = None,
    bodies: list[bytes | None] | None = None,
) -> Any:
    arr = arrays.from_wire(obj, shared_dir, bodies)
    if obj.get("list") is True:
        return _unpacked(arr, budget)
    return arr[()] if obj.get("scalar") else arr


class Bodies:
    """`array_hook` for messages between two sandboxed children: arrays of at least `BODY_MIN` bytes
    go as raw message bodies (no base64, no JSON), at most `MAX_BODIES` of them; `items` are the bodies
    in the order the `body` tags number them."""

    def __init__(self, min_bytes: int = BODY_MIN) -> None:
        self.min_bytes = min_bytes
        self.items: list[Any] = []  # memoryviews of the arrays' bytes (not copies: `pack_parts`)
        self.packed_items = 0  # numbers of the packed lists encoded with this hook (`encode`)

    def hook(self, arr: np.ndarray) -> dict[str, Any] | None:
        if arr.nbytes < self.min_bytes or len(self.items) >= MAX_BODIES:
            return None
        self.items.append(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)
        return {TAG: "nd", "dtype": arr.dtype.str, "shape": list(arr.shape), "body": len(self.items) - 1}

    @property
    def size(self) -> int:
        return sum(len(item) for item in self.items)


def _unpacked(arr: np.ndarray, budget: list[int] | None) -> list[Any]:
    """A packed list back as Python numbers; its items are charged to the message's item budget."""
    if arr.ndim not in (1, 2) or arr.dtype not in arrays.PACKED_DTYPES.values():
        raise WireError("a packed list is not a 1-D or 2-D array of float64, int64 or complex128")
    items = arr.size + (arr.shape[0] if arr.ndim == 2 else 0)  # numbers, and the rows' lists
    left = MAX_ITEMS if budget is None else budget[0]
    if items > left:
        raise WireError(f"value with more than {MAX_ITEMS} items")
    if budget is not None:
        budget[0] = left - items
    return arr.tolist()


def _text(value: str) -> str:
    """Strings must be encodable (no lone surrogates): the host stores and prints them as UTF-8."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise WireError("text with a lone surrogate (not encodable as UTF-8)") from None
    return value


def decode(
    obj: Any,
    shared_dir: Shared = None,
    resolve: Resolver | None = None,
    _depth: int = 0,
    refs: RefResolver | None = None,
    budget: list[int] | None = None,
    bodies: list[bytes | None] | None = None,
) -> Any:
    """Inverse of `encode`; raises WireError on anything malformed (the input may be hostile).

    `resolve` turns a `proxy` tag into the host's proxy object, `refs` a `ref` tag (a handle to an
    object of another process, see `Ref`) into what stands for it here; without them those tags are
    refused. `budget` (one number, what is left of the item cap) is charged for packed lists; `bodies`, the message's raw bodies, are where `body` tags' arrays are
    (each taken once: the list is emptied as they are)."""
    if _depth > MAX_DEPTH + 2:
        raise WireError("nesting too deep")
    if isinstance(obj, str):
        return _text(obj)
    if isinstance(obj, list):
        return [decode(item, shared_dir, resolve, _depth + 1, refs, budget, bodies) for item in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj.get(TAG)
    if kind is None:
        return {
            _text(key): decode(item, shared_dir, resolve, _depth + 1, refs, budget, bodies)
            for key, item in obj.items()
        }
    if kind == "nd":
        return _decode_array(obj, shared_dir, budget, bodies)
    if kind == "dict":
        return {
            _hashable(decode(k, shared_dir, resolve, _depth + 1, refs, budget, bodies)): decode(
                v, shared_dir, resolve, _depth + 1, refs, budget, bodies
            )
            for k, v in _items(obj)
        }
    if kind == "tuple":
        return tuple(
            decode(item, shared_dir, resolve, _depth + 1, refs, budget, bodies) for item in _items(obj)
        )
    if kind == "set" or kind == "frozenset":
        members = {
            _hashable(decode(item, shared_dir, resolve, _depth + 1, refs, budget, bodies))
            for item in _items(obj)
        }
        return frozenset(members) if kind == "frozenset" else members
    if kind == "complex":
        real, imag = obj["re"], obj["im"]
        if not all(type(part) in (int, float) for part in (real, imag)):
            raise WireError("complex parts are not numbers")
        return complex(real, imag)
    if kind == "bytes":
        return base64.b64decode(obj["b64"], validate=True)
    if kind == "proxy" and resolve is not None:
        return resolve(str(obj["name"]))
    if kind == "ref" and refs is not None:
        return refs(_ref(obj))
    raise WireError(f"unknown tag {str(kind)[:40]!r}")


MAX_REF_ID = (1 << 63) - 1


@dataclass(frozen=True)
class Ref:
    """A handle to an object living in another process: a random id and the name of its class.

    Only the process that made the handle can act on the id; anyone else holds a number. Encoded as
    `{"__st__": "ref", "id": ..., "cls": ...}` by values whose type defines `__wire_ref__` (returning a
    Ref) or by an `other_hook`."""

    id: int
    cls: str

    def tag(self) -> dict[str, Any]:
        return {TAG: "ref", "id": self.id, "cls": self.cls}


def _ref(obj: dict[str, Any]) -> Ref:
    ref_id, cls = obj.get("id"), obj.get("cls")
    if type(ref_id) is not int or not 0 <= ref_id <= MAX_REF_ID:
        raise WireError("handle id is not an integer in [0, 2**63)")
    if not isinstance(cls, str) or not cls.replace(".", "_").isidentifier() or len(cls) > 200:
        raise WireError("handle class is not a dotted name")
    return Ref(ref_id, cls)


def _items(obj: dict[str, Any]) -> list[Any]:
    items = obj["items"]
    if not isinstance(items, list):
        raise WireError("tagged items are not a list")
    return items


def _hashable(value: Any) -> Any:
    """Keys and set members must be hashable: a list there (never sent by `encode`, which keeps tuples)
    is taken as a tuple, a set as a frozenset."""
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


# Every way a hostile value can make decoding fail, turned into WireError in `loads` (the one place).
_DECODE_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    OverflowError,
    RecursionError,
    OSError,
    MemoryError,
    IndexError,
    AttributeError,
)


def loads(
    data: bytes,
    shared_dir: Shared = None,
    resolve: Resolver | None = None,
    refs: RefResolver | None = None,
    bodies: list[bytes] | None = None,
) -> Any:
    """JSON bytes to a decoded value, or WireError saying why not: the bounded decoder of the boundary.

    Caps the number of JSON items before parsing (a 30 MB list of small numbers would otherwise cost
    gigabytes of Python objects), nesting depth, array shapes and dtypes, and refuses unencodable text.
    Nothing else escapes: every failure is a WireError, which callers turn into that job's failure,
    except a TimeoutError (an OSError, raised by the decoding process's own alarm mid-decode).
    """
    items = data.count(b",") + data.count(b"[") + data.count(b"{")
    if items > MAX_ITEMS:
        raise WireError(f"value with about {items} items exceeds the cap of {MAX_ITEMS}")
    try:
        taken: list[bytes | None] | None = None if bodies is None else list(bodies)
        return decode(json.loads(data), shared_dir, resolve, 0, refs, [MAX_ITEMS - items], taken)
    except TimeoutError:  # an OSError, but the decoding process's own alarm, never a malformed value
        raise
    except _DECODE_ERRORS as exc:  # a WireError (not one of these) passes as it is
        raise WireError(f"malformed value: {type(exc).__name__}: {str(exc)[:200]}") from None
