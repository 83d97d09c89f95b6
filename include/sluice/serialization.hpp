// The one serialization layer of Sluice (cereal, portable binary): checkpoints, spills and the
// network all encode elements, keys and state through serialize()/deserialize(). Standard types
// (numbers, strings, pairs, tuples, vectors, maps, optionals) work out of the box; a user type
// adds a cereal `serialize(Archive&)` member or free function. Stateless; safe from any thread.
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>
#include <sluice/error.hpp>
#include <sstream>
#include <string>
#include <string_view>

namespace sluice {

// True when T can go through serialize()/deserialize().
template <class T>
concept Serializable =
    cereal::traits::is_output_serializable<T, cereal::PortableBinaryOutputArchive>::value &&
    cereal::traits::is_input_serializable<T, cereal::PortableBinaryInputArchive>::value;

template <Serializable T>
std::string serialize(const T& value) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(value);
  }
  return std::move(out).str();
}

// Throws sluice::IOError when `bytes` is not a valid encoding of a T (e.g. truncated).
template <Serializable T>
T deserialize(std::string_view bytes) {
  std::istringstream in(std::string(bytes), std::ios::binary);
  T value;
  try {
    cereal::PortableBinaryInputArchive archive(in);
    archive(value);
  } catch (const cereal::Exception& e) {
    throw IOError(std::string("cannot decode serialized data: ") + e.what());
  }
  return value;
}

}  // namespace sluice
