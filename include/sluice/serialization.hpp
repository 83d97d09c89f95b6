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
#include <istream>
#include <sstream>
#include <streambuf>
#include <string>
#include <string_view>

namespace sluice {

// True when T can go through serialize()/deserialize().
template <class T>
concept Serializable =
    cereal::traits::is_output_serializable<T, cereal::PortableBinaryOutputArchive>::value &&
    cereal::traits::is_input_serializable<T, cereal::PortableBinaryInputArchive>::value;

namespace detail {
// A read-only stream buffer over bytes that stay where they are (std::istringstream would copy
// them first).
class ViewStreamBuf final : public std::streambuf {
 public:
  explicit ViewStreamBuf(std::string_view bytes) {
    // The get area is only read from; streambuf's interface takes char* regardless.
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
};
}  // namespace detail

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
  detail::ViewStreamBuf buf(bytes);
  std::istream in(&buf);
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
