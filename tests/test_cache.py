"""`videoflextok_core.cache`: the one bounded LRU and the one key hasher."""

import hashlib
import json

from videoflextok_core.cache import LRU, key_of


def test_lru_bounded_by_entries_and_bytes():
    dropped = []
    cache = LRU(3, max_bytes=10, size=len, on_evict=dropped.append)
    for key in "abcd":
        cache.put(key, key * 2)
    assert len(cache) == 3 and "a" not in cache and dropped == ["aa"]
    cache.get("b")  # b is now the newest
    cache.put("e", "e" * 6)  # 2 + 2 + 2 + 6 = 12 bytes > 10: drop the oldest (c)
    assert "c" not in cache and "b" in cache and dropped[-1] == "cc"
    cache.put("f", "f" * 50)  # larger than the bound on its own: kept, everything else dropped
    assert len(cache) == 1 and cache.get("f") == "f" * 50


def test_keys_are_stable_json_hashes():
    key = key_of("clip", 0.5, 17, {"b": 1, "a": [2, 3]})
    assert key == key_of("clip", 0.5, 17, {"a": [2, 3], "b": 1})  # dict order does not matter
    assert len(key) == 32 and key != key_of("clip", 0.5, 33, {"a": [2, 3], "b": 1})
    text = json.dumps(["clip", 0.5, 17, {"a": [2, 3], "b": 1}], sort_keys=True)
    assert key == hashlib.sha256(text.encode()).hexdigest()[:32]  # the dataset's segment keys
