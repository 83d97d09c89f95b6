#include <fmt/format.h>

#include <cmath>
#include <sluice/format.hpp>

namespace sluice::detail {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not valid UTF-8.
std::size_t utf8Length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  if (len == 3 && c == 0xE0 && byte(i + 1) < 0xA0) return 0;   // overlong
  if (len == 3 && c == 0xED && byte(i + 1) >= 0xA0) return 0;  // surrogate
  if (len == 4 && c == 0xF0 && byte(i + 1) < 0x90) return 0;   // overlong
  if (len == 4 && c == 0xF4 && byte(i + 1) >= 0x90) return 0;  // beyond U+10FFFF
  return len;
}

}  // namespace

void appendPythonStringRepr(std::string& out, std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  out.push_back(quote);
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default:
          if (c == static_cast<unsigned char>(quote)) {
            out.push_back('\\');
            out.push_back(static_cast<char>(c));
          } else if (c < 0x20 || c == 0x7F) {
            fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    std::size_t len = utf8Length(s, i);
    bool c1_control = len == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0xA0;
    if (len == 0) {
      // Not valid UTF-8: shown byte by byte, as Python shows undecodable bytes.
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", c);
      ++i;
    } else if (c1_control) {
      fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned char>(s[i + 1]));
      i += 2;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  out.push_back(quote);
}

void appendPythonFloatRepr(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("nan");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "inf" : "-inf");
    return;
  }
  std::string text = fmt::format("{}", v);
  if (text.find_first_of(".e") == std::string::npos) text.append(".0");
  out.append(text);
}

}  // namespace sluice::detail
