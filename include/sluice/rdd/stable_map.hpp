// StableMap: a hash map whose iteration order is a function of the operations applied to it
// alone. absl::flat_hash_map iterates in an order that depends on the table's address and
// capacity history (and, in builds without NDEBUG, on a per-process seed), so anything that emits
// entries from one varies from run to run whenever allocation varies, as it does under threads.
// The engine's keyed operations combine and group in this map instead, so that their output order
// is a function of their input.
//
// Entries live in a vector, in insertion order; erase moves the last entry into the erased one's
// place (so the order stays a function of the operations). Lookups go through a linear-probing
// index of 8-byte slots, at most half full: the entry's number and the low 32 bits of its key's
// hash, which both place the slot (so growing never rehashes a key) and reject most mismatches
// without touching the entry.
//
// Not thread-safe. Iterators and references are invalidated by every insertion and erase; keys
// must not be changed through an iterator, except by a drain that then clears the map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <sluice/error.hpp>
#include <sluice/hash.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sluice::detail {

// The linear-probing indexes of StableMap and CombineTable<std::string> have a power-of-two
// number of slots, so that a hash's low bits place a key, and are kept at most half full, so
// that probe runs stay short.
inline constexpr std::size_t kMinIndexSlots = 16;

// The slots an index needs to hold n entries without growing.
inline std::size_t indexSlotsFor(std::size_t n) noexcept {
  std::size_t slots = kMinIndexSlots;
  while (slots < 2 * n) slots *= 2;
  return slots;
}

template <class K, class V, class Hash = StableHasher<K>>
class StableMap {
 public:
  using value_type = std::pair<K, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  iterator begin() noexcept { return entries_.begin(); }
  iterator end() noexcept { return entries_.end(); }
  const_iterator begin() const noexcept { return entries_.begin(); }
  const_iterator end() const noexcept { return entries_.end(); }

  // Room for n entries without growing.
  void reserve(std::size_t n) {
    entries_.reserve(n);
    if (const std::size_t slots = indexSlotsFor(n); slots > index_.size()) rebuildIndex(slots);
  }
  // Empties the map and frees its memory.
  void clear() noexcept {
    entries_ = std::vector<value_type>();
    index_ = std::vector<std::uint64_t>();
    mask_ = 0;
  }

  iterator find(const K& key) { return entries_.begin() + findEntry(key); }
  const_iterator find(const K& key) const { return entries_.begin() + findEntry(key); }
  bool contains(const K& key) const { return findEntry(key) != entries_.size(); }

  // absl's lazy_emplace: the entry of `key`, or, when there is none, f(construct) where
  // construct(args...) builds the new value_type from args (and may move from `key`).
  template <class F>
  iterator lazy_emplace(const K& key, F&& f) {
    if (index_.empty()) rebuildIndex(kMinIndexSlots);
    const auto h = static_cast<std::uint32_t>(Hash{}(key));
    std::size_t slot = h & mask_;
    for (std::uint64_t s; (s = index_[slot]) != 0; slot = (slot + 1) & mask_) {
      if (hashOf(s) == h && entries_[entryOf(s)].first == key) return begin() + entryOf(s);
    }
    if (entries_.size() == kMaxEntries) {
      throw Error("hash map: more than " + std::to_string(kMaxEntries) + " keys");
    }
    std::forward<F>(f)(
        [this](auto&&... args) { entries_.emplace_back(std::forward<decltype(args)>(args)...); });
    index_[slot] = (std::uint64_t{h} << 32) | entries_.size();
    if (entries_.size() * 2 > index_.size()) rebuildIndex(index_.size() * 2);
    return end() - 1;
  }
  template <class Key, class... Args>
  std::pair<iterator, bool> try_emplace(Key&& key, Args&&... args) {
    bool inserted = false;
    auto it = lazy_emplace(std::as_const(key), [&](const auto& construct) {
      inserted = true;
      construct(std::piecewise_construct, std::forward_as_tuple(std::forward<Key>(key)),
                std::forward_as_tuple(std::forward<Args>(args)...));
    });
    return {it, inserted};
  }
  template <class Key, class M>
  std::pair<iterator, bool> insert_or_assign(Key&& key, M&& value) {
    auto [it, inserted] = try_emplace(std::forward<Key>(key), std::forward<M>(value));
    if (!inserted) it->second = std::forward<M>(value);
    return {it, inserted};
  }
  template <class Key>
  V& operator[](Key&& key) {
    return try_emplace(std::forward<Key>(key)).first->second;
  }

  void erase(const_iterator it) { eraseEntry(static_cast<std::size_t>(it - entries_.cbegin())); }
  std::size_t erase(const K& key) {
    const std::size_t e = findEntry(key);
    if (e == entries_.size()) return 0;
    eraseEntry(e);
    return 1;
  }

 private:
  static constexpr std::size_t kMaxEntries = std::numeric_limits<std::uint32_t>::max() - 1;
  // A slot: 0 when empty, else the key's hash (low 32 bits) above the entry's number plus one.
  static std::uint32_t hashOf(std::uint64_t slot) noexcept {
    return static_cast<std::uint32_t>(slot >> 32);
  }
  static std::size_t entryOf(std::uint64_t slot) noexcept {
    return static_cast<std::uint32_t>(slot) - std::size_t{1};
  }

  // The entry number of `key`, or size() when absent.
  std::size_t findEntry(const K& key) const {
    if (index_.empty()) return entries_.size();
    const auto h = static_cast<std::uint32_t>(Hash{}(key));
    for (std::size_t slot = h & mask_;; slot = (slot + 1) & mask_) {
      const std::uint64_t s = index_[slot];
      if (s == 0) return entries_.size();
      if (hashOf(s) == h && entries_[entryOf(s)].first == key) return entryOf(s);
    }
  }
  // The index slot that holds entry e.
  std::size_t slotOf(std::size_t e) const {
    const auto h = static_cast<std::uint32_t>(Hash{}(entries_[e].first));
    std::size_t slot = h & mask_;
    while (entryOf(index_[slot]) != e) slot = (slot + 1) & mask_;
    return slot;
  }

  void eraseEntry(std::size_t e) {
    // Backward-shift deletion: later slots of the probe run move up into the hole unless their
    // home slot lies after it.
    std::size_t hole = slotOf(e);
    for (std::size_t j = (hole + 1) & mask_; index_[j] != 0; j = (j + 1) & mask_) {
      const std::size_t home = hashOf(index_[j]) & mask_;
      if (((j - home) & mask_) >= ((j - hole) & mask_)) {
        index_[hole] = index_[j];
        hole = j;
      }
    }
    index_[hole] = 0;
    const std::size_t last = entries_.size() - 1;
    if (e != last) {
      const std::size_t slot = slotOf(last);
      index_[slot] = (index_[slot] & ~std::uint64_t{0xFFFFFFFF}) | (e + 1);
      entries_[e] = std::move(entries_[last]);
    }
    entries_.pop_back();
  }

  void rebuildIndex(std::size_t capacity) {
    std::vector<std::uint64_t> index(capacity, 0);
    const std::size_t mask = capacity - 1;
    for (const std::uint64_t s : index_) {
      if (s == 0) continue;
      std::size_t slot = hashOf(s) & mask;
      while (index[slot] != 0) slot = (slot + 1) & mask;
      index[slot] = s;
    }
    index_ = std::move(index);
    mask_ = mask;
  }

  std::vector<value_type> entries_;
  std::vector<std::uint64_t> index_;
  std::size_t mask_ = 0;
};

}  // namespace sluice::detail
