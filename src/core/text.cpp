#include <cstddef>
#include <sluice/error.hpp>
#include <sluice/text.hpp>

namespace sluice {
namespace {

// Length in bytes of the whitespace character that starts at line[i] (see split(line)), or 0.
// Every such character starts with a byte that never continues a UTF-8 sequence, so matching its
// bytes wherever they occur finds exactly the whitespace a UTF-8 decoder would.
std::size_t whitespaceLength(std::string_view line, std::size_t i) {
  auto byte = [&](std::size_t k) -> unsigned char {
    return i + k < line.size() ? static_cast<unsigned char>(line[i + k]) : 0;
  };
  const unsigned char c = byte(0);
  const unsigned char c1 = byte(1);
  const unsigned char c2 = byte(2);
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return 1;
  if (c == 0xC2) return c1 == 0x85 || c1 == 0xA0 ? 2 : 0;  // U+0085, U+00A0
  if (c == 0xE1) return c1 == 0x9A && c2 == 0x80 ? 3 : 0;  // U+1680
  if (c == 0xE2 && c1 == 0x80) {                           // U+2000-U+200A, U+2028, U+2029, U+202F
    return (c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF ? 3 : 0;
  }
  if (c == 0xE2) return c1 == 0x81 && c2 == 0x9F ? 3 : 0;  // U+205F
  if (c == 0xE3) return c1 == 0x80 && c2 == 0x80 ? 3 : 0;  // U+3000
  return 0;
}

}  // namespace

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size()) {
      const std::size_t n = whitespaceLength(line, i);
      if (n == 0) break;
      i += n;
    }
    if (i == line.size()) break;
    const std::size_t start = i;
    while (i < line.size() && whitespaceLength(line, i) == 0) ++i;
    words.emplace_back(line.substr(start, i - start));
  }
  return words;
}

std::vector<std::string> split(std::string_view line, std::string_view sep) {
  if (sep.empty()) throw InvalidArgumentError("empty separator");
  std::vector<std::string> pieces;
  std::size_t start = 0;
  for (std::size_t at = line.find(sep); at != std::string_view::npos; at = line.find(sep, start)) {
    pieces.emplace_back(line.substr(start, at - start));
    start = at + sep.size();
  }
  pieces.emplace_back(line.substr(start));
  return pieces;
}

}  // namespace sluice
