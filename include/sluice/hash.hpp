// Stable hashing for partitioning: the same key hashes to the same value in every process and on
// every run (unlike absl::Hash, which is seeded per process), so partitions agree across MPI ranks
// and across a restart from a checkpoint. Users make their own key types partitionable by
// specializing sluice::StableHash<T>. Stateless; safe from any thread.
#pragma once

#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace sluice {

template <class T, class Enable = void>
struct StableHash;

namespace detail {

inline constexpr std::uint64_t kHashMul = 0x9E3779B97F4A7C15ULL;

inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t combineHash(std::uint64_t seed, std::uint64_t h) noexcept {
  return mix64(seed ^ (h + kHashMul + (seed << 6) + (seed >> 2)));
}

inline std::uint64_t load64(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

inline std::uint32_t load32(const char* p) noexcept {
  std::uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// The tail (fewer than 8 bytes) is read with fixed-size, possibly overlapping loads, so short
// keys such as words never pay for a variable-length copy.
inline std::uint64_t hashBytes(const char* data, std::size_t size) noexcept {
  std::uint64_t h = kHashMul ^ (size * 0xff51afd7ed558ccdULL);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) h = (h ^ mix64(load64(data + i))) * kHashMul;
  std::size_t rest = size - i;
  if (rest > 0) {
    const char* p = data + i;
    std::uint64_t w;
    if (rest >= 4) {
      w = (static_cast<std::uint64_t>(load32(p)) << 32) | load32(p + rest - 4);
    } else {
      w = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
          (static_cast<std::uint64_t>(static_cast<unsigned char>(p[rest >> 1])) << 8) |
          static_cast<unsigned char>(p[rest - 1]);
    }
    h = (h ^ mix64(w ^ rest)) * kHashMul;
  }
  return mix64(h);
}

}  // namespace detail

template <class T>
struct StableHash<T, std::enable_if_t<std::is_integral_v<T> || std::is_enum_v<T>>> {
  std::uint64_t operator()(T v) const noexcept {
    return detail::mix64(static_cast<std::uint64_t>(v) + detail::kHashMul);
  }
};

template <class T>
struct StableHash<T, std::enable_if_t<std::is_floating_point_v<T>>> {
  std::uint64_t operator()(T v) const noexcept {
    double d = v == 0 ? 0.0 : static_cast<double>(v);  // -0.0 and 0.0 are the same key
    return detail::mix64(std::bit_cast<std::uint64_t>(d));
  }
};

template <>
struct StableHash<std::string_view> {
  std::uint64_t operator()(std::string_view s) const noexcept {
    return detail::hashBytes(s.data(), s.size());
  }
};

template <>
struct StableHash<std::string> {
  std::uint64_t operator()(std::string_view s) const noexcept {
    return detail::hashBytes(s.data(), s.size());
  }
};

template <class A, class B>
struct StableHash<std::pair<A, B>> {
  std::uint64_t operator()(const std::pair<A, B>& p) const noexcept {
    return detail::combineHash(StableHash<A>{}(p.first), StableHash<B>{}(p.second));
  }
};

template <class... Ts>
struct StableHash<std::tuple<Ts...>> {
  std::uint64_t operator()(const std::tuple<Ts...>& t) const noexcept {
    std::uint64_t h = 0x1234567;
    std::apply([&](const auto&... xs) { ((h = detail::combineHash(h, hashOf(xs))), ...); }, t);
    return h;
  }

 private:
  template <class X>
  static std::uint64_t hashOf(const X& x) noexcept {
    return StableHash<X>{}(x);
  }
};

template <class T>
struct StableHash<std::vector<T>> {
  std::uint64_t operator()(const std::vector<T>& v) const noexcept {
    std::uint64_t h = v.size();
    for (const auto& x : v) h = detail::combineHash(h, StableHash<T>{}(x));
    return h;
  }
};

template <class T>
struct StableHash<std::optional<T>> {
  std::uint64_t operator()(const std::optional<T>& v) const noexcept {
    return v ? detail::combineHash(1, StableHash<T>{}(*v)) : 0;
  }
};

// Partition of a key among n partitions. Uses the hash's high bits so that hash tables keyed by
// the same hash (whose buckets use the low bits) stay well spread inside one partition.
template <class K>
int partitionOf(const K& key, int num_partitions) noexcept {
  std::uint64_t h = StableHash<K>{}(key) >> 32;
  return static_cast<int>((h * static_cast<std::uint64_t>(num_partitions)) >> 32);
}

// Adapter so absl/std hash maps can use StableHash (transparent for strings).
template <class K>
struct StableHasher {
  std::size_t operator()(const K& k) const noexcept { return StableHash<K>{}(k); }
};

template <>
struct StableHasher<std::string> {
  using is_transparent = void;
  std::size_t operator()(std::string_view k) const noexcept {
    return detail::hashBytes(k.data(), k.size());
  }
};

}  // namespace sluice
