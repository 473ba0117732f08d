"""One bounded LRU cache, shared by the demo's caches (`demo.store.Store`) and the quality-curve
results (`curve.CurveCache`, which adds an optional disk copy on top), and the one way their keys
are made (`key_of`, also the dataset's segment keys).

    from videoflextok_core.cache import LRU, key_of, tensor_bytes
    clips = LRU(8, max_bytes=2**30, size=lambda c: tensor_bytes(c.video), on_evict=drop_files)
    clips.put(key_of(digest, start, frames, model_id), clip)
    clips.get(key)                  # the value, now the newest; None when absent

Bounds: at most `max_entries` values and, if given, `max_bytes` as measured by `size(value)`.
The newest entry is always kept, even when it alone is over `max_bytes`.
"""

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable

from torch import Tensor


def key_of(*parts) -> str:
    """A cache key: 32 hex digits of SHA-256 over the JSON of `parts` (sorted dict keys), so
    equal values give equal keys in any process. Parts are JSON values: str, numbers, bools,
    None, lists, dicts."""
    text = json.dumps(list(parts), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def tensor_bytes(*tensors: Tensor) -> int:
    """Bytes held by the tensors' elements."""
    return sum(t.numel() * t.element_size() for t in tensors)


class LRU:
    """Thread-safe bounded LRU: at most `max_entries` values and `max_bytes` by `size(value)`
    (the newest entry is always kept); `on_evict(value)` runs for each dropped value."""

    def __init__(
        self,
        max_entries: int,
        max_bytes: int | None = None,
        size: Callable[[object], int] | None = None,
        on_evict: Callable[[object], None] | None = None,
    ):
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.size = size or (lambda value: 0)
        self.on_evict = on_evict
        self._items: OrderedDict = OrderedDict()
        self._bytes = 0  # sum of size(value) over the entries
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        return key in self._items

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        dropped = []
        with self._lock:
            if key in self._items:
                self._bytes -= self.size(self._items.pop(key))
            self._items[key] = value
            self._bytes += self.size(value)
            while len(self._items) > 1 and (
                len(self._items) > self.max_entries
                or (self.max_bytes is not None and self._bytes > self.max_bytes)
            ):
                _, old = self._items.popitem(last=False)
                self._bytes -= self.size(old)
                dropped.append(old)
        for old in dropped:  # outside the lock: a callback may be slow (it removes files)
            if self.on_evict is not None:
                self.on_evict(old)

    def clear(self) -> None:
        """Forget every entry (without `on_evict`)."""
        with self._lock:
            self._items.clear()
            self._bytes = 0


__all__ = ["LRU", "key_of", "tensor_bytes"]
