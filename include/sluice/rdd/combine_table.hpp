// The table a keyed aggregation combines into: one per task, filled key by key, then drained.
// Both drain in insertion order, so a task's output order is a function of its input (never of
// addresses or thread timing). String keys (words, ids: the common case) get a dense table whose
// index is 4 bytes a slot and whose frequent keys, inserted early, share a few hot cache lines;
// other keys use StableMap.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <sluice/error.hpp>
#include <sluice/hash.hpp>
#include <sluice/rdd/stable_map.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::detail {

// a[0, size) == b[0, size), with fixed-size (possibly overlapping) loads up to 16 bytes.
inline bool equalBytes(const char* a, const char* b, std::size_t size) noexcept {
  if (size >= 8) {
    if (size > 16) return std::memcmp(a, b, size) == 0;
    return ((load64(a) ^ load64(b)) | (load64(a + size - 8) ^ load64(b + size - 8))) == 0;
  }
  if (size >= 4) return ((load32(a) ^ load32(b)) | (load32(a + size - 4) ^ load32(b + size - 4))) == 0;
  if (size == 0) return true;
  return a[0] == b[0] && a[size >> 1] == b[size >> 1] && a[size - 1] == b[size - 1];
}

// The map keyed operations combine and group in: insertion-ordered (see stable_map.hpp).
template <class K, class C>
using CombinerMap = StableMap<K, C>;

// Moves every entry of `map` out, in the map's order; the map must be destroyed or cleared
// afterwards (nothing hashes the moved-from keys again).
template <class K, class C, class F>
void drainMap(CombinerMap<K, C>& map, F f) {
  for (auto& entry : map) f(std::move(entry.first), std::move(entry.second));
}

// Not thread-safe: a task owns its table.
template <class K, class C>
class CombineTable {
 public:
  // merge(C&) into key's combiner, or insert (key, create()) when the key is new; `key` (a K&&
  // or const K&&) is moved or copied from only then.
  template <class Key, class Create, class Merge>
  void upsert(Key&& key, Create&& create, Merge&& merge) {
    bool inserted = false;
    auto it = map_.lazy_emplace(std::as_const(key), [&](const auto& construct) {
      inserted = true;
      construct(std::forward<Key>(key), create());
    });
    if (!inserted) merge(it->second);
  }
  std::size_t size() const noexcept { return map_.size(); }
  // Room for n keys without growing.
  void reserve(std::size_t n) { map_.reserve(n); }
  // Hands every entry to f(K&&, C&&), in insertion order, and leaves the table empty.
  template <class F>
  void drain(F f) {
    drainMap(map_, std::move(f));
    map_.clear();
  }

 private:
  CombinerMap<K, C> map_;
};

template <class C>
class CombineTable<std::string, C> {
 public:
  template <class Key, class Create, class Merge>
  void upsert(Key&& key, Create&& create, Merge&& merge) {
    const std::string_view k(key);
    if (index_.empty()) rehash(kMinIndexSlots);
    const std::uint64_t h = hashBytes(k.data(), k.size());
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    std::size_t slot = h & mask_;
    for (std::uint32_t e; (e = index_[slot]) != 0; slot = (slot + 1) & mask_) {
      Entry& entry = entries_[e - 1];
      if (entry.tag == tag && entry.size == k.size() &&
          equalBytes(arena_.data() + entry.offset, k.data(), k.size())) {
        merge(entry.value);
        return;
      }
    }
    if (entries_.size() == kMaxEntries || k.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw Error("combine: a task's keys exceed the table's limits (" +
                  std::to_string(kMaxEntries) + " distinct keys, 4 GiB per key)");
    }
    entries_.push_back(Entry{arena_.size(), static_cast<std::uint32_t>(k.size()), tag, create()});
    try {
      arena_.append(k);
    } catch (...) {
      entries_.pop_back();
      throw;
    }
    index_[slot] = static_cast<std::uint32_t>(entries_.size());
    if (entries_.size() * 2 > index_.size()) rehash(index_.size() * 2);
  }
  std::size_t size() const noexcept { return entries_.size(); }
  // Room for n keys without growing (the key bytes' arena still grows).
  void reserve(std::size_t n) {
    entries_.reserve(n);
    if (const std::size_t slots = indexSlotsFor(n); slots > index_.size()) rehash(slots);
  }
  // Hands every entry to f(std::string&&, C&&), in insertion order, and leaves the table empty.
  template <class F>
  void drain(F f) {
    for (Entry& entry : entries_) {
      f(std::string(arena_.data() + entry.offset, entry.size), std::move(entry.value));
    }
    entries_.clear();
    arena_.clear();
    index_.clear();
  }

 private:
  static constexpr std::size_t kMaxEntries = std::numeric_limits<std::uint32_t>::max() - 1;
  struct Entry {
    std::size_t offset;  // of the key's bytes in arena_
    std::uint32_t size;
    std::uint32_t tag;  // the hash's high half: most mismatches never touch the arena
    C value;
  };

  // Linear probing in a power-of-two index of entry numbers (0: empty), at most half full.
  void rehash(std::size_t capacity) {
    std::vector<std::uint32_t> index(capacity, 0);
    const std::size_t mask = capacity - 1;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      const Entry& entry = entries_[i];
      std::size_t slot = hashBytes(arena_.data() + entry.offset, entry.size) & mask;
      while (index[slot] != 0) slot = (slot + 1) & mask;
      index[slot] = static_cast<std::uint32_t>(i + 1);
    }
    index_ = std::move(index);
    mask_ = mask;
  }

  std::vector<std::uint32_t> index_;
  std::size_t mask_ = 0;
  std::vector<Entry> entries_;
  std::string arena_;
};

}  // namespace sluice::detail
